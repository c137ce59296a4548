#include "optimus/dependency_resolver/arrivals.h"

#include <algorithm>

namespace optimus::dependency_resolver {

void Arrivals::SpecArrived(const std::string& deployment_id, absl::Time now) {
  if (deployment_id.empty() || done_.count(deployment_id) > 0) return;
  ++deployments_[deployment_id].arrived;
  changed_.insert(deployment_id);
  last_arrival_ = now;
}

void Arrivals::Stored(const events::v1::DeploymentStored& stored, absl::Time now) {
  const std::string& id = stored.deployment_id();
  if (id.empty() || done_.count(id) > 0) return;
  Deployment& d = deployments_[id];
  d.expected = stored.job_specs();
  d.batch = stored.batch_id().empty() ? id : stored.batch_id();
  Batch& b = batches_[d.batch];
  b.size = std::max(stored.batch_size(), 1);
  b.stored.insert(id);
  changed_.insert(id);
  last_arrival_ = now;
}

bool Arrivals::Complete(const Batch& batch) const {
  if (static_cast<int32_t>(batch.stored.size()) < batch.size) return false;
  for (const std::string& id : batch.stored) {
    const Deployment& d = deployments_.at(id);
    if (d.arrived < d.expected) return false;
  }
  return true;
}

void Arrivals::Update(absl::Time now) {
  for (auto it = done_.begin(); it != done_.end();) {
    it = now - it->second > forget_after_ ? done_.erase(it) : std::next(it);
  }
  const bool quiet = now - last_arrival_ > forget_after_;
  for (auto it = batches_.begin(); it != batches_.end();) {
    if (!quiet && !Complete(it->second)) {
      ++it;
      continue;
    }
    for (const std::string& id : it->second.stored) {
      Drop(id);
      done_[id] = now;
    }
    it = batches_.erase(it);
  }
  if (quiet) {  // never stored, as far as this resolver heard
    while (!deployments_.empty()) Drop(deployments_.begin()->first);
  }
}

void Arrivals::Drop(const std::string& id) {
  deployments_.erase(id);
  changed_.erase(id);
  dropped_.insert(id);
}

Arrivals::Changes Arrivals::TakeChanges() {
  Changes out;
  for (const std::string& id : changed_) {
    const Deployment& d = deployments_.at(id);
    Row row{id, d.arrived, d.expected, d.batch, 1};
    if (auto b = batches_.find(d.batch); !d.batch.empty() && b != batches_.end()) {
      row.batch_size = b->second.size;
    }
    out.save.push_back(std::move(row));
  }
  for (const std::string& id : dropped_) {
    if (deployments_.count(id) == 0) out.drop.push_back(id);
  }
  changed_.clear();
  dropped_.clear();
  return out;
}

void Arrivals::Restore(const std::vector<Row>& rows, absl::Time now) {
  Clear();
  for (const Row& r : rows) {
    Deployment& d = deployments_[r.deployment_id];
    d.arrived = r.arrived;
    d.expected = r.expected;
    d.batch = r.batch;
    if (r.expected < 0 || r.batch.empty()) continue;
    Batch& b = batches_[r.batch];
    b.size = std::max(r.batch_size, 1);
    b.stored.insert(r.deployment_id);
  }
  if (!rows.empty()) last_arrival_ = now;
}

bool Arrivals::Expecting(absl::Time now) {
  Update(now);
  return !deployments_.empty();
}

void Arrivals::Clear() {
  deployments_.clear();
  batches_.clear();
  done_.clear();
  changed_.clear();
  dropped_.clear();
  last_arrival_ = absl::InfinitePast();
}

}  // namespace optimus::dependency_resolver
