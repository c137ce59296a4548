// The consume / retry / dead-letter / commit cycle shared by every service, whatever the bus.
#include "optimus/bus/consumer_loop.h"

#include <condition_variable>
#include <iostream>
#include <map>
#include <mutex>
#include <thread>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"

namespace optimus::bus {
namespace {

// Long handler errors (stack-like messages) would bloat every dead-lettered record.
constexpr size_t kMaxErrorHeaderBytes = 4096;
constexpr char kDlqHeaderPrefix[] = "optimus_dlq_";

// Sleeps `duration` or until `stop` is requested; false when stopped.
bool SleepUnlessStopped(std::chrono::milliseconds duration, const std::stop_token& stop) {
  if (!stop.stop_possible()) {
    std::this_thread::sleep_for(duration);
    return true;
  }
  std::mutex mu;
  std::condition_variable_any cv;
  std::unique_lock lock(mu);
  cv.wait_for(lock, stop, duration, [] { return false; });
  return !stop.stop_requested();
}

// Retries through an outage at most this far apart, so work resumes soon after it ends.
constexpr std::chrono::milliseconds kOutageRetryCap{2000};

std::string Position(const Message& m) {
  return absl::StrCat(m.topic, "/", m.partition, "@", m.offset);
}

}  // namespace

bool IsPoison(const absl::Status& status) {
  switch (status.code()) {
    case absl::StatusCode::kInvalidArgument:
    case absl::StatusCode::kFailedPrecondition:
    case absl::StatusCode::kDataLoss:
      return true;
    default:
      return false;
  }
}

OutgoingMessage DeadLetterRecord(const Message& message, const absl::Status& error, int attempts,
                                 const std::string& group) {
  OutgoingMessage out;
  out.topic = DeadLetterTopic(message.topic);
  out.key = message.key;
  out.payload = message.payload;
  for (const Header& h : message.headers) {
    // A record replayed from a DLQ and failing again describes its new failure only.
    if (!absl::StartsWith(h.first, kDlqHeaderPrefix)) out.headers.push_back(h);
  }
  std::string error_text = error.ToString();
  if (error_text.size() > kMaxErrorHeaderBytes) error_text.resize(kMaxErrorHeaderBytes);
  out.headers.emplace_back(kDlqOriginTopic, message.topic);
  out.headers.emplace_back(kDlqOriginPartition, std::to_string(message.partition));
  out.headers.emplace_back(kDlqOriginOffset, std::to_string(message.offset));
  out.headers.emplace_back(kDlqError, std::move(error_text));
  out.headers.emplace_back(kDlqAttempts, std::to_string(attempts));
  out.headers.emplace_back(kDlqConsumerGroup, group);
  return out;
}

ConsumerLoop::ConsumerLoop(Consumer& consumer, Publisher& dead_letters, MessageHandler handler,
                           ConsumerLoopOptions options)
    : consumer_(consumer),
      dead_letters_(dead_letters),
      handler_(std::move(handler)),
      options_(std::move(options)) {}

std::chrono::milliseconds ConsumerLoop::Backoff(int failures) const {
  std::chrono::milliseconds backoff = options_.initial_backoff;
  for (int i = 1; i < failures && backoff < options_.max_backoff; ++i) backoff *= 2;
  return std::min(backoff, options_.max_backoff);
}

void ConsumerLoop::ReportError(const absl::Status& status) const {
  if (options_.on_error) {
    options_.on_error(status);
  } else {
    std::cerr << "consumer loop (group " << options_.group << "): " << status << std::endl;
  }
}

absl::Status ConsumerLoop::FinishFront(std::stop_token stop) {
  const Message& m = pending_.front();
  const int max_attempts = std::max(1, options_.max_attempts);
  while (!front_dead_.has_value()) {
    ++front_attempts_;
    absl::Status status = handler_(m);
    if (status.ok()) {
      ++processed_;
      outage_waits_ = 0;
      return absl::OkStatus();
    }
    if (!IsPoison(status) && options_.dependencies) {
      if (absl::Status outage = options_.dependencies(); !outage.ok()) {
        // Not the record's fault: this attempt does not count, and the wait grows as if it did.
        ReportError(absl::Status(outage.code(),
                                 absl::StrCat("keeping ", Position(m), " through an outage (",
                                              outage.message(), "): ", status.message())));
        ++outage_waits_;
        --front_attempts_;
        if (!SleepUnlessStopped(std::min(Backoff(outage_waits_), kOutageRetryCap), stop)) {
          return absl::CancelledError(absl::StrCat("stopped while ", Position(m),
                                                   " waited out an outage: ", outage.ToString()));
        }
        ++retried_;
        continue;
      }
    }
    outage_waits_ = 0;
    if (IsPoison(status) || front_attempts_ >= max_attempts) {
      front_dead_ = std::move(status);
      break;
    }
    if (!SleepUnlessStopped(Backoff(front_attempts_), stop)) {
      return absl::CancelledError(absl::StrCat("stopped while retrying ", Position(m), " after ",
                                               front_attempts_, " attempts: ", status.ToString()));
    }
    ++retried_;
  }
  // Publishing again after a failed publish may duplicate the DLQ record; duplicates are
  // harmless there, a lost poison record is not.
  if (absl::Status s =
          dead_letters_.Publish(DeadLetterRecord(m, *front_dead_, front_attempts_, options_.group));
      !s.ok()) {
    return absl::Status(s.code(), absl::StrCat("dead-lettering ", Position(m), " to ",
                                               DeadLetterTopic(m.topic), ": ", s.message()));
  }
  ++dead_lettered_;
  if (options_.on_dead_letter) options_.on_dead_letter(m, *front_dead_);
  return absl::OkStatus();
}

absl::StatusOr<size_t> ConsumerLoop::RunOnce(std::stop_token stop) {
  if (pending_.empty()) {
    const size_t batch_size = std::max<size_t>(1, options_.batch_size);
    auto polled = consumer_.Poll(options_.poll_timeout, batch_size);
    if (!polled.ok()) return polled.status();
    if (polled->empty()) {
      if (options_.on_idle && !stop.stop_requested()) options_.on_idle();
      return 0;
    }
    if (polled->size() >= batch_size && options_.max_batch > batch_size) {
      const auto until = std::chrono::steady_clock::now() + options_.max_linger;
      while (polled->size() < options_.max_batch && std::chrono::steady_clock::now() < until &&
             !stop.stop_requested()) {
        // A short wait rides over the gaps between a producer's batches.
        auto more = consumer_.Poll(std::chrono::milliseconds(20),
                                   std::min(batch_size, options_.max_batch - polled->size()));
        // An error ends the lingering, never the records in hand: a consumer like Kafka's has
        // moved past them and would not deliver them again. A lasting error comes back on the
        // next poll.
        if (!more.ok() || more->empty()) break;
        for (Message& m : *more) polled->push_back(std::move(m));
      }
    }
    if (options_.batch_handler && !polled->empty() && !stop.stop_requested()) {
      if (options_.batch_handler(*polled).ok()) {
        std::map<std::pair<std::string, int32_t>, const Message*> last;
        for (const Message& m : *polled) last[{m.topic, m.partition}] = &m;
        processed_.fetch_add(polled->size());
        for (const auto& [partition, message] : last) {
          if (absl::Status s = consumer_.Commit(*message); !s.ok()) return s;
        }
        return polled->size();
      }
      // Some record failed and the batch rolled back: go record by record to find it.
    }
    for (Message& m : *polled) pending_.push_back(std::move(m));
    front_attempts_ = 0;
    front_dead_.reset();
  }

  // The last finished record per partition: committing it covers everything before it.
  std::map<std::pair<std::string, int32_t>, Message> to_commit;
  size_t finished = 0;
  absl::Status interrupted;
  while (!pending_.empty() && !stop.stop_requested()) {
    if (absl::Status s = FinishFront(stop); !s.ok()) {
      interrupted = std::move(s);
      break;
    }
    Message done = std::move(pending_.front());
    pending_.pop_front();
    front_attempts_ = 0;
    front_dead_.reset();
    ++finished;
    auto key = std::make_pair(done.topic, done.partition);
    to_commit.insert_or_assign(std::move(key), std::move(done));
  }

  absl::Status commit_error;
  for (const auto& [partition, message] : to_commit) {
    if (absl::Status s = consumer_.Commit(message); !s.ok() && commit_error.ok()) {
      commit_error = std::move(s);
    }
  }
  if (!interrupted.ok()) return interrupted;
  if (!commit_error.ok()) return commit_error;
  return finished;
}

absl::Status ConsumerLoop::Run(std::stop_token stop) {
  int failures = 0;
  while (!stop.stop_requested()) {
    absl::StatusOr<size_t> result = RunOnce(stop);
    if (result.ok()) {
      failures = 0;
      continue;
    }
    if (stop.stop_requested()) break;
    const absl::StatusCode code = result.status().code();
    if (code == absl::StatusCode::kInternal || code == absl::StatusCode::kFailedPrecondition) {
      return result.status();
    }
    ReportError(result.status());
    failures = std::min(failures + 1, 32);
    SleepUnlessStopped(Backoff(failures), stop);
  }
  return absl::OkStatus();
}

}  // namespace optimus::bus
