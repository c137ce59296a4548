// Converts grpc-gateway JSON of Optimus's JobSpecification into a JobSpec, following the field
// mapping of Optimus's job adapter and the conventions of job_loader.cc.
#include "optimus/spec/optimus_json.h"

#include <cctype>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <limits>
#include <optional>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/status.h"

namespace optimus::spec {
namespace {

using nlohmann::json;

// protojson's JSON name of a proto field: "start_date" -> "startDate".
std::string CamelCase(std::string_view snake) {
  std::string out;
  bool upper = false;
  for (char c : snake) {
    if (c == '_') {
      upper = true;
      continue;
    }
    out += upper ? static_cast<char>(std::toupper(static_cast<unsigned char>(c))) : c;
    upper = false;
  }
  return out;
}

std::string Join(const std::string& path, std::string_view key) {
  return path.empty() ? std::string(key) : path + "." + std::string(key);
}

// google.protobuf.Duration in JSON: "300s", "-1.5s". Go parses these as they are.
bool IsProtoDuration(std::string_view text) {
  if (!text.empty() && text.front() == '-') text.remove_prefix(1);
  if (text.size() < 2 || text.back() != 's') return false;
  text.remove_suffix(1);
  auto digits = [](std::string_view d) {
    return !d.empty() && d.find_first_not_of("0123456789") == std::string_view::npos;
  };
  const size_t dot = text.find('.');
  if (dot == std::string_view::npos) return digits(text);
  return digits(text.substr(0, dot)) && digits(text.substr(dot + 1));
}

// "0", "0s", "-0.0s": Optimus treats a zero duration as unset.
bool IsZeroDuration(std::string_view text) {
  return text.find_first_of("123456789") == std::string_view::npos;
}

// The deprecated window `delay` moves the window's end back (end = truncated - delay) while
// shift_by moves it forward (end = truncated + shift_by), so one is the other negated.
std::string NegateDuration(const std::string& d) {
  if (IsZeroDuration(d)) return d;
  if (d.front() == '-') return d.substr(1);
  if (d.front() == '+') return "-" + d.substr(1);
  return "-" + d;
}

// JobEvent.Type numbers (goto/proton job_spec.proto; 2-5 are reserved), as job.yaml spells them.
constexpr std::pair<int, const char*> kEventTypes[] = {
    {1, "sla_miss"},        {6, "job_success"},   {7, "failure"},       {8, "task_retry"},
    {9, "task_success"},    {10, "task_start"},   {11, "task_fail"},    {12, "sensor_retry"},
    {13, "sensor_success"}, {14, "sensor_start"}, {15, "sensor_fail"},  {16, "hook_start"},
    {17, "hook_retry"},     {18, "hook_fail"},    {19, "hook_success"}, {20, "success"}};

// Reads fields the way protojson does and keeps only the first error: after it every read
// returns nothing, so the mapping code needs no early returns.
class Reader {
 public:
  explicit Reader(const std::string& where) : where_(where) {}

  const absl::Status& status() const { return status_; }

  void Fail(const std::string& path, std::string_view what) {
    if (!status_.ok()) return;
    std::string at = where_;
    if (!path.empty()) at = at.empty() ? path : at + "." + path;
    if (at.empty()) at = "job specification";
    status_ = absl::InvalidArgumentError(at + ": " + std::string(what));
  }

  // The field `key` (proto name) of `object` under either spelling, with `path` set to the
  // spelling found; nullptr when absent or null (protojson reads null as the default).
  const json* Field(const json& object, const std::string& parent, std::string_view key,
                    std::string& path) {
    if (!status_.ok()) return nullptr;
    for (const std::string& name : {std::string(key), CamelCase(key)}) {
      if (auto it = object.find(name); it != object.end()) {
        path = Join(parent, name);
        return it->is_null() ? nullptr : &*it;
      }
    }
    return nullptr;
  }

  std::string String(const json& object, const std::string& parent, std::string_view key) {
    std::string path;
    const json* v = Field(object, parent, key, path);
    if (v == nullptr) return "";
    if (!v->is_string()) {
      Fail(path, "expected a string");
      return "";
    }
    return v->get<std::string>();
  }

  bool Bool(const json& object, const std::string& parent, std::string_view key) {
    std::string path;
    const json* v = Field(object, parent, key, path);
    if (v == nullptr) return false;
    if (!v->is_boolean()) {
      Fail(path, "expected true or false");
      return false;
    }
    return v->get<bool>();
  }

  // int32 fields: a JSON number or, as proto3 JSON allows, a decimal string.
  std::optional<int> Int(const json& object, const std::string& parent, std::string_view key) {
    std::string path;
    const json* v = Field(object, parent, key, path);
    if (v == nullptr) return std::nullopt;
    int64_t n = 0;
    bool ok = false;
    if (v->is_number_unsigned()) {
      const uint64_t u = v->get<uint64_t>();
      ok = u <= static_cast<uint64_t>(std::numeric_limits<int32_t>::max());
      n = ok ? static_cast<int64_t>(u) : 0;
    } else if (v->is_number_integer()) {
      n = v->get<int64_t>();
      ok = true;
    } else if (v->is_number_float()) {
      const double d = v->get<double>();
      ok = std::trunc(d) == d && std::abs(d) <= std::numeric_limits<int32_t>::max();
      n = ok ? static_cast<int64_t>(d) : 0;
    } else if (v->is_string()) {
      const std::string& s = v->get_ref<const std::string&>();
      const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), n);
      ok = !s.empty() && ec == std::errc() && end == s.data() + s.size();
    }
    if (!ok || n < std::numeric_limits<int32_t>::min() || n > std::numeric_limits<int32_t>::max()) {
      Fail(path, "expected a 32-bit integer (a number or a decimal string)");
      return std::nullopt;
    }
    return static_cast<int>(n);
  }

  // A google.protobuf.Duration ("300s"); "" when absent or zero.
  std::string Duration(const json& object, const std::string& parent, std::string_view key) {
    std::string path;
    const json* v = Field(object, parent, key, path);
    if (v == nullptr) return "";
    if (!v->is_string() || !IsProtoDuration(v->get_ref<const std::string&>())) {
      Fail(path, "expected a duration in seconds like \"300s\"");
      return "";
    }
    const std::string& d = v->get_ref<const std::string&>();
    return IsZeroDuration(d) ? "" : d;
  }

  // A JobEvent.Type by name ("TYPE_SLA_MISS") or number, spelled as job.yaml does ("sla_miss").
  std::string Event(const json& object, const std::string& parent, std::string_view key) {
    std::string path;
    const json* v = Field(object, parent, key, path);
    if (v == nullptr) return "";
    if (v->is_number_integer()) {
      const int64_t number = v->get<int64_t>();
      if (number == 0) return "";  // TYPE_UNSPECIFIED
      for (const auto& [n, spelling] : kEventTypes) {
        if (n == number) return spelling;
      }
      Fail(path, "unknown event type " + std::to_string(number));
      return "";
    }
    if (!v->is_string()) {
      Fail(path, "expected an event type like \"TYPE_FAILURE\"");
      return "";
    }
    std::string name = v->get<std::string>();
    if (name.rfind("TYPE_", 0) == 0) name.erase(0, 5);
    for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return name == "unspecified" ? "" : name;
  }

  const json* Object(const json& object, const std::string& parent, std::string_view key,
                     std::string& path) {
    const json* v = Field(object, parent, key, path);
    if (v != nullptr && !v->is_object()) {
      Fail(path, "expected an object");
      return nullptr;
    }
    return v;
  }

  // A map<string, string> field: a JSON object of strings.
  StringMap Map(const json& object, const std::string& parent, std::string_view key) {
    StringMap out;
    std::string path;
    const json* m = Object(object, parent, key, path);
    if (m == nullptr) return out;
    for (const auto& item : m->items()) {
      if (!item.value().is_string()) {
        Fail(Join(path, item.key()), "expected a string");
        return {};
      }
      out[item.key()] = item.value().get<std::string>();
    }
    return out;
  }

  std::vector<std::string> Strings(const json& object, const std::string& parent,
                                   std::string_view key) {
    std::vector<std::string> out;
    std::string path;
    const json* list = List(object, parent, key, path);
    for (size_t i = 0; list != nullptr && i < list->size(); ++i) {
      if (!(*list)[i].is_string()) {
        Fail(path + "[" + std::to_string(i) + "]", "expected a string");
        return {};
      }
      out.push_back((*list)[i].get<std::string>());
    }
    return out;
  }

  // Calls fn(item, item_path) for each object of a repeated message field.
  template <typename Fn>
  void ForEach(const json& object, const std::string& parent, std::string_view key, Fn&& fn) {
    std::string path;
    const json* list = List(object, parent, key, path);
    for (size_t i = 0; list != nullptr && i < list->size() && status_.ok(); ++i) {
      const std::string item_path = path + "[" + std::to_string(i) + "]";
      if (!(*list)[i].is_object()) return Fail(item_path, "expected an object");
      fn((*list)[i], item_path);
    }
  }

  // repeated JobConfigItem {name, value} into a map; a later entry wins.
  void Config(const json& object, const std::string& parent, std::string_view key, StringMap& out) {
    ForEach(object, parent, key, [&](const json& item, const std::string& path) {
      std::string name = String(item, path, "name");
      std::string value = String(item, path, "value");
      if (name.empty()) return Fail(Join(path, "name"), "a config entry needs a name");
      out[std::move(name)] = std::move(value);
    });
  }

 private:
  const json* List(const json& object, const std::string& parent, std::string_view key,
                   std::string& path) {
    const json* v = Field(object, parent, key, path);
    if (v != nullptr && !v->is_array()) {
      Fail(path, "expected a list");
      return nullptr;
    }
    return v;
  }

  std::string where_;
  absl::Status status_;
};

// OperatorAlertConfig (task.alert, hooks[].alert) onto Alert, which has the same fields.
void ReadAlert(Reader& r, const json& a, const std::string& path, Alert& alert) {
  r.ForEach(a, path, "sla_miss", [&](const json& item, const std::string& p) {
    SlaMissAlert sla;
    sla.duration_threshold = r.String(item, p, "duration_threshold");
    sla.severity = r.String(item, p, "severity");
    sla.team = r.String(item, p, "team");
    if (r.Bool(item, p, "auto_threshold")) sla.auto_threshold = true;
    alert.sla_miss.push_back(std::move(sla));
  });
  r.ForEach(a, path, "retry", [&](const json& item, const std::string& p) {
    RetryAlert retry;
    retry.count_threshold = r.Int(item, p, "count_threshold").value_or(0);
    retry.severity = r.String(item, p, "severity");
    alert.retry.push_back(std::move(retry));
  });
  std::string p;
  if (const json* s = r.Object(a, path, "success", p)) {
    alert.success_severity = r.String(*s, p, "severity");
  }
  if (const json* f = r.Object(a, path, "failure", p)) {
    alert.failure_severity = r.String(*f, p, "severity");
  }
  alert.team = r.String(a, path, "team");
  if (r.Bool(a, path, "disable_anomaly_detection")) alert.disable_anomaly_detection = true;
}

// As Optimus's adapter does: a preset wins (window.preset, then the deprecated window_preset);
// version 3 reads the `window` object; older versions read window_size/window_offset/
// window_truncate_to, taking size and truncate_to from `window` when those are empty because
// newer CLIs send only the `window` object.
void ReadWindow(Reader& r, const json& spec, int version, Window& w) {
  static const json kNone = json::object();
  std::string path;
  const json* found = r.Object(spec, "", "window", path);
  const json& window = found != nullptr ? *found : kNone;
  const std::string preset = r.String(window, path, "preset");
  const std::string size = r.String(window, path, "size");
  const std::string shift_by = r.String(window, path, "shift_by");
  const std::string delay = r.String(window, path, "delay");
  const std::string truncate_to = r.String(window, path, "truncate_to");
  const std::string location = r.String(window, path, "location");
  const std::string old_preset = r.String(spec, "", "window_preset");
  const std::string old_size = r.String(spec, "", "window_size");
  const std::string old_offset = r.String(spec, "", "window_offset");
  const std::string old_truncate_to = r.String(spec, "", "window_truncate_to");
  w.version = version;
  if (!preset.empty() || !old_preset.empty()) {
    w.preset = !preset.empty() ? preset : old_preset;
  } else if (version >= 3) {
    w.size = size;
    w.shift_by = !shift_by.empty() ? shift_by : NegateDuration(delay);
    w.truncate_to = truncate_to;
    w.location = location;
  } else {
    w.size = !old_size.empty() ? old_size : size;
    w.offset = old_offset;
    w.truncate_to = !old_truncate_to.empty() ? old_truncate_to : truncate_to;
  }
}

Dependency ReadDependency(Reader& r, const json& item, const std::string& path) {
  Dependency dep;
  const std::string name = r.String(item, path, "name");
  dep.type = r.String(item, path, "type");
  std::string hp;
  if (const json* http = r.Object(item, path, "http_dependency", hp)) {
    // Optimus ignores `name` on an HTTP dependency; job.yaml has either `job` or `http`.
    HttpDependency h;
    h.name = r.String(*http, hp, "name");
    h.url = r.String(*http, hp, "url");
    h.headers = r.Map(*http, hp, "headers");
    h.params = r.Map(*http, hp, "params");
    dep.http = std::move(h);
    return dep;
  }
  dep.job = name;
  if (const size_t slash = name.find('/'); slash == std::string::npos) {
    dep.name = name;
  } else {
    dep.project = name.substr(0, slash);
    dep.name = name.substr(slash + 1);
  }
  return dep;
}

void ReadBehavior(Reader& r, const json& b, const std::string& path, Behavior& behavior) {
  std::string p;
  if (const json* retry = r.Object(b, path, "retry", p)) {
    if (auto count = r.Int(*retry, p, "count"); count && *count != 0) behavior.retry.count = count;
    behavior.retry.delay = r.Duration(*retry, p, "delay");
    if (r.Bool(*retry, p, "exponential_backoff")) behavior.retry.exponential_backoff = true;
  }
  r.ForEach(b, path, "notify", [&](const json& item, const std::string& ip) {
    Notify n;
    n.on = r.Event(item, ip, "on");
    n.channels = r.Strings(item, ip, "channels");
    n.config = r.Map(item, ip, "config");
    n.severity = r.String(item, ip, "severity");
    n.team = r.String(item, ip, "team");
    behavior.notify.push_back(std::move(n));
  });
  r.ForEach(b, path, "webhook", [&](const json& item, const std::string& ip) {
    Webhook w;
    w.on = r.Event(item, ip, "on");
    r.ForEach(item, ip, "endpoints", [&](const json& e, const std::string& ep) {
      WebhookEndpoint endpoint;
      endpoint.url = r.String(e, ep, "url");
      endpoint.headers = r.Map(e, ep, "headers");
      w.endpoints.push_back(std::move(endpoint));
    });
    behavior.webhook.push_back(std::move(w));
  });
}

void ReadMetadata(Reader& r, const json& m, const std::string& path, Metadata& metadata) {
  std::string p;
  if (const json* resource = r.Object(m, path, "resource", p)) {
    const std::string rp = p;
    auto quantities = [&](std::string_view key, ResourceQuantities& out) {
      std::string qp;
      if (const json* q = r.Object(*resource, rp, key, qp)) {
        out.cpu = r.String(*q, qp, "cpu");
        out.memory = r.String(*q, qp, "memory");
      }
    };
    quantities("request", metadata.request);
    quantities("limit", metadata.limit);
  }
  if (const json* airflow = r.Object(m, path, "airflow", p)) {
    metadata.airflow_pool = r.String(*airflow, p, "pool");
    metadata.airflow_queue = r.String(*airflow, p, "queue");
  }
}

}  // namespace

const json* ProtoJsonField(const json& object, std::string_view snake_name) {
  if (!object.is_object()) return nullptr;
  for (const std::string& name : {std::string(snake_name), CamelCase(snake_name)}) {
    if (auto it = object.find(name); it != object.end()) return &*it;
  }
  return nullptr;
}

absl::StatusOr<JobSpec> JobSpecFromOptimusJson(const json& spec, const std::string& where) {
  Reader r(where);
  if (!spec.is_object()) {
    r.Fail("", "expected a JSON object (a JobSpecification)");
    return r.status();
  }
  JobSpec job;
  job.name = r.String(spec, "", "name");
  if (job.name.empty()) r.Fail("name", "missing required field (the job name)");
  if (auto version = r.Int(spec, "", "version")) job.version = *version;
  job.owner = r.String(spec, "", "owner");
  job.description = r.String(spec, "", "description");
  job.schedule.start_date = r.String(spec, "", "start_date");
  job.schedule.end_date = r.String(spec, "", "end_date");
  job.schedule.interval = r.String(spec, "", "interval");
  if (r.Bool(spec, "", "depends_on_past")) job.behavior.depends_on_past = true;
  if (r.Bool(spec, "", "catch_up")) job.behavior.catch_up = true;
  job.task.name = r.String(spec, "", "task_name");
  r.Config(spec, "", "config", job.task.config);
  std::string path;
  // Newer CLIs also send a `task` object (with the plugin version); it wins over the flat fields.
  if (const json* task = r.Object(spec, "", "task", path)) {
    if (std::string name = r.String(*task, path, "name"); !name.empty()) job.task.name = name;
    job.task.version = r.String(*task, path, "version");
    r.Config(*task, path, "config", job.task.config);
    std::string ap;
    if (const json* alert = r.Object(*task, path, "alert", ap)) {
      ReadAlert(r, *alert, ap, job.task.alert);
    }
  }
  ReadWindow(r, spec, job.version, job.task.window);
  r.ForEach(spec, "", "dependencies", [&](const json& item, const std::string& p) {
    job.dependencies.push_back(ReadDependency(r, item, p));
  });
  job.assets = r.Map(spec, "", "assets");
  r.ForEach(spec, "", "hooks", [&](const json& item, const std::string& p) {
    Hook hook;
    hook.name = r.String(item, p, "name");
    hook.version = r.String(item, p, "version");
    r.Config(item, p, "config", hook.config);
    std::string ap;
    if (const json* alert = r.Object(item, p, "alert", ap)) ReadAlert(r, *alert, ap, hook.alert);
    job.hooks.push_back(std::move(hook));
  });
  job.labels = r.Map(spec, "", "labels");
  if (const json* behavior = r.Object(spec, "", "behavior", path)) {
    ReadBehavior(r, *behavior, path, job.behavior);
  }
  if (const json* metadata = r.Object(spec, "", "metadata", path)) {
    ReadMetadata(r, *metadata, path, job.metadata);
  }
  if (!r.status().ok()) return r.status();
  return job;
}

}  // namespace optimus::spec
