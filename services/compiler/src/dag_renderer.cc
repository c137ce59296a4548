// Building the template context from a resolution and rendering the DAG.
#include "optimus/compiler/dag_renderer.h"

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "optimus/schedule/time_util.h"
#include "optimus/spec/loaders.h"
#include "optimus/spec/stored_spec.h"
#include "optimus/template/template.h"
#include "templates.h"

namespace optimus::compiler {
namespace {

using tmpl::Map;
using tmpl::Value;

void AppendPythonString(std::string& out, const std::string& s) {
  out += '"';
  for (unsigned char c : s) {
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        if (c < 0x20 || c == 0x7f) {
          constexpr char kHex[] = "0123456789abcdef";
          out += "\\x";
          out += kHex[c >> 4];
          out += kHex[c & 0xF];
        } else {
          out += static_cast<char>(c);  // UTF-8 bytes pass through: the file is UTF-8
        }
    }
  }
  out += '"';
}

void AppendPython(std::string& out, const Value& v) {
  switch (v.kind()) {
    case Value::Kind::kNull:
      out += "None";
      return;
    case Value::Kind::kBool:
      out += v.as_bool() ? "True" : "False";
      return;
    case Value::Kind::kInt:
      out += std::to_string(v.as_int());
      return;
    case Value::Kind::kDouble:
      out += tmpl::FormatGoFloat(v.as_double());
      return;
    case Value::Kind::kString:
      AppendPythonString(out, v.as_string());
      return;
    case Value::Kind::kList: {
      out += '[';
      bool first = true;
      for (const Value& item : v.as_list()) {
        if (!first) out += ", ";
        first = false;
        AppendPython(out, item);
      }
      out += ']';
      return;
    }
    case Value::Kind::kMap: {
      out += '{';
      bool first = true;
      for (const auto& [key, item] : v.as_map()) {  // std::map: sorted keys
        if (!first) out += ", ";
        first = false;
        AppendPythonString(out, key);
        out += ": ";
        AppendPython(out, item);
      }
      out += '}';
      return;
    }
    default:
      AppendPythonString(out, tmpl::FormatValue(v));
  }
}

Value StringMapValue(const spec::StringMap& m) {
  Map out;
  for (const auto& [k, v] : m) out[k] = Value(v);
  return Value(std::move(out));
}

int64_t Seconds(const std::string& go_duration) {
  if (go_duration.empty()) return 0;
  auto d = schedule::ParseGoDuration(go_duration);
  return d.ok() ? absl::ToInt64Seconds(*d) : 0;
}

const tmpl::TemplateSet& Templates(int major) {
  static const auto* sets = [] {
    auto* out = new std::map<int, tmpl::TemplateSet>();
    for (int m : {2, 3}) {
      tmpl::FuncMap funcs;
      funcs["py"] = tmpl::Function{[](std::span<const Value> args) -> absl::StatusOr<Value> {
                                     return Value(PythonLiteral(args[0]));
                                   },
                                   1, 1};
      tmpl::TemplateSet set(std::move(funcs));
      absl::Status parsed =
          set.Parse("dag.py", m == 2 ? kAirflow2DagTemplate : kAirflow3DagTemplate);
      if (!parsed.ok()) {
        // The templates are part of the binary and covered by golden tests.
        std::fprintf(stderr, "compiler: bad built-in DAG template: %s\n",
                     std::string(parsed.message()).c_str());
        std::abort();
      }
      out->emplace(m, std::move(set));
    }
    return out;
  }();
  return sets->at(major);
}

}  // namespace

std::string PythonLiteral(const tmpl::Value& value) {
  std::string out;
  AppendPython(out, value);
  return out;
}

std::string DagPath(const std::string& namespace_name, const std::string& job) {
  return absl::StrCat("dags/", namespace_name, "/", job, ".py");
}

const std::string& LibPy(int airflow_major) {
  static const std::string* lib = new std::string(kLibPy);
  (void)airflow_major;  // one __lib.py serves both template families
  return *lib;
}

absl::StatusOr<int> AirflowMajor(const events::v1::ProjectRecord* project) {
  if (project == nullptr) return 2;
  auto it = project->config().find("SCHEDULER_VERSION");
  if (it == project->config().end() || it->second.empty()) return 2;
  if (it->second.rfind("2.", 0) == 0 || it->second == "2") return 2;
  if (it->second.rfind("3.", 0) == 0 || it->second == "3") return 3;
  return absl::InvalidArgumentError("project config SCHEDULER_VERSION \"" + it->second +
                                    "\" is not an Airflow 2.x or 3.x version");
}

absl::StatusOr<tmpl::Value> DagContext(const events::v1::JobResolution& resolution,
                                       const events::v1::ProjectRecord* project,
                                       const std::map<std::string, spec::PluginSpec>& plugins,
                                       const RenderOptions& options) {
  spec::Diagnostics d;
  auto job = spec::LoadStoredJobSpec(resolution.name() + "/job.yaml", resolution.spec_yaml(), d);
  if (!job) {
    return absl::InvalidArgumentError("the job spec does not load: " + d.ToString());
  }
  // The task, or a recipe's tasks: the first is `Task`, the others `Recipe`, chained after it.
  Map task_value;
  tmpl::List recipe;
  for (const spec::JobStep& step : job->Steps()) {
    auto plugin = plugins.find(step.task->name);
    if (plugin == plugins.end()) {
      return absl::FailedPreconditionError("unknown task plugin \"" + step.task->name + "\"");
    }
    const spec::PluginVersion v = plugin->second.Resolve(step.task->version);
    Map t;
    t["Name"] = Value(step.name);
    t["Image"] = Value(plugin->second.ImageFor(step.task->version));
    t["Shell"] = Value(v.entrypoint.shell.empty() ? "/bin/sh" : v.entrypoint.shell);
    t["Script"] = Value(v.entrypoint.script);
    if (task_value.empty()) {
      task_value = std::move(t);
    } else {
      recipe.push_back(Value(std::move(t)));
    }
  }

  Map retry;
  const int retries = job->behavior.retry.count.value_or(0);
  retry["Count"] = Value(static_cast<int64_t>(retries));
  retry["DelaySeconds"] = Value(Seconds(job->behavior.retry.delay));
  retry["ExponentialBackoff"] = Value(job->behavior.retry.exponential_backoff.value_or(false));

  int64_t sla = 0;
  for (const spec::Notify& n : job->behavior.notify) {
    if (n.on != "sla_miss") continue;
    auto it = n.config.find("duration");
    if (it != n.config.end()) sla = Seconds(it->second);
  }

  Map resources;
  resources["RequestCPU"] = Value(job->metadata.request.cpu);
  resources["RequestMemory"] = Value(job->metadata.request.memory);
  resources["LimitCPU"] = Value(job->metadata.limit.cpu);
  resources["LimitMemory"] = Value(job->metadata.limit.memory);

  tmpl::List hooks;
  for (const spec::Hook& h : job->hooks) {
    auto hp = plugins.find(h.name);
    if (hp == plugins.end()) {
      return absl::FailedPreconditionError("unknown hook plugin \"" + h.name + "\"");
    }
    const spec::PluginVersion hv = hp->second.Resolve(h.version);
    Map hook;
    hook["Name"] = Value(h.name);
    hook["Image"] = Value(hp->second.ImageFor(h.version));
    hook["Shell"] = Value(hv.entrypoint.shell.empty() ? "/bin/sh" : hv.entrypoint.shell);
    hook["Script"] = Value(hv.entrypoint.script);
    const std::string& type = hp->second.hook_type;
    hook["Type"] = Value(type == "pre" ? "before" : type == "fail" ? "fail" : "after");
    hooks.push_back(Value(std::move(hook)));
  }

  tmpl::List upstreams;
  for (const auto& u : resolution.upstreams()) {
    Map up;
    up["Project"] = Value(u.project());
    up["Namespace"] = Value(u.namespace_());
    up["Job"] = Value(u.name());
    up["Host"] = Value(options.runtime_host);
    upstreams.push_back(Value(std::move(up)));
  }
  tmpl::List http;
  for (const spec::Dependency& dep : job->dependencies) {
    if (!dep.http) continue;
    Map h;
    h["Name"] = Value(dep.http->name);
    h["URL"] = Value(dep.http->url);
    h["Headers"] = StringMapValue(dep.http->headers);
    h["Params"] = StringMapValue(dep.http->params);
    http.push_back(Value(std::move(h)));
  }

  bool disabled = false;
  bool rbac = false;
  if (project != nullptr) {
    auto it = project->config().find("DISABLE_JOB_SCHEDULING");
    disabled = it != project->config().end() && absl::AsciiStrToLower(it->second) == "true";
    auto rb = project->config().find("ENABLE_RBAC");
    rbac = rb != project->config().end() && absl::AsciiStrToLower(rb->second) == "true";
  }

  Map j;
  j["Name"] = Value(job->name);
  j["SpecVersion"] = Value(static_cast<int64_t>(resolution.spec_version()));
  j["Owner"] = Value(job->owner);
  j["Description"] = Value(job->description);
  j["Labels"] = StringMapValue(job->labels);
  j["StartDate"] = Value(job->schedule.start_date);
  j["EndDate"] = Value(job->schedule.end_date);
  j["Interval"] = Value(disabled ? std::string() : job->schedule.interval);
  j["DependsOnPast"] = Value(job->behavior.depends_on_past.value_or(false));
  j["CatchUp"] = Value(job->behavior.catch_up.value_or(false));
  j["Retry"] = Value(std::move(retry));
  j["SLAMissSeconds"] = Value(sla);
  j["PriorityWeight"] = Value(static_cast<int64_t>(
      resolution.priority_weight() > 0 ? resolution.priority_weight() : 10000));
  j["MaxActiveRuns"] = Value(static_cast<int64_t>(0));
  j["Pool"] = Value(job->metadata.airflow_pool);
  j["Queue"] = Value(job->metadata.airflow_queue);
  j["ServiceAccount"] = Value(job->metadata.kubernetes_service_account);
  j["AccessControlRole"] = Value(rbac ? resolution.namespace_() : std::string());
  j["Resources"] = Value(std::move(resources));
  j["Task"] = Value(std::move(task_value));
  j["Recipe"] = Value(std::move(recipe));
  j["Hooks"] = Value(std::move(hooks));
  j["Upstreams"] = Value(std::move(upstreams));
  j["HTTPUpstreams"] = Value(std::move(http));

  Map root;
  root["Version"] = Value(options.version);
  root["RuntimeHost"] = Value(options.runtime_host);
  root["RunInputHost"] = Value(options.run_input_host);
  root["InitImage"] = Value(options.init_image);
  root["Project"] = Value(Map{{"Name", Value(resolution.project())}});
  root["Namespace"] = Value(Map{{"Name", Value(resolution.namespace_())}});
  root["Job"] = Value(std::move(j));
  return Value(std::move(root));
}

absl::StatusOr<std::string> RenderDagTemplate(int airflow_major, const tmpl::Value& context) {
  if (airflow_major != 2 && airflow_major != 3) {
    return absl::InvalidArgumentError("no DAG template for Airflow " +
                                      std::to_string(airflow_major));
  }
  return Templates(airflow_major).Execute("dag.py", context);
}

absl::StatusOr<std::string> RenderDag(const events::v1::JobResolution& resolution,
                                      const events::v1::ProjectRecord* project,
                                      const std::map<std::string, spec::PluginSpec>& plugins,
                                      const RenderOptions& options) {
  auto major = AirflowMajor(project);
  if (!major.ok()) return major.status();
  auto context = DagContext(resolution, project, plugins, options);
  if (!context.ok()) return context.status();
  return RenderDagTemplate(*major, *context);
}

}  // namespace optimus::compiler
