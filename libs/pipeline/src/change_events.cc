// Optimus-compatible change events: our job spec model in Optimus's JobSpecification.
#include "optimus/pipeline/change_events.h"

#include <tuple>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "google/protobuf/util/time_util.h"
#include "optimus/bus/cloudevents.h"
#include "optimus/pipeline/pipeline.h"
#include "optimus/schedule/time_util.h"

namespace optimus::pipeline {
namespace {

namespace core = ::gotocompany::optimus::core::v1beta1;
namespace integration = ::gotocompany::optimus::integration::v1beta1;

// Notify and webhook rules name events as Optimus's YAML does (failure, sla_miss,
// job_success...); the enum is TYPE_ and the upper-cased name. Others map to UNSPECIFIED, as
// in Optimus.
core::JobEvent::Type EventType(const std::string& on) {
  core::JobEvent::Type type = core::JobEvent::TYPE_UNSPECIFIED;
  std::string name = "TYPE_";
  for (char c : on) name += static_cast<char>(c >= 'a' && c <= 'z' ? c - 'a' + 'A' : c);
  core::JobEvent::Type_Parse(name, &type);
  return type;
}

void AddConfig(const spec::StringMap& config,
               google::protobuf::RepeatedPtrField<core::JobConfigItem>* out) {
  for (const auto& [name, value] : config) {
    auto* item = out->Add();
    item->set_name(name);
    item->set_value(value);
  }
}

// Everything of an alert, in one comparable string.
std::string AlertText(const spec::Alert& a) {
  std::string out = absl::StrCat(a.success_severity, "|", a.failure_severity, "|", a.team, "|",
                                 a.disable_anomaly_detection.value_or(false), "|");
  for (const auto& s : a.sla_miss) {
    absl::StrAppend(&out, "sla:", s.duration_threshold, ",", s.severity, ",", s.team, ",",
                    s.auto_threshold.value_or(false), ";");
  }
  for (const auto& r : a.retry)
    absl::StrAppend(&out, "retry:", r.count_threshold, ",", r.severity, ";");
  return out;
}

auto WindowFields(const spec::Window& w) {
  return std::tie(w.size, w.offset, w.shift_by, w.truncate_to, w.location, w.preset);
}

}  // namespace

OptimusJobSpecification ToOptimusJobSpecification(const spec::JobSpec& job,
                                                  const spec::StringMap& assets) {
  OptimusJobSpecification out;
  out.set_version(job.version);
  out.set_name(job.name);
  out.set_owner(job.owner);
  out.set_description(job.description);
  out.set_start_date(job.schedule.start_date);
  out.set_end_date(job.schedule.end_date);
  out.set_interval(job.schedule.interval);
  out.set_scheduler_state("enabled");
  out.set_depends_on_past(job.behavior.depends_on_past.value_or(false));
  out.set_catch_up(job.behavior.catch_up.value_or(false));
  out.set_task_name(job.task.name);
  AddConfig(job.task.config, out.mutable_config());
  const spec::Window& w = job.task.window;
  if (job.version >= 3) {
    auto* window = out.mutable_window();
    window->set_preset(w.preset);
    window->set_size(w.size);
    window->set_shift_by(w.shift_by);
    window->set_location(w.location);
    window->set_truncate_to(w.truncate_to);
  } else {
    out.set_window_size(w.size);
    out.set_window_offset(w.offset);
    out.set_window_truncate_to(w.truncate_to);
    out.set_window_preset(w.preset);
  }
  for (const spec::Dependency& d : job.dependencies) {
    auto* dep = out.add_dependencies();
    dep->set_name(d.job);
    dep->set_type(d.type);
    if (d.http) {
      auto* http = dep->mutable_http_dependency();
      http->set_name(d.http->name);
      http->set_url(d.http->url);
      http->mutable_headers()->insert(d.http->headers.begin(), d.http->headers.end());
      http->mutable_params()->insert(d.http->params.begin(), d.http->params.end());
    }
  }
  out.mutable_assets()->insert(assets.begin(), assets.end());
  for (const spec::Hook& h : job.hooks) {
    auto* hook = out.add_hooks();
    hook->set_name(h.name);
    AddConfig(h.config, hook->mutable_config());
  }
  out.mutable_labels()->insert(job.labels.begin(), job.labels.end());
  auto* behavior = out.mutable_behavior();
  if (job.behavior.retry.count || !job.behavior.retry.delay.empty() ||
      job.behavior.retry.exponential_backoff) {
    auto* retry = behavior->mutable_retry();
    retry->set_count(job.behavior.retry.count.value_or(0));
    retry->set_exponential_backoff(job.behavior.retry.exponential_backoff.value_or(false));
    if (auto delay = schedule::ParseGoDuration(job.behavior.retry.delay); delay.ok()) {
      const int64_t nanos = absl::ToInt64Nanoseconds(*delay);
      retry->mutable_delay()->set_seconds(nanos / 1000000000);
      retry->mutable_delay()->set_nanos(static_cast<int32_t>(nanos % 1000000000));
    }
  }
  for (const spec::Notify& n : job.behavior.notify) {
    auto* notify = behavior->add_notify();
    notify->set_on(EventType(n.on));
    for (const auto& c : n.channels) notify->add_channels(c);
    notify->mutable_config()->insert(n.config.begin(), n.config.end());
  }
  for (const spec::Webhook& wh : job.behavior.webhook) {
    auto* webhook = behavior->add_webhook();
    webhook->set_on(EventType(wh.on));
    for (const auto& e : wh.endpoints) {
      auto* endpoint = webhook->add_endpoints();
      endpoint->set_url(e.url);
      endpoint->mutable_headers()->insert(e.headers.begin(), e.headers.end());
    }
  }
  const spec::Metadata& m = job.metadata;
  if (!m.request.cpu.empty() || !m.request.memory.empty() || !m.limit.cpu.empty() ||
      !m.limit.memory.empty()) {
    auto* resource = out.mutable_metadata()->mutable_resource();
    resource->mutable_request()->set_cpu(m.request.cpu);
    resource->mutable_request()->set_memory(m.request.memory);
    resource->mutable_limit()->set_cpu(m.limit.cpu);
    resource->mutable_limit()->set_memory(m.limit.memory);
  }
  if (!m.airflow_pool.empty() || !m.airflow_queue.empty()) {
    out.mutable_metadata()->mutable_airflow()->set_pool(m.airflow_pool);
    out.mutable_metadata()->mutable_airflow()->set_queue(m.airflow_queue);
  }
  return out;
}

spec::StringMap InlineAssets(const events::v1::JobSpecRecord& record) {
  spec::StringMap out;
  for (const auto& a : record.assets()) {
    if (a.content_case() == events::v1::Asset::kInline) out[a.name()] = a.inline_();
  }
  return out;
}

ChangeImpact ImpactOf(const spec::JobSpec& before, const spec::StringMap& before_assets,
                      const spec::JobSpec& after, const spec::StringMap& after_assets) {
  const bool behaviour =
      before.schedule.interval != after.schedule.interval ||
      WindowFields(before.task.window) != WindowFields(after.task.window) ||
      before.task.name != after.task.name || before.task.version != after.task.version ||
      before.task.config != after.task.config ||
      AlertText(before.task.alert) != AlertText(after.task.alert) || before_assets != after_assets;
  return behaviour ? integration::CHANGE_IMPACT_TYPE_BEHAVIOUR
                   : integration::CHANGE_IMPACT_TYPE_INTERNAL;
}

bus::OutgoingMessage JobChangeRecord(OptimusChangeEvent::EventType type, const std::string& project,
                                     const std::string& namespace_name, const std::string& name,
                                     const spec::JobSpec* job, const spec::StringMap& assets,
                                     ChangeImpact impact) {
  OptimusChangeEvent event;
  event.set_event_id(bus::NewEventId());
  *event.mutable_occurred_at() =
      google::protobuf::util::TimeUtil::NanosecondsToTimestamp(absl::ToUnixNanos(absl::Now()));
  event.set_project_name(project);
  event.set_namespace_name(namespace_name);
  event.set_event_type(type);
  event.set_job_name(name);
  auto* change = event.mutable_job_change();
  change->set_job_name(name);
  change->set_change_impact(impact);
  if (job != nullptr) *change->mutable_job_spec() = ToOptimusJobSpecification(*job, assets);
  return ProtoRecord(kChangesTopic, JobKey(project, name), event);
}

}  // namespace optimus::pipeline
