// Drives a Consumer over any Bus: records handled in order, transient failures retried with
// backoff, poison records dead-lettered so a partition never blocks, offsets committed only after
// the effect.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <optional>
#include <stop_token>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "optimus/bus/bus.h"
#include "optimus/bus/message.h"

namespace optimus::bus {

// Applies one record. Must be idempotent: a record may be handled again after a crash or a
// rebalance. OK = done; InvalidArgument, FailedPrecondition or DataLoss = the record itself is bad
// (poison) and goes to the dead-letter topic at once; any other code is retried.
using MessageHandler = std::function<absl::Status(const Message&)>;

// Applies a whole polled batch at once (e.g. store::ApplyBatchExactlyOnce: one transaction for
// all of it). All or nothing: on any error the loop falls back to MessageHandler record by
// record, which isolates and dead-letters the poison one.
using BatchHandler = std::function<absl::Status(const std::vector<Message>&)>;

struct ConsumerLoopOptions {
  // The consumer's group, written on dead-lettered records.
  std::string group;
  // Handler calls per record before it is dead-lettered (at least 1).
  int max_attempts = 5;
  // Checks what the handler depends on (its database) after a failed, non-poison attempt.
  // While it fails, the failure is an outage, not the record's: the attempt does not count
  // towards max_attempts and the record is retried (backoff capped at max_backoff) until the
  // outage ends or the loop stops, so a database restart never sends good records to the
  // dead-letter topic. May be empty: every failed attempt counts.
  std::function<absl::Status()> dependencies;
  // Backoff after the n-th failed attempt: initial_backoff * 2^(n-1), capped at max_backoff.
  // Run uses the same schedule between failed RunOnce calls.
  std::chrono::milliseconds initial_backoff{100};
  std::chrono::milliseconds max_backoff{10000};
  // Most records taken by one Poll.
  size_t batch_size = 100;
  std::chrono::milliseconds poll_timeout{500};
  // A backlog is taken in larger batches: when a poll comes back full, the loop keeps polling
  // (each poll waiting at most 20 ms) up to max_batch records or for max_linger, and hands the
  // batch handler everything at once. A trickle (a poll that is not full) goes on at once, so a
  // single change is never delayed. 0: off.
  size_t max_batch = 0;
  std::chrono::milliseconds max_linger{0};
  // When set, each fresh poll is first offered whole to this handler (see BatchHandler).
  BatchHandler batch_handler;
  // Called after a record went to the dead-letter topic (before its offset is committed), with
  // the error that sent it there: for telling the record's owner (e.g. reporting a job failed).
  // Errors it meets are its own to handle; the record counts as finished either way.
  std::function<void(const Message&, const absl::Status&)> on_dead_letter;
  // Called on the loop's thread when a poll finds nothing: for work a consumer keeps back
  // while records keep coming. May be empty.
  std::function<void()> on_idle;
  // Receives every error Run recovers from (poll, commit, dead-letter publish). Unset: one line
  // on stderr.
  std::function<void(const absl::Status&)> on_error;
};

// True for the codes that mark a record as poison (no retry helps).
bool IsPoison(const absl::Status& status);

// The record that goes to DeadLetterTopic(message.topic): the same key, payload and headers
// (minus older optimus_dlq_* ones), plus the kDlq* headers describing origin and error.
OutgoingMessage DeadLetterRecord(const Message& message, const absl::Status& error, int attempts,
                                 const std::string& group);

// Not thread-safe: one thread drives it. The counters may be read from any thread.
// The dead-letter topics must exist (Bus::EnsureTopic) where the bus does not create topics on
// first publish.
class ConsumerLoop {
 public:
  // `consumer` must already be subscribed. Both references must outlive the loop.
  ConsumerLoop(Consumer& consumer, Publisher& dead_letters, MessageHandler handler,
               ConsumerLoopOptions options = {});

  // Finishes the records left by an interrupted call, or else handles one Poll's worth; then
  // commits, per partition, the last record finished. Returns how many records were finished
  // (handled or dead-lettered). Stops between records when `stop` is requested; unfinished
  // records stay pending for the next call (never skipped). Errors: Poll's, a failed commit,
  // a failed dead-letter publish (that record stays pending), or Cancelled when `stop` came
  // during a retry backoff.
  absl::StatusOr<size_t> RunOnce(std::stop_token stop = {});

  // Calls RunOnce until `stop` is requested, then returns OK. Errors go to options.on_error and
  // are followed by a backoff; Internal and FailedPrecondition (an unusable or closed client) end
  // the loop and are returned. Signal handling is the caller's: request `stop` on SIGTERM.
  absl::Status Run(std::stop_token stop);

  uint64_t processed() const { return processed_.load(); }
  // Handler calls that were retries (a record that succeeds on its 3rd attempt counts 2).
  uint64_t retried() const { return retried_.load(); }
  uint64_t dead_lettered() const { return dead_lettered_.load(); }

 private:
  // Handles pending_.front() to completion: OK once handled or dead-lettered.
  absl::Status FinishFront(std::stop_token stop);
  std::chrono::milliseconds Backoff(int failures) const;
  void ReportError(const absl::Status& status) const;

  Consumer& consumer_;
  Publisher& dead_letters_;
  const MessageHandler handler_;
  const ConsumerLoopOptions options_;

  std::deque<Message> pending_;             // Polled, not finished yet, in log order.
  int front_attempts_ = 0;                  // Handler calls made on pending_.front().
  int outage_waits_ = 0;                    // Consecutive failed attempts met by an outage.
  std::optional<absl::Status> front_dead_;  // Set once pending_.front() is bound for the DLQ.

  std::atomic<uint64_t> processed_{0};
  std::atomic<uint64_t> retried_{0};
  std::atomic<uint64_t> dead_lettered_{0};
};

}  // namespace optimus::bus
