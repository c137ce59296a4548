// Emitting a JobSpec as block-style YAML, every scalar quoted only when it must be.
#include "optimus/spec/writer.h"

#include "optimus/spec/yaml_text.h"

namespace optimus::spec {
namespace {

class Out {
 public:
  void Line(int indent, const std::string& text) {
    text_.append(static_cast<size_t>(indent), ' ');
    text_ += text;
    text_ += '\n';
  }
  void Field(int indent, const char* key, const std::string& value) {
    if (!value.empty()) Line(indent, std::string(key) + ": " + YamlScalar(value));
  }
  void Bool(int indent, const char* key, const std::optional<bool>& value) {
    if (value) Line(indent, std::string(key) + ": " + (*value ? "true" : "false"));
  }
  void Map(int indent, const char* key, const StringMap& map) {
    if (map.empty()) return;
    Line(indent, std::string(key) + ":");
    for (const auto& [k, v] : map) Line(indent + 2, YamlScalar(k) + ": " + YamlScalar(v));
  }
  void Alert(int indent, const spec::Alert& a) {
    if (a.empty()) return;
    Line(indent, "alert:");
    if (!a.sla_miss.empty()) {
      Line(indent + 2, "sla_miss:");
      for (const auto& s : a.sla_miss) {
        Line(indent + 2, "- duration_threshold: " + YamlScalar(s.duration_threshold));
        Field(indent + 4, "severity", s.severity);
        Field(indent + 4, "team", s.team);
        Bool(indent + 4, "auto_threshold", s.auto_threshold);
      }
    }
    if (!a.retry.empty()) {
      Line(indent + 2, "retry:");
      for (const auto& r : a.retry) {
        Line(indent + 2, "- count_threshold: " + std::to_string(r.count_threshold));
        Field(indent + 4, "severity", r.severity);
      }
    }
    if (!a.success_severity.empty()) {
      Line(indent + 2, "success:");
      Field(indent + 4, "severity", a.success_severity);
    }
    if (!a.failure_severity.empty()) {
      Line(indent + 2, "failure:");
      Field(indent + 4, "severity", a.failure_severity);
    }
    Field(indent + 2, "team", a.team);
    Bool(indent + 2, "disable_anomaly_detection", a.disable_anomaly_detection);
  }
  std::string Take() { return std::move(text_); }

 private:
  std::string text_;
};

}  // namespace

std::string WriteJobSpec(const JobSpec& job) {
  Out o;
  o.Line(0, "version: " + std::to_string(job.version));
  o.Field(0, "name", job.name);
  o.Field(0, "owner", job.owner);
  o.Field(0, "description", job.description);
  const Schedule& s = job.schedule;
  if (!s.start_date.empty() || !s.end_date.empty() || !s.interval.empty()) {
    o.Line(0, "schedule:");
    o.Field(2, "start_date", s.start_date);
    o.Field(2, "end_date", s.end_date);
    o.Field(2, "interval", s.interval);
  }
  const Behavior& b = job.behavior;
  const bool retry = b.retry.count || !b.retry.delay.empty() || b.retry.exponential_backoff;
  if (b.depends_on_past || b.catch_up || retry || !b.notify.empty() || !b.webhook.empty()) {
    o.Line(0, "behavior:");
    o.Bool(2, "depends_on_past", b.depends_on_past);
    o.Bool(2, "catch_up", b.catch_up);
    if (retry) {
      o.Line(2, "retry:");
      if (b.retry.count) o.Line(4, "count: " + std::to_string(*b.retry.count));
      o.Field(4, "delay", b.retry.delay);
      o.Bool(4, "exponential_backoff", b.retry.exponential_backoff);
    }
    if (!b.notify.empty()) {
      o.Line(2, "notify:");
      for (const Notify& n : b.notify) {
        o.Line(2, "- on: " + YamlScalar(n.on));
        o.Map(4, "config", n.config);
        if (!n.channels.empty()) {
          o.Line(4, "channels:");
          for (const auto& c : n.channels) o.Line(4, "- " + YamlScalar(c));
        }
        o.Field(4, "severity", n.severity);
        o.Field(4, "team", n.team);
      }
    }
    if (!b.webhook.empty()) {
      o.Line(2, "webhook:");
      for (const Webhook& w : b.webhook) {
        o.Line(2, "- on: " + YamlScalar(w.on));
        if (!w.endpoints.empty()) {
          o.Line(4, "endpoints:");
          for (const auto& e : w.endpoints) {
            o.Line(4, "- url: " + YamlScalar(e.url));
            o.Map(6, "headers", e.headers);
          }
        }
      }
    }
  }
  // A recipe's first task is its `task`: only the window and alert are written there.
  const bool recipe = !job.recipe.empty();
  const Window& w = job.task.window;
  if (!recipe || !w.empty() || !job.task.alert.empty()) o.Line(0, "task:");
  if (!recipe) {
    o.Field(2, "name", job.task.name);
    o.Field(2, "version", job.task.version);
    o.Map(2, "config", job.task.config);
  }
  if (!w.empty()) {
    o.Line(2, "window:");
    o.Field(4, "size", w.size);
    o.Field(4, "offset", w.offset);
    o.Field(4, "shift_by", w.shift_by);
    o.Field(4, "truncate_to", w.truncate_to);
    o.Field(4, "location", w.location);
    o.Field(4, "preset", w.preset);
  }
  o.Alert(2, job.task.alert);
  if (recipe) {
    o.Line(0, "recipe:");
    for (const Task& step : job.recipe) {
      o.Line(0, "- name: " + YamlScalar(step.name));
      o.Field(2, "version", step.version);
      o.Map(2, "config", step.config);
    }
  }
  if (!job.hooks.empty()) {
    o.Line(0, "hooks:");
    for (const Hook& h : job.hooks) {
      o.Line(0, "- name: " + YamlScalar(h.name));
      o.Field(2, "version", h.version);
      o.Map(2, "config", h.config);
      o.Alert(2, h.alert);
    }
  }
  if (!job.dependencies.empty()) {
    o.Line(0, "dependencies:");
    for (const Dependency& d : job.dependencies) {
      if (!d.job.empty()) {
        o.Line(0, "- job: " + YamlScalar(d.job));
        o.Field(2, "type", d.type);
      } else if (d.http) {
        o.Line(0, "- http:");
        o.Field(4, "name", d.http->name);
        o.Field(4, "url", d.http->url);
        o.Map(4, "headers", d.http->headers);
        o.Map(4, "params", d.http->params);
        o.Field(2, "type", d.type);
      } else {
        o.Line(0, "- type: " + YamlScalar(d.type));
      }
    }
  }
  o.Map(0, "labels", job.labels);
  const Metadata& m = job.metadata;
  const bool resource = !m.request.cpu.empty() || !m.request.memory.empty() ||
                        !m.limit.cpu.empty() || !m.limit.memory.empty();
  if (resource || !m.airflow_pool.empty() || !m.airflow_queue.empty() ||
      !m.kubernetes_service_account.empty()) {
    o.Line(0, "metadata:");
    if (resource) {
      o.Line(2, "resource:");
      if (!m.request.cpu.empty() || !m.request.memory.empty()) {
        o.Line(4, "request:");
        o.Field(6, "cpu", m.request.cpu);
        o.Field(6, "memory", m.request.memory);
      }
      if (!m.limit.cpu.empty() || !m.limit.memory.empty()) {
        o.Line(4, "limit:");
        o.Field(6, "cpu", m.limit.cpu);
        o.Field(6, "memory", m.limit.memory);
      }
    }
    if (!m.airflow_pool.empty() || !m.airflow_queue.empty()) {
      o.Line(2, "airflow:");
      o.Field(4, "pool", m.airflow_pool);
      o.Field(4, "queue", m.airflow_queue);
    }
    if (!m.kubernetes_service_account.empty()) {
      o.Line(2, "kubernetes:");
      o.Field(4, "service_account", m.kubernetes_service_account);
    }
  }
  return o.Take();
}

}  // namespace optimus::spec
