// Topics, records and the consumer worker of the deploy pipeline.
#include "optimus/pipeline/pipeline.h"

#include <openssl/sha.h>
#include <prometheus/counter.h>
#include <prometheus/histogram.h>
#include <pthread.h>

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "google/protobuf/timestamp.pb.h"
#include "google/protobuf/util/time_util.h"
#include "optimus/pipeline/change_events.h"
#include "optimus/spec/loaders.h"
#include "optimus/telemetry/log.h"
#include "optimus/telemetry/metrics.h"

namespace optimus::pipeline {

absl::Status EnsurePipelineTopics(bus::Bus& bus) {
  struct Spec {
    const char* topic;
    bool compacted;
  };
  static constexpr Spec kTopics[] = {
      {kSubmissionsTopic, false}, {kJobSpecsTopic, true},    {kProjectsTopic, true},
      {kPluginsTopic, true},      {kResolutionsTopic, true}, {kDagsTopic, true},
      {kProgressTopic, false},    {kChangesTopic, false},    {kSecretsTopic, true},
      {kJobRunsTopic, false},     {kStoredTopic, false},     {kExecutionRequestsTopic, false}};
  for (const Spec& spec : kTopics) {
    bus::TopicConfig config;
    config.compacted = spec.compacted;
    if (absl::Status s = bus.EnsureTopic(spec.topic, config); !s.ok()) return s;
    if (absl::Status s = bus.EnsureTopic(bus::DeadLetterTopic(spec.topic), bus::TopicConfig{});
        !s.ok()) {
      return s;
    }
  }
  return absl::OkStatus();
}

bus::OutgoingMessage ProtoRecord(std::string topic, std::string key,
                                 const google::protobuf::Message& message) {
  bus::OutgoingMessage out;
  out.topic = std::move(topic);
  out.payload = message.SerializeAsString();
  out.headers = {{bus::kCeType, std::string(message.GetDescriptor()->full_name())},
                 {bus::kCeSubject, key},
                 {bus::kContentType, "application/protobuf"}};
  out.key = std::move(key);
  return out;
}

bus::OutgoingMessage Tombstone(std::string topic, std::string key, std::string_view type) {
  bus::OutgoingMessage out;
  out.topic = std::move(topic);
  out.headers = {{bus::kCeType, std::string(type) + ".Deleted"}, {bus::kCeSubject, key}};
  out.key = std::move(key);
  out.tombstone = true;
  return out;
}

bus::OutgoingMessage ProgressRecord(const std::string& deployment_id, const std::string& project,
                                    const std::string& namespace_name, const std::string& job,
                                    events::v1::Stage stage, const std::string& reporter,
                                    const std::string& error, bool cascaded,
                                    const std::string& warning) {
  events::v1::DeploymentProgress p;
  p.set_deployment_id(deployment_id);
  p.set_project(project);
  p.set_namespace_(namespace_name);
  p.set_job_name(job);
  p.set_stage(stage);
  p.set_error(error);
  p.set_reporter(reporter);
  p.set_cascaded(cascaded);
  p.set_warning(warning);
  *p.mutable_at() = google::protobuf::util::TimeUtil::GetCurrentTime();
  return ProtoRecord(kProgressTopic, deployment_id, p);
}

std::optional<bus::OutgoingMessage> DeadLetterProgress(const bus::Message& message,
                                                       const absl::Status& error,
                                                       const std::string& reporter) {
  const std::string why = absl::StrCat("set aside by ", reporter, " on ",
                                       bus::DeadLetterTopic(message.topic), ": ", error.message());
  const auto report = [&](const auto& record) -> std::optional<bus::OutgoingMessage> {
    if (record.deployment_id().empty()) return std::nullopt;
    return ProgressRecord(record.deployment_id(), record.project(), record.namespace_(),
                          record.name(), events::v1::STAGE_FAILED, reporter, why);
  };
  if (message.tombstone) return std::nullopt;
  if (message.topic == kJobSpecsTopic) {
    events::v1::JobSpecRecord record;
    if (record.ParseFromString(message.payload)) return report(record);
  } else if (message.topic == kResolutionsTopic) {
    events::v1::JobResolution record;
    if (record.ParseFromString(message.payload)) return report(record);
  }
  return std::nullopt;
}

void ReportSetAside(store::Database& db, const store::Outbox& outbox, const bus::Message& message,
                    const absl::Status& error, const std::string& reporter) {
  auto progress = DeadLetterProgress(message, error, reporter);
  if (!progress) return;
  absl::Status s =
      db.InTransaction([&](store::Transaction& tx) { return outbox.Enqueue(tx, *progress); });
  if (!s.ok()) {
    LOG_ERROR("cannot tell a deployment that its job was set aside",
              {{"topic", message.topic}, {"key", message.key}, {"error", s}});
  }
}

std::string JobKey(std::string_view project, std::string_view job) {
  std::string out(project);
  out += '/';
  out += job;
  return out;
}

absl::Status SaveRecord(store::Transaction& tx, std::string_view table, std::string_view key_column,
                        const std::string& key, const std::string& payload) {
  const std::string column(key_column);
  auto saved = tx.Execute("INSERT INTO " + std::string(table) + " (" + column +
                              ", record) VALUES ($1, $2) ON CONFLICT (" + column +
                              ") DO UPDATE SET record = excluded.record",
                          {key, store::Blob{payload}});
  return saved.ok() ? absl::OkStatus() : saved.status();
}

absl::StatusOr<spec::PluginSpec> PluginFromRecord(const events::v1::PluginRecord& record) {
  spec::Diagnostics d;
  auto plugin = spec::LoadPluginSpec(record.name(), record.spec_yaml(), d);
  if (!plugin || d.HasErrors()) {
    return absl::InvalidArgumentError("plugin " + record.name() +
                                      " does not load: " + d.ToString());
  }
  return *std::move(plugin);
}

std::string Sha256Hex(std::string_view data) {
  unsigned char digest[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(data.data()), data.size(), digest);
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(2 * SHA256_DIGEST_LENGTH);
  for (unsigned char b : digest) {
    out += kHex[b >> 4];
    out += kHex[b & 0xF];
  }
  return out;
}

// The series of one consumer group, registered once per worker (families merge by name).
struct ConsumerWorker::Series {
  explicit Series(const std::string& group) {
    prometheus::Registry& registry = telemetry::Metrics();
    const prometheus::Labels labels{{"group", group}};
    records = &prometheus::BuildCounter()
                   .Name("optimus_pipeline_records_total")
                   .Help("Records a pipeline consumer group applied, by group.")
                   .Register(registry)
                   .Add(labels);
    dead_letters = &prometheus::BuildCounter()
                        .Name("optimus_pipeline_dead_letters_total")
                        .Help("Poison records a consumer group sent to a dead-letter topic.")
                        .Register(registry)
                        .Add(labels);
    failures = &prometheus::BuildCounter()
                    .Name("optimus_pipeline_batch_failures_total")
                    .Help("Batches or records whose transaction rolled back, by group.")
                    .Register(registry)
                    .Add(labels);
    batch_seconds = &prometheus::BuildHistogram()
                         .Name("optimus_pipeline_batch_duration_seconds")
                         .Help("Time to apply one polled batch in its transaction, by group.")
                         .Register(registry)
                         .Add(labels, telemetry::LatencyBucketsSeconds());
    record_age = &prometheus::BuildHistogram()
                      .Name("optimus_pipeline_record_age_seconds")
                      .Help(
                          "Age of each record when its group applied it (publish to apply): "
                          "how far behind the group runs.")
                      .Register(registry)
                      .Add(labels, telemetry::LatencyBucketsSeconds());
  }

  void Applied(const std::vector<bus::Message>& batch, double seconds) {
    batch_seconds->Observe(seconds);
    records->Increment(static_cast<double>(batch.size()));
    const int64_t now_ms = absl::ToUnixMillis(absl::Now());
    for (const bus::Message& m : batch) {
      if (m.timestamp_ms > 0)
        record_age->Observe(std::max<int64_t>(0, now_ms - m.timestamp_ms) / 1e3);
    }
  }

  prometheus::Counter* records;
  prometheus::Counter* dead_letters;
  prometheus::Counter* failures;
  prometheus::Histogram* batch_seconds;
  prometheus::Histogram* record_age;
};

ConsumerWorker::ConsumerWorker(bus::Bus& bus, store::Database& db, Options options,
                               store::Effect effect)
    : bus_(bus),
      db_(db),
      options_(std::move(options)),
      effect_(std::move(effect)),
      series_(std::make_shared<Series>(options_.group)) {}

ConsumerWorker::~ConsumerWorker() { Stop(); }

absl::Status ConsumerWorker::Start() {
  auto consumer = bus_.NewConsumer(options_.group);
  if (!consumer.ok()) return consumer.status();
  consumer_ = *std::move(consumer);
  if (absl::Status s = consumer_->Subscribe(options_.topics); !s.ok()) return s;
  auto publisher = bus_.NewPublisher();
  if (!publisher.ok()) return publisher.status();
  dead_letters_ = *std::move(publisher);
  bus::ConsumerLoopOptions loop_options;
  loop_options.group = options_.group;
  loop_options.batch_size = options_.batch_size;
  loop_options.max_batch = options_.max_batch;
  loop_options.max_linger = options_.max_linger;
  // A record that fails while the database (or what else the effect needs) is away is kept,
  // not dead-lettered.
  loop_options.dependencies = [this] {
    if (absl::Status s = db_.Ping(); !s.ok()) return s;
    return options_.dependencies ? options_.dependencies() : absl::OkStatus();
  };
  loop_options.poll_timeout = std::chrono::milliseconds(200);
  // The state a service keeps next to its database is rebuilt after every rollback; until that
  // succeeds (the database may be the thing that failed) nothing runs on it: no record, no
  // batch and no idle work, each of which returns or skips with the reason.
  auto restored = [this]() -> absl::Status {
    if (!stale_) return absl::OkStatus();
    if (options_.after_failure) {
      if (absl::Status s = options_.after_failure(); !s.ok()) {
        return absl::Status(s.code(),
                            absl::StrCat("restoring the state after a rollback: ", s.message()));
      }
    }
    stale_ = false;
    return absl::OkStatus();
  };
  loop_options.on_idle = [restored, idle = options_.on_idle] {
    if (idle && restored().ok()) idle();
  };
  // After a batch (or one record) was applied or rolled back: its metrics and hooks.
  auto finish = [this, restored](const absl::Status& s, const std::vector<bus::Message>& batch,
                                 absl::Time start) {
    if (s.ok()) {
      series_->Applied(batch, absl::ToDoubleSeconds(absl::Now() - start));
      if (options_.after_commit) options_.after_commit();
    } else {
      series_->failures->Increment();
      stale_ = true;
      if (absl::Status r = restored(); !r.ok()) {
        LOG_ERROR("cannot restore the state after a rollback; retrying before the next record",
                  {{"group", options_.group}, {"error", r}});
      }
    }
    return s;
  };
  loop_options.batch_handler = [this, finish, restored](const std::vector<bus::Message>& batch) {
    if (absl::Status s = restored(); !s.ok()) return s;
    const absl::Time start = absl::Now();
    if (!options_.wanted) {
      return finish(
          store::ApplyBatchExactlyOnce(db_, options_.group, batch, effect_, options_.before_commit),
          batch, start);
    }
    std::vector<bus::Message> wanted;
    for (const bus::Message& m : batch) {
      if (options_.wanted(m)) wanted.push_back(m);
    }
    if (wanted.empty()) {
      series_->Applied(batch, absl::ToDoubleSeconds(absl::Now() - start));
      return absl::OkStatus();
    }
    absl::Status s =
        store::ApplyBatchExactlyOnce(db_, options_.group, wanted, effect_, options_.before_commit);
    return finish(s, s.ok() ? batch : wanted, start);
  };
  loop_options.on_dead_letter = [series = series_, report = options_.on_dead_letter](
                                    const bus::Message& m, const absl::Status& error) {
    series->dead_letters->Increment();
    if (report) report(m, error);
  };
  loop_options.on_error = [group = options_.group](const absl::Status& status) {
    LOG_WARN("consumer error, retrying", {{"group", group}, {"error", status}});
  };
  auto single = store::ExactlyOnce(db_, options_.group, effect_, options_.before_commit);
  loop_ = std::make_unique<bus::ConsumerLoop>(
      *consumer_, *dead_letters_,
      [this, single, finish, restored](const bus::Message& m) {
        if (absl::Status s = restored(); !s.ok()) return s;
        const absl::Time start = absl::Now();
        if (options_.wanted && !options_.wanted(m)) {
          series_->Applied({m}, absl::ToDoubleSeconds(absl::Now() - start));
          return absl::OkStatus();
        }
        return finish(single(m), {m}, start);
      },
      loop_options);
  thread_ = std::jthread([this](std::stop_token stop) {
    // Named after the group, so top -H and perf tell the consumers apart.
    pthread_setname_np(pthread_self(), options_.group.substr(0, 15).c_str());
    if (absl::Status s = loop_->Run(stop); !s.ok()) {
      LOG_ERROR("consumer stopped", {{"group", options_.group}, {"error", s}});
    }
  });
  return absl::OkStatus();
}

void ConsumerWorker::Stop() {
  if (thread_.joinable()) {
    thread_.request_stop();
    thread_.join();
  }
  if (consumer_) consumer_->Close();
}

}  // namespace optimus::pipeline
