// What the deploy pipeline's services share: topic names, protobuf records with CloudEvents
// headers, content hashes, and the consumer worker each service runs.
#pragma once

#include <google/protobuf/message.h>

#include <chrono>
#include <memory>
#include <optional>
#include <stop_token>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "optimus/bus/bus.h"
#include "optimus/bus/consumer_loop.h"
#include "optimus/bus/message.h"
#include "optimus/events/v1/deployment.pb.h"
#include "optimus/events/v1/jobs.pb.h"
#include "optimus/spec/model.h"
#include "optimus/store/database.h"
#include "optimus/store/exactly_once.h"
#include "optimus/store/outbox.h"

namespace optimus::pipeline {

inline constexpr char kSubmissionsTopic[] = "optimus.spec.submissions";
inline constexpr char kJobSpecsTopic[] = "optimus.job.specs";
inline constexpr char kProjectsTopic[] = "optimus.projects";
inline constexpr char kPluginsTopic[] = "optimus.plugins";
inline constexpr char kResolutionsTopic[] = "optimus.job.resolutions";
inline constexpr char kDagsTopic[] = "optimus.dags";
inline constexpr char kProgressTopic[] = "optimus.deployments.progress";
inline constexpr char kStoredTopic[] = "optimus.deployments.stored";
inline constexpr char kSecretsTopic[] = "optimus.secrets";  // sealed values only
inline constexpr char kJobRunsTopic[] = "optimus.job.runs";
// Requests to run jobs and catalog tasks (scheduler, replay, backfill) for the dispatcher.
inline constexpr char kExecutionRequestsTopic[] = "optimus.executions.requests";

// On tombstones (which have no payload): the deployment that deleted the job. Also on job
// submissions, with kJobHeader, so a submission whose payload cannot be read is still
// reported to its deployment.
inline constexpr char kDeploymentHeader[] = "optimus_deployment_id";
inline constexpr char kJobHeader[] = "optimus_job";

// Creates every pipeline topic (compacted where the design says so) and its dead-letter topic.
absl::Status EnsurePipelineTopics(bus::Bus& bus);

// A record carrying `message` (ce_type = its full protobuf name, ce_subject = key).
bus::OutgoingMessage ProtoRecord(std::string topic, std::string key,
                                 const google::protobuf::Message& message);
// A delete marker for `key` on a compacted topic.
bus::OutgoingMessage Tombstone(std::string topic, std::string key, std::string_view type);

// Parses a record's payload; InvalidArgument (poison: it goes to the dead-letter topic) when the
// bytes are not a `T`.
template <typename T>
absl::StatusOr<T> ParseRecord(const bus::Message& message) {
  T out;
  if (!out.ParseFromString(message.payload)) {
    return absl::InvalidArgumentError(
        "record at " + message.topic + "/" + std::to_string(message.partition) + "@" +
        std::to_string(message.offset) + " is not a " + std::string(T::descriptor()->full_name()));
  }
  return out;
}

// A progress record for one job of a deployment (key: the deployment id).
bus::OutgoingMessage ProgressRecord(const std::string& deployment_id, const std::string& project,
                                    const std::string& namespace_name, const std::string& job,
                                    events::v1::Stage stage, const std::string& reporter,
                                    const std::string& error = "", bool cascaded = false,
                                    const std::string& warning = "");

std::string JobKey(std::string_view project, std::string_view job);

// The progress record that tells a job's deployment its record was set aside (sent to the
// dead-letter topic) by `reporter`, for a job-specs or resolutions record that names its
// deployment; nothing for other records, or records of no deployment.
std::optional<bus::OutgoingMessage> DeadLetterProgress(const bus::Message& message,
                                                       const absl::Status& error,
                                                       const std::string& reporter);
// Publishes DeadLetterProgress (if any) through `outbox`; a failure is logged (it is called
// from a consumer's dead-letter hook, which cannot fail).
void ReportSetAside(store::Database& db, const store::Outbox& outbox, const bus::Message& message,
                    const absl::Status& error, const std::string& reporter);

// Keeps the latest record of a compacted topic in a service's table `table` (columns: the key
// column `key_column`, then `record`): inserted, or replaced when the key is there.
absl::Status SaveRecord(store::Transaction& tx, std::string_view table, std::string_view key_column,
                        const std::string& key, const std::string& payload);

// The plugin a plugins-topic record carries; InvalidArgument (poison) when its YAML does not
// load as a plugin.
absl::StatusOr<spec::PluginSpec> PluginFromRecord(const events::v1::PluginRecord& record);
std::string Sha256Hex(std::string_view data);

// A consumer group applying records exactly once, in its own thread: each polled batch in one
// transaction (store::ApplyBatchExactlyOnce), falling back to record by record to isolate a
// poison one, which is dead-lettered.
class ConsumerWorker {
 public:
  struct Options {
    std::string group;  // also the exactly-once bookkeeping name
    std::vector<std::string> topics;
    size_t batch_size = 500;
    // A backlog is applied in batches of up to max_batch records gathered for at most
    // max_linger (see bus::ConsumerLoopOptions): fewer, larger transactions during a big
    // deploy, and each job resolved once with more of its upstreams present.
    size_t max_batch = 5000;
    std::chrono::milliseconds max_linger{500};
    // Called once per applied batch, after its transaction committed (outside it): for work
    // that must follow the commit, like waking watchers. May be empty.
    std::function<void()> after_commit;
    // Called when a batch or a record failed and its transaction rolled back: for state kept
    // in memory next to the database, which must be reloaded. An error (the database is away)
    // leaves the state stale: the worker calls it again before the next batch, record or idle
    // call, and runs none of them until it succeeds. May be empty.
    std::function<absl::Status()> after_failure;
    // Runs inside each batch's (or record's) transaction after its effects, before commit.
    store::BeforeCommit before_commit;
    // Called on the worker's thread when a poll finds nothing (see ConsumerLoopOptions).
    std::function<void()> on_idle;
    // What the effect depends on besides the database (e.g. the compiler's object store),
    // checked with the database after a failed attempt: while either fails, the failure is an
    // outage, and the record is kept and retried instead of dead-lettered (see
    // bus::ConsumerLoopOptions::dependencies). May be empty.
    std::function<absl::Status()> dependencies;
    // Called after a poison record went to `<topic>.dlq` (see ConsumerLoopOptions).
    std::function<void(const bus::Message&, const absl::Status&)> on_dead_letter;
    // Which records the effect acts on. Those it turns down are passed over with no
    // transaction and no bookkeeping: with no effect there is nothing to apply once (a topic
    // shared with other services' records costs a write per record otherwise). It must want a
    // record it cannot read, so that the effect reports it. May be empty: all are wanted.
    std::function<bool(const bus::Message&)> wanted;
  };

  ConsumerWorker(bus::Bus& bus, store::Database& db, Options options, store::Effect effect);
  ~ConsumerWorker();

  absl::Status Start();
  void Stop();
  uint64_t processed() const { return loop_ ? loop_->processed() : 0; }
  uint64_t dead_lettered() const { return loop_ ? loop_->dead_lettered() : 0; }

 private:
  bus::Bus& bus_;
  store::Database& db_;
  Options options_;
  store::Effect effect_;
  std::unique_ptr<bus::Consumer> consumer_;
  std::unique_ptr<bus::Publisher> dead_letters_;
  struct Series;  // its Prometheus series (optimus_pipeline_*{group})
  std::shared_ptr<Series> series_;
  std::unique_ptr<bus::ConsumerLoop> loop_;
  bool stale_ = false;  // after_failure has not succeeded since the last rollback
  std::jthread thread_;
};

}  // namespace optimus::pipeline
