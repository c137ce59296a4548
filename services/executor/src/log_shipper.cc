// The chunked, retrying log upload of one execution attempt (see log_shipper.h).
#include "optimus/executor/log_shipper.h"

namespace optimus::executor {

LogShipper::LogShipper(Send send, std::chrono::milliseconds interval)
    : send_(std::move(send)), interval_(interval) {
  thread_ = std::jthread([this](std::stop_token stop) { Loop(stop); });
}

LogShipper::~LogShipper() { Close(std::chrono::milliseconds(0)); }

void LogShipper::Write(std::string_view data) {
  std::lock_guard lock(mu_);
  pending_.append(data);
  if (pending_.size() >= kMaxChunk) cv_.notify_all();
}

bool LogShipper::FlushOnce() {
  std::lock_guard sending(send_mu_);
  for (;;) {
    if (lease_lost_) return true;  // nothing more will be accepted
    if (in_flight_.empty()) {
      std::lock_guard lock(mu_);
      if (pending_.empty()) return true;
      const size_t take = std::min(pending_.size(), kMaxChunk);
      in_flight_ = pending_.substr(0, take);
      pending_.erase(0, take);
    }
    absl::Status s = send_(next_chunk_, in_flight_);
    if (s.code() == absl::StatusCode::kFailedPrecondition) {
      lease_lost_ = true;
      return true;
    }
    if (!s.ok()) return false;  // kept: sent again under the same number
    in_flight_.clear();
    ++next_chunk_;
  }
}

void LogShipper::Loop(std::stop_token stop) {
  while (!stop.stop_requested()) {
    {
      std::unique_lock lock(mu_);
      cv_.wait_for(lock, stop, interval_, [this] { return pending_.size() >= kMaxChunk; });
    }
    if (stop.stop_requested()) return;  // what is left goes with Close or TakeRest
    FlushOnce();
  }
}

std::vector<std::pair<int64_t, std::string>> LogShipper::TakeRest() {
  if (thread_.joinable()) {
    thread_.request_stop();
    thread_.join();
  }
  std::lock_guard sending(send_mu_);
  std::lock_guard lock(mu_);
  std::string rest = std::move(in_flight_);
  rest += pending_;
  in_flight_.clear();
  pending_.clear();
  std::vector<std::pair<int64_t, std::string>> chunks;
  for (size_t at = 0; at < rest.size(); at += kMaxChunk) {
    chunks.emplace_back(next_chunk_++, rest.substr(at, kMaxChunk));
  }
  return chunks;
}

void LogShipper::Close(std::chrono::milliseconds patience) {
  if (thread_.joinable()) {
    thread_.request_stop();
    thread_.join();
  }
  const auto until = std::chrono::steady_clock::now() + patience;
  while (!FlushOnce() && std::chrono::steady_clock::now() < until) {
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
}

}  // namespace optimus::executor
