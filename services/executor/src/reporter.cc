// Batched reports to the dispatcher (see reporter.h).
#include "optimus/executor/reporter.h"

namespace optimus::executor {

// One caller's group of items.
struct Reporter::Pending {
  std::vector<core::v1::ReportItem> items;
  size_t bytes = 0;
  int run_inputs = 0;
  bool done = false;
  std::vector<Answer> answers;
  std::condition_variable answered;
};

Reporter::Reporter(Send send, Limits limits) : send_(std::move(send)), limits_(limits) {
  for (int i = 0; i < std::max(1, limits_.senders); ++i) senders_.emplace_back([this] { Loop(); });
}

Reporter::~Reporter() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
    queued_.notify_all();
  }
  for (auto& t : senders_) t.join();
  std::lock_guard lock(mu_);
  for (auto& p : queue_) {
    p->answers.assign(p->items.size(), Answer{grpc::Status(grpc::StatusCode::CANCELLED,
                                                           "the executor is stopping")});
    p->done = true;
    p->answered.notify_all();
  }
}

int64_t Reporter::calls() const {
  std::lock_guard lock(mu_);
  return calls_;
}

size_t Reporter::queued() const {
  std::lock_guard lock(mu_);
  return queue_.size();
}

std::vector<Reporter::Answer> Reporter::Call(std::vector<core::v1::ReportItem> items) {
  auto p = std::make_shared<Pending>();
  for (const auto& item : items) {
    p->bytes += item.ByteSizeLong();
    if (item.item_case() == core::v1::ReportItem::kRunInput) ++p->run_inputs;
  }
  p->items = std::move(items);
  std::unique_lock lock(mu_);
  if (stopping_) {
    return std::vector<Answer>(p->items.size(), Answer{grpc::Status(grpc::StatusCode::CANCELLED,
                                                                    "the executor is stopping")});
  }
  queue_.push_back(p);
  queued_.notify_one();
  p->answered.wait(lock, [&] { return p->done; });
  return std::move(p->answers);
}

grpc::Status Reporter::Call(core::v1::ReportItem item, core::v1::JobRunInputResponse* input) {
  std::vector<core::v1::ReportItem> items;
  items.push_back(std::move(item));
  std::vector<Answer> answers = Call(std::move(items));
  if (input != nullptr && answers[0].status.ok()) *input = std::move(answers[0].run_input);
  return answers[0].status;
}

void Reporter::Loop() {
  std::unique_lock lock(mu_);
  for (;;) {
    queued_.wait(lock, [&] { return stopping_ || !queue_.empty(); });
    if (stopping_) return;
    // Take whole groups while they fit the limits (the first one always goes).
    std::vector<std::shared_ptr<Pending>> batch;
    size_t items = 0, bytes = 0;
    int inputs = 0;
    while (!queue_.empty()) {
      const Pending& next = *queue_.front();
      if (!batch.empty() && (items + next.items.size() > static_cast<size_t>(limits_.max_items) ||
                             bytes + next.bytes > limits_.max_bytes ||
                             inputs + next.run_inputs > limits_.max_run_inputs)) {
        break;
      }
      items += next.items.size();
      bytes += next.bytes;
      inputs += next.run_inputs;
      batch.push_back(std::move(queue_.front()));
      queue_.pop_front();
    }
    if (!queue_.empty()) queued_.notify_one();  // another sender may take the rest
    ++calls_;
    lock.unlock();

    core::v1::ReportRequest request;
    request.mutable_items()->Reserve(static_cast<int>(items));
    for (auto& p : batch) {
      for (const auto& item : p->items) *request.add_items() = item;
    }
    core::v1::ReportResponse response;
    grpc::Status status = send_(request, &response);
    if (status.ok() && response.results_size() != static_cast<int>(items)) {
      status = grpc::Status(grpc::StatusCode::INTERNAL,
                            "the dispatcher answered " + std::to_string(response.results_size()) +
                                " of " + std::to_string(items) + " report items");
    }

    lock.lock();
    int at = 0;
    for (auto& p : batch) {
      p->answers.resize(p->items.size());
      for (Answer& a : p->answers) {
        if (!status.ok()) {
          a.status = status;
        } else {
          core::v1::ReportResult& r = *response.mutable_results(at);
          a.status = grpc::Status(static_cast<grpc::StatusCode>(r.code()), r.message());
          if (a.status.ok() && r.has_run_input()) a.run_input = std::move(*r.mutable_run_input());
        }
        ++at;
      }
      p->done = true;
      p->answered.notify_all();
    }
  }
}

}  // namespace optimus::executor
