// Run input: the job's window at the scheduled time, its config and assets rendered with the
// values Optimus gives a running task (reference §4.2, §5.3).
#include "optimus/runtime_context/run_input.h"

#include <openssl/sha.h>

#include <cctype>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "optimus/schedule/time_util.h"
#include "optimus/schedule/window.h"
#include "optimus/spec/schedule_hooks.h"
#include "optimus/template/optimus_funcs.h"

namespace optimus::runtime_context {
namespace {

constexpr char kBreakMarker[] = "\n--*--optimus-break-marker--*--\n";

// A label key or value as Kubernetes and Airflow accept it.
std::string LabelText(const std::string& text) {
  std::string out = absl::AsciiStrToLower(text);
  for (char& c : out) {
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-')) c = '-';
  }
  if (out.size() > 63) out = "__" + out.substr(out.size() - 61);
  return out;
}

bool NamesASecret(const std::string& raw) { return raw.find(".secret.") != std::string::npos; }

// Compiles every value of `config` with `data`; values naming a secret go to `secrets`.
absl::Status CompileConfig(const JobContext& context, const spec::StringMap& config,
                           const tmpl::Value& data, const tmpl::FuncContext& funcs,
                           const std::string& what, std::map<std::string, std::string>* plain,
                           std::map<std::string, std::string>* secrets) {
  for (const auto& [key, raw] : config) {
    auto compiled = context.templates != nullptr
                        ? context.templates->CompileString(key, raw, data, funcs)
                        : tmpl::CompileString(key, raw, data, funcs);
    if (!compiled.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat(what, " config ", key, " does not compile: ", compiled.status().message()));
    }
    (NamesASecret(raw) ? *secrets : *plain)[key] = *std::move(compiled);
  }
  return absl::OkStatus();
}

absl::StatusOr<std::map<std::string, std::string>> Assets(const JobContext& context,
                                                          const tmpl::Value& data,
                                                          const tmpl::FuncContext& funcs) {
  return context.templates != nullptr
             ? context.templates->CompileAssets(*context.assets, data, funcs)
             : tmpl::CompileAssets(*context.assets, data, funcs);
}

}  // namespace

std::string JobId(const std::string& project, const std::string& job) {
  const std::string text = project + "/" + job;
  unsigned char digest[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(text.data()), text.size(), digest);
  // A version-8 (custom) UUID from the first 16 bytes.
  digest[6] = static_cast<unsigned char>((digest[6] & 0x0f) | 0x80);
  digest[8] = static_cast<unsigned char>((digest[8] & 0x3f) | 0x80);
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  for (int i = 0; i < 16; ++i) {
    if (i == 4 || i == 6 || i == 8 || i == 10) out += '-';
    out += kHex[digest[i] >> 4];
    out += kHex[digest[i] & 0x0f];
  }
  return out;
}

std::string JobLabels(const JobContext& context) {
  std::vector<std::string> labels = {
      "project=" + LabelText(context.project),
      "namespace=" + LabelText(context.namespace_name),
      "job_name=" + LabelText(context.job->name),
      "job_id=" + LabelText(JobId(context.project, context.job->name)),
  };
  for (const auto& [k, v] : context.job->labels) {
    labels.push_back(LabelText(k) + "=" + LabelText(v));
  }
  return absl::StrJoin(labels, ",");
}

namespace {

absl::Status TooLarge(size_t bytes, const char* what) {
  return absl::InvalidArgumentError(
      absl::StrCat("the run input would hold more than ", bytes / 1024, " KiB (", what,
                   "); a run input holds at most ", kMaxRunInputBytes / 1024,
                   " KiB: shorten the window or the assets"));
}

}  // namespace

absl::StatusOr<RunInput> CompileRunInput(const JobContext& context,
                                         const RunInputRequest& request) {
  const spec::JobSpec& job = *context.job;
  // The task whose config a task instance gets (a recipe's step of that name); hooks see the
  // job's task.
  const spec::Task* task_of_instance = &job.task;
  if (request.instance_type == InstanceType::kTask && !job.recipe.empty()) {
    std::vector<std::string> names;
    task_of_instance = nullptr;
    for (const spec::JobStep& step : job.Steps()) {
      names.push_back(step.name);
      if (step.name == request.instance_name) task_of_instance = step.task;
    }
    if (task_of_instance == nullptr) {
      return absl::NotFoundError(absl::StrCat("recipe ", job.name, " has no task \"",
                                              request.instance_name,
                                              "\" (its tasks: ", absl::StrJoin(names, ", "), ")"));
    }
  }
  const spec::Hook* hook = nullptr;
  if (request.instance_type == InstanceType::kHook) {
    std::vector<std::string> names;
    for (const spec::Hook& h : job.hooks) {
      names.push_back(h.name);
      if (h.name == request.instance_name) hook = &h;
    }
    if (hook == nullptr) {
      return absl::NotFoundError(absl::StrCat(
          "job ", job.name, " has no hook \"", request.instance_name, "\"",
          names.empty() ? " (it has none)" : " (its hooks: " + absl::StrJoin(names, ", ") + ")"));
    }
  }

  // The window at the scheduled time.
  static const std::map<std::string, spec::Preset> kNoPresets;
  auto window = spec::JobWindow(job, context.presets ? *context.presets : kNoPresets);
  if (!window.ok()) return absl::InvalidArgumentError(window.status().message());
  auto values = schedule::Compute(*window, request.scheduled_at);
  if (!values.ok()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "the window of job ", job.name, " cannot be computed: ", values.status().message()));
  }
  std::map<std::string, std::string> system = {
      {"DSTART", values->dstart},
      {"DEND", values->dend},
      {"JOB_DESTINATION", context.destination},
  };
  if (values->version == 3) {
    system["START_DATE"] = *values->start_date;
    system["END_DATE"] = *values->end_date;
    system["SCHEDULE_TIME"] = *values->schedule_time;
    system["SCHEDULE_DATE"] = *values->schedule_date;
    system["EXECUTION_TIME"] = *values->execution_time;
  } else {
    system["EXECUTION_TIME"] = schedule::FormatDateTime(
        request.executed_at.value_or(request.scheduled_at), absl::UTCTimeZone());
  }

  // The template context: project and namespace values, secrets, the system values.
  tmpl::Map data;
  tmpl::Map proj;
  if (const events::v1::ProjectRecord* p = context.project_record) {
    auto add = [&proj](const auto& map) {
      for (const auto& [k, v] : map) proj[absl::AsciiStrToUpper(k)] = tmpl::Value(v);
    };
    add(p->config());
    for (const auto& ns : p->namespaces()) {
      if (ns.name() == context.namespace_name) add(ns.config());
    }
    add(p->variables());
    for (const auto& ns : p->namespaces()) {
      if (ns.name() == context.namespace_name) add(ns.variables());
    }
  }
  for (const auto& [k, v] : proj) data["GLOBAL__" + k] = v;
  data["proj"] = tmpl::Value(proj);
  tmpl::Map secret;
  if (context.secrets != nullptr) {
    for (const auto& [k, v] : *context.secrets) secret[k] = tmpl::Value(v);
  }
  data["secret"] = tmpl::Value(std::move(secret));
  tmpl::Map inst;
  for (const auto& [k, v] : system) {
    data[k] = tmpl::Value(v);
    inst[k] = tmpl::Value(v);
  }
  data["inst"] = tmpl::Value(std::move(inst));
  const tmpl::FuncContext funcs{.zone = absl::UTCTimeZone(), .now = absl::Now()};

  // The task config (a recipe step's own), then TASK__ for hooks and assets.
  RunInput out;
  std::map<std::string, std::string> task_plain, task_secrets;
  if (absl::Status s = CompileConfig(
          context, task_of_instance->config, tmpl::Value(data), funcs,
          task_of_instance == &job.task ? std::string("task") : "task " + request.instance_name,
          &task_plain, &task_secrets);
      !s.ok()) {
    return s;
  }
  tmpl::Map task;
  for (const auto* part : {&task_plain, &task_secrets}) {
    for (const auto& [k, v] : *part) {
      data["TASK__" + k] = tmpl::Value(v);
      task[k] = tmpl::Value(v);
    }
  }
  data["task"] = tmpl::Value(std::move(task));
  const tmpl::Value full(std::move(data));

  if (hook == nullptr) {
    out.envs = task_plain;
    out.secrets = task_secrets;
    std::string labels = JobLabels(context);
    if (auto user = out.envs.find("JOB_LABELS"); user != out.envs.end() && !user->second.empty()) {
      labels = user->second + "," + labels;
    }
    out.envs["JOB_LABELS"] = labels;
  } else {
    if (absl::Status s = CompileConfig(context, hook->config, full, funcs, "hook " + hook->name,
                                       &out.envs, &out.secrets);
        !s.ok()) {
      return s;
    }
  }
  for (const auto& [k, v] : system) out.envs[k] = v;

  if (context.assets != nullptr && !context.assets->empty()) {
    auto files = Assets(context, full, funcs);
    if (!files.ok()) return absl::InvalidArgumentError(files.status().message());
    out.files = *std::move(files);
    // bq2bq replacing a window longer than a day: the query once per day of it, so each
    // statement replaces one partition (Optimus's multi-query generation).
    auto load = task_plain.find("LOAD_METHOD");
    auto query = context.assets->find("query.sql");
    const absl::Duration day = absl::Hours(24);
    if (job.task.name == "bq2bq" && load != task_plain.end() && load->second == "REPLACE" &&
        query != context.assets->end() && values->interval.end - values->interval.start > day) {
      std::vector<std::string> parts;
      size_t bytes = 0;
      for (absl::Time start = values->interval.start; start < values->interval.end; start += day) {
        const absl::Time end = std::min(start + day, values->interval.end);
        tmpl::Map slice = full.as_map();
        const std::string dstart = schedule::FormatRfc3339(start, values->zone);
        const std::string dend = schedule::FormatRfc3339(end, values->zone);
        slice["DSTART"] = tmpl::Value(dstart);
        slice["DEND"] = tmpl::Value(dend);
        // The whole set, so that the query's includes resolve.
        auto rendered = Assets(context, tmpl::Value(slice), funcs);
        if (!rendered.ok()) return absl::InvalidArgumentError(rendered.status().message());
        parts.push_back(rendered->at("query.sql"));
        bytes += parts.back().size() + sizeof(kBreakMarker) - 1;
        if (bytes > kMaxRunInputBytes)
          return TooLarge(bytes, "its query, once per day of its window");
      }
      out.files["query.sql"] = absl::StrJoin(parts, kBreakMarker);
    }
  }
  size_t bytes = 0;
  for (const auto* part : {&out.envs, &out.files, &out.secrets}) {
    for (const auto& [k, v] : *part) bytes += k.size() + v.size();
  }
  if (bytes > kMaxRunInputBytes) return TooLarge(bytes, "its assets and config");
  return out;
}

}  // namespace optimus::runtime_context
