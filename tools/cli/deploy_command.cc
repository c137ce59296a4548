// `optimus deploy`, `optimus job replace-all`, `optimus job deploy`, `optimus job delete`:
// read the project as `job validate` does, check it locally, send it to ingest and follow the
// deployment until every job is published, unchanged, deleted or failed.
#include "deploy_command.h"

#include <grpcpp/grpcpp.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <future>
#include <map>
#include <mutex>
#include <optional>
#include <random>
#include <set>
#include <sstream>
#include <thread>

#include "absl/strings/str_cat.h"
#include "channel.h"
#include "diagnostics_output.h"
#include "flags.h"
#include "nlohmann/json.hpp"
#include "optimus/core/v1/deploy.grpc.pb.h"
#include "optimus/schedule/time_util.h"
#include "optimus/spec/loaders.h"
#include "optimus/spec/project_reader.h"
#include "optimus/spec/schedule_hooks.h"
#include "optimus/spec/writer.h"

namespace optimus::cli {
namespace {

namespace fs = std::filesystem;
using events::v1::Stage;

constexpr char kDeployHelp[] =
    "Usage: optimus deploy [flags]\n"
    "       optimus job replace-all [-N NS,...] [flags]\n"
    "       optimus job deploy -n NS [-J JOB,...] [flags]\n\n"
    "Sends the project's jobs to the server and follows them until every job's DAG is published\n"
    "(or its failure reported). `deploy` and `job replace-all` make each namespace on the server\n"
    "match the folder: jobs missing from it are deleted. `job deploy` only adds and updates.\n"
    "The specs are read and checked locally first (this.yaml merged), as `job validate` does.\n\n"
    "Flags:\n"
    "  -d, --dir DIR             project folder (default: .)\n"
    "  -c, --config FILE         client config inside it (default: optimus.yaml)\n"
    "      --host HOST:PORT      the server (default: host in optimus.yaml)\n"
    "  -N, --namespaces A,B      only these namespaces (default: all)\n"
    "  -n, --namespace NAME      (job deploy) the namespace\n"
    "  -J, --jobs A,B            (job deploy) only these jobs\n"
    "      --timeout DURATION    give up watching after this long (default: 10m)\n"
    "  -o, --output FORMAT       table (default) or json\n\n"
    "Exit status: 0 every job published, unchanged or deleted; 1 a job failed, or local\n"
    "problems; 2 bad flags or an unreachable server.\n";

constexpr char kDeleteHelp[] =
    "Usage: optimus job delete JOB -n NAMESPACE [flags]\n\n"
    "Deletes a job on the server (its DAG is removed) and waits until it is gone.\n\n"
    "Flags:\n"
    "  -d, --dir DIR          project folder (default: .)\n"
    "  -c, --config FILE      client config inside it (default: optimus.yaml)\n"
    "      --host HOST:PORT   the server (default: host in optimus.yaml)\n"
    "  -n, --namespace NAME   the job's namespace (required)\n"
    "      --force            delete even when other jobs depend on it\n"
    "      --timeout DURATION give up watching after this long (default: 2m)\n";

struct Watched {
  std::string deployment_id;
  std::string namespace_name;
  core::v1::DeploymentStatus last;
  std::map<std::string, core::v1::JobProgress> jobs;  // by project/job
  bool finished = false;
  std::string error;
};

// A --timeout: a Go duration (90s, 10m, 1h30m) or plain seconds; -1 when it is neither.
int ParseTimeoutSeconds(const std::string& text, int fallback) {
  if (text.empty()) return fallback;
  if (text.find_first_not_of("0123456789") == std::string::npos && text.size() < 9) {
    return std::stoi(text);
  }
  auto d = schedule::ParseGoDuration(text);
  if (!d.ok() || *d <= absl::ZeroDuration() || *d > absl::Hours(24 * 365)) return -1;
  return static_cast<int>(absl::ToInt64Seconds(*d));
}

// How settled a stage is, to pick a job's state when several deployments report it (its own,
// and another's cascade): published beats unchanged or deleted, which beat failed, which beats
// waiting, which beats in-flight.
int Settled(Stage s) {
  switch (s) {
    case Stage::STAGE_PUBLISHED:
      return 4;  // a DAG was written: say so even when the spec itself was unchanged
    case Stage::STAGE_UNCHANGED:
    case Stage::STAGE_DELETED:
      return 3;
    case Stage::STAGE_FAILED:
      return 2;
    case Stage::STAGE_WAITING:
      return 1;
    default:
      return 0;
  }
}

// One job across the watched deployments.
struct MergedJob {
  core::v1::JobProgress best;  // its most settled state
  bool submitted = false;      // in a deployment's own list
  bool recompiled = false;     // published again because an upstream changed
};

struct Counts {
  int submitted = 0, finished = 0, published = 0, unchanged = 0, deleted = 0, failed = 0,
      waiting = 0, cascaded = 0, stored = 0, resolved = 0;
};

Counts Count(const std::map<std::string, MergedJob>& jobs) {
  Counts c;
  for (const auto& [key, m] : jobs) {
    const core::v1::JobProgress& j = m.best;
    if (m.submitted) ++c.submitted;
    if (m.recompiled) ++c.cascaded;
    switch (j.stage()) {
      case Stage::STAGE_PUBLISHED:
        ++c.published;
        break;
      case Stage::STAGE_UNCHANGED:
        ++c.unchanged;
        break;
      case Stage::STAGE_DELETED:
        ++c.deleted;
        break;
      case Stage::STAGE_FAILED:
        ++c.failed;
        break;
      case Stage::STAGE_WAITING:
        ++c.waiting;
        break;
      case Stage::STAGE_STORED:
        ++c.stored;
        break;
      case Stage::STAGE_RESOLVED:
      case Stage::STAGE_COMPILED:
        ++c.resolved;
        break;
      default:
        break;
    }
    if (Settled(j.stage()) > 0) ++c.finished;
  }
  return c;
}

// Follows deployments on their own threads; the caller draws their sum.
class Watcher {
 public:
  Watcher(std::shared_ptr<grpc::Channel> channel, int timeout_seconds)
      : stub_(core::v1::DeploymentService::NewStub(channel)), timeout_(timeout_seconds) {}
  // Every watch ends by itself (done, error or the timeout); a thread is never left running.
  ~Watcher() { Join(); }

  void Add(const std::string& id, const std::string& ns) {
    std::lock_guard<std::mutex> lock(mu_);
    watched_.push_back(std::make_unique<Watched>(Watched{id, ns, {}, {}, false, ""}));
    Watched* w = watched_.back().get();
    threads_.emplace_back([this, w] { Follow(w); });
  }

  void Join() {
    for (auto& t : threads_) {
      if (t.joinable()) t.join();
    }
  }

  bool AllFinished() {
    std::lock_guard<std::mutex> lock(mu_);
    for (const auto& w : watched_) {
      if (!w->finished) return false;
    }
    return true;
  }

  // Every job of every watched deployment once, in its most settled state.
  std::map<std::string, MergedJob> Merged() {
    std::lock_guard<std::mutex> lock(mu_);
    std::map<std::string, MergedJob> out;
    for (const auto& w : watched_) {
      for (const auto& [key, j] : w->jobs) {
        auto [it, fresh] = out.try_emplace(key, MergedJob{j, false, false});
        if (!fresh && Settled(j.stage()) > Settled(it->second.best.stage())) it->second.best = j;
        it->second.submitted = it->second.submitted || !j.cascaded();
        it->second.recompiled = it->second.recompiled || j.recompiled() ||
                                (j.cascaded() && j.stage() == Stage::STAGE_PUBLISHED);
      }
    }
    return out;
  }

  std::vector<Watched> Snapshot() {
    std::lock_guard<std::mutex> lock(mu_);
    std::vector<Watched> out;
    for (const auto& w : watched_) out.push_back(*w);
    return out;
  }

 private:
  // Follows one deployment to its end. A broken stream (ingest restarting, a load balancer
  // dropping it) is opened again: the deployment goes on on the server, and a new watch starts
  // from its full status. A server that does not answer for kLostAfter since the stream broke
  // is reported lost at once rather than waited for until the deadline.
  void Follow(Watched* w) {
    constexpr auto kLostAfter = std::chrono::seconds(30);
    const auto deadline = std::chrono::system_clock::now() + std::chrono::seconds(timeout_);
    grpc::Status end;
    std::optional<std::chrono::system_clock::time_point> broken_since;
    bool lost = false;
    for (int attempt = 0;; ++attempt) {
      grpc::ClientContext context;
      context.set_deadline(broken_since ? std::min(deadline, *broken_since + kLostAfter)
                                        : deadline);
      context.set_wait_for_ready(attempt > 0);  // a restarting server is waited for
      core::v1::WatchDeploymentRequest request;
      request.set_deployment_id(w->deployment_id);
      auto reader = stub_->WatchDeployment(&context, request);
      core::v1::DeploymentStatus status;
      while (reader->Read(&status)) {
        broken_since.reset();  // it answers
        std::lock_guard<std::mutex> lock(mu_);
        for (const auto& c : status.changes()) w->jobs[c.project() + "/" + c.job()] = c;
        w->last = status;
      }
      end = reader->Finish();
      const bool done = [&] {
        std::lock_guard<std::mutex> lock(mu_);
        return w->last.done();
      }();
      const auto now = std::chrono::system_clock::now();
      if (done || now >= deadline) break;
      if (broken_since && now >= *broken_since + kLostAfter) {
        lost = true;
        break;
      }
      // DEADLINE_EXCEEDED before the deadline: the attempt's own, shorter, limit (set while the
      // server was away) ended a watch that had come back.
      const bool broken = end.error_code() == grpc::StatusCode::UNAVAILABLE ||
                          end.error_code() == grpc::StatusCode::CANCELLED ||
                          end.error_code() == grpc::StatusCode::UNKNOWN ||
                          end.error_code() == grpc::StatusCode::DEADLINE_EXCEEDED;
      if (!broken) break;
      if (!broken_since) broken_since = now;
      std::this_thread::sleep_for(
          std::chrono::milliseconds(std::min(2000, 200 << std::min(attempt, 4))));
    }
    std::lock_guard<std::mutex> lock(mu_);
    if (lost) {
      w->error = "lost the server: no answer for " + std::to_string(kLostAfter.count()) +
                 " s since the watch broke (" + end.error_message() +
                 "); the deployment goes on if the server comes back (GET "
                 "/api/v1beta1/deployment/" +
                 w->deployment_id + " shows it)";
    } else if (!w->last.done()) {
      w->error = end.ok() ? "the server ended the watch early" : end.error_message();
      if (end.error_code() == grpc::StatusCode::DEADLINE_EXCEEDED) {
        w->error =
            "not done after " + std::to_string(timeout_) + " s (still running on the server)";
      }
    }
    w->finished = true;
  }

  std::unique_ptr<core::v1::DeploymentService::Stub> stub_;
  int timeout_;
  std::mutex mu_;
  std::vector<std::unique_ptr<Watched>> watched_;
  std::vector<std::thread> threads_;
};

void DrawBar(std::ostream& err, const Counts& c, double seconds) {
  const int total = std::max(1, c.submitted + c.cascaded);
  const int width = 30;
  const int filled = std::min(width, c.finished * width / total);
  err << "\r[" << std::string(static_cast<size_t>(filled), '=')
      << std::string(static_cast<size_t>(width - filled), ' ') << "] " << c.finished << "/" << total
      << "  stored " << c.stored << "  resolved " << c.resolved << "  published " << c.published
      << "  unchanged " << c.unchanged << "  failed " << c.failed << "  ("
      << static_cast<int>(seconds) << " s)   " << std::flush;
}

// The end of a deployment: per-job failures, jobs recompiled downstream, one summary line.
int Report(Watcher& watcher, const std::string& output, double seconds, double server_seconds,
           size_t namespaces, std::ostream& out, std::ostream& err) {
  const auto all = watcher.Snapshot();
  const auto merged = watcher.Merged();
  const Counts c = Count(merged);
  std::vector<core::v1::JobProgress> failed, waiting, cascaded, warned;
  std::vector<std::string> unfinished;
  for (const auto& w : all) {
    if (!w.error.empty()) unfinished.push_back(w.namespace_name + ": " + w.error);
  }
  for (const auto& [key, m] : merged) {
    if (m.best.stage() == Stage::STAGE_FAILED) failed.push_back(m.best);
    if (m.best.stage() == Stage::STAGE_WAITING) waiting.push_back(m.best);
    if (m.recompiled) cascaded.push_back(m.best);
    if (!m.best.warning().empty()) warned.push_back(m.best);
  }
  if (output == "json") {
    nlohmann::json j;
    j["deployments"] = nlohmann::json::array();
    for (const auto& w : all) {
      j["deployments"].push_back({{"id", w.deployment_id},
                                  {"namespace", w.namespace_name},
                                  {"done", w.last.done()},
                                  {"error", w.error}});
    }
    j["jobs"] = c.submitted;
    j["published"] = c.published;
    j["unchanged"] = c.unchanged;
    j["deleted"] = c.deleted;
    j["failed"] = nlohmann::json::array();
    for (const auto& f : failed) {
      j["failed"].push_back(
          {{"namespace", f.namespace_()}, {"job", f.job()}, {"error", f.error()}});
    }
    j["waiting"] = nlohmann::json::array();
    for (const auto& f : waiting) {
      j["waiting"].push_back(
          {{"namespace", f.namespace_()}, {"job", f.job()}, {"error", f.error()}});
    }
    j["warnings"] = nlohmann::json::array();
    for (const auto& w : warned) {
      j["warnings"].push_back(
          {{"namespace", w.namespace_()}, {"job", w.job()}, {"warning", w.warning()}});
    }
    j["recompiled_downstream"] = nlohmann::json::array();
    for (const auto& d : cascaded)
      j["recompiled_downstream"].push_back(d.project() + "/" + d.job());
    j["seconds"] = seconds;
    j["server_seconds"] = server_seconds;  // from the first deploy call to the last job done
    out << j.dump(2) << "\n";
  } else {
    if (!failed.empty() || !waiting.empty()) {
      out << "jobs without a new DAG:\n";
      for (const auto& f : failed) {
        out << "  failed   " << f.namespace_() << "/" << f.job() << "  " << f.error() << "\n";
      }
      for (const auto& f : waiting) {
        out << "  waiting  " << f.namespace_() << "/" << f.job() << "  " << f.error() << "\n";
      }
    }
    if (!warned.empty()) {
      out << "warnings:\n";
      for (const auto& w : warned) {
        out << "  " << w.namespace_() << "/" << w.job() << "  " << w.warning() << "\n";
      }
    }
    if (!cascaded.empty()) {
      out << "recompiled because an upstream changed (" << cascaded.size() << "):";
      size_t shown = 0;
      for (const auto& d : cascaded) {
        if (++shown > 20) {
          out << " ...";
          break;
        }
        out << " " << d.job();
      }
      out << "\n";
    }
    for (const auto& u : unfinished) err << "not finished: " << u << "\n";
    out << "deployed " << c.submitted << " jobs in " << namespaces << " namespaces: " << c.published
        << " published, " << c.unchanged << " unchanged, " << c.deleted << " deleted, " << c.failed
        << " failed";
    if (c.waiting > 0) out << ", " << c.waiting << " waiting for an upstream";
    if (c.cascaded > 0) out << "; " << c.cascaded << " downstream jobs recompiled";
    char buf[64];
    std::snprintf(buf, sizeof buf, "%.2f s; %.2f s on the server", seconds, server_seconds);
    out << " (" << buf << ")\n";
  }
  return failed.empty() && waiting.empty() && unfinished.empty() ? 0 : 1;
}

// Shows progress until every watch ends.
void Follow(Watcher& watcher, bool bar, std::ostream& err,
            std::chrono::steady_clock::time_point start) {
  if (!bar) {
    watcher.Join();  // nothing to draw: return the moment the last watch ends
    return;
  }
  while (!watcher.AllFinished()) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    if (bar) {
      DrawBar(err, Count(watcher.Merged()),
              std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
    }
  }
  watcher.Join();
  if (bar) {
    DrawBar(err, Count(watcher.Merged()),
            std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
    err << "\n";
  }
}

}  // namespace

std::shared_ptr<grpc::Channel> Connect(const std::string& host, const std::string& command,
                                       std::ostream& err) {
  auto channel = Dial(host);
  if (!channel->WaitForConnected(std::chrono::system_clock::now() + std::chrono::seconds(10))) {
    err << command << ": cannot reach the server at " << host
        << " (is `optimus serve` running? set host in optimus.yaml or --host)\n";
    return nullptr;
  }
  return channel;
}

core::v1::RegisterProjectRequest ProjectRequest(const spec::ClientConfig& config,
                                                const fs::path& dir, bool with_namespaces) {
  core::v1::RegisterProjectRequest r;
  r.set_name(config.project_name);
  for (const auto& [k, v] : config.project_config) (*r.mutable_config())[k] = v;
  for (const auto& [k, v] : config.project_variables) (*r.mutable_variables())[k] = v;
  if (with_namespaces) {
    for (const auto& ns : config.namespaces) *r.add_namespaces() = NamespaceMessage(ns);
  }
  if (!config.preset_path.empty()) {
    std::ifstream file(dir / config.preset_path, std::ios::binary);
    std::stringstream text;
    text << file.rdbuf();
    r.set_presets_yaml(text.str());
  }
  return r;
}

core::v1::Namespace NamespaceMessage(const spec::NamespaceConfig& ns) {
  core::v1::Namespace n;
  n.set_name(ns.name);
  for (const auto& [k, v] : ns.config) (*n.mutable_config())[k] = v;
  for (const auto& [k, v] : ns.variables) (*n.mutable_variables())[k] = v;
  return n;
}

int RunDeployCommand(int argc, char** argv, DeployMode mode, std::ostream& out, std::ostream& err) {
  const std::string command = mode == DeployMode::kDeploy       ? "optimus deploy"
                              : mode == DeployMode::kReplaceAll ? "optimus job replace-all"
                                                                : "optimus job deploy";
  std::string dir = ".", config = "optimus.yaml", host, timeout, output = "table", single_ns;
  std::vector<std::string> namespaces, jobs;
  Flags flags(command);
  flags.String("dir", 'd', &dir);
  flags.String("config", 'c', &config);
  flags.String("host", 0, &host);
  flags.List("namespaces", 'N', &namespaces, true);
  flags.String("namespace", 'n', &single_ns);
  flags.List("jobs", 'J', &jobs, true);
  flags.String("timeout", 0, &timeout);
  flags.String("output", 'o', &output);
  if (auto code = flags.ParseCommand(argc, argv, kDeployHelp, out, err)) return *code;
  if (output != "table" && output != "json") {
    err << command << ": --output is table or json, not \"" << output << "\"\n";
    return 2;
  }
  const int timeout_seconds = ParseTimeoutSeconds(timeout, 600);
  if (timeout_seconds <= 0) {
    err << command << ": --timeout \"" << timeout << "\" is not a duration like 90s, 10m or 1h\n";
    return 2;
  }
  if (mode != DeployMode::kUpsert && !jobs.empty()) {
    // A replacing deploy of a few jobs would delete every other job of the namespace.
    err << command << ": -J/--jobs selects jobs for `optimus job deploy` (add and update); "
        << command << " replaces whole namespaces\n";
    return 2;
  }
  if (mode == DeployMode::kUpsert) {
    if (single_ns.empty()) {
      err << command << ": give the namespace with -n NAME\n";
      return 2;
    }
    namespaces = {single_ns};
  } else if (!single_ns.empty()) {
    namespaces.push_back(single_ns);
  }
  const auto started = std::chrono::steady_clock::now();
  spec::Diagnostics diagnostics;
  // `job deploy -J` reads only the jobs it names.
  std::optional<spec::JobSelection> selection;
  if (mode == DeployMode::kUpsert && !jobs.empty()) {
    selection = spec::JobSelection{single_ns, {jobs.begin(), jobs.end()}};
  }
  auto project = spec::ReadProject(dir, config, diagnostics, selection ? &*selection : nullptr);
  if (!project) {
    err << command << ": cannot read the project in " << dir << ":\n" << diagnostics.ToString();
    return 2;
  }
  std::set<std::string> selected(namespaces.begin(), namespaces.end());
  for (const std::string& ns : selected) {
    bool known = false;
    for (const auto& n : project->config.namespaces) known = known || n.name == ns;
    if (!known) {
      err << command << ": namespace \"" << ns << "\" is not in " << config << "\n";
      return 2;
    }
  }
  std::set<std::string> wanted_jobs(jobs.begin(), jobs.end());
  for (const std::string& name : wanted_jobs) {
    bool found = false;
    for (const auto& job : project->jobs)
      found = found || (job.name == name && job.namespace_name == single_ns);
    if (!found) {
      err << command << ": no job named \"" << name << "\" in namespace " << single_ns << "\n";
      return 2;
    }
  }
  // Local checks first: nothing goes to the server while a spec is broken.
  spec::ValidateProject(*project, nullptr, spec::ScheduleValidationHooks(), diagnostics);
  std::vector<spec::Diagnostic> problems;
  for (const auto& d : diagnostics.items()) {
    if (d.severity == spec::Severity::kError) problems.push_back(d);
  }
  if (!problems.empty()) {
    PrintTable(out, problems);
    err << command << ": " << problems.size()
        << " problems in the specs; nothing was sent (see 'optimus job validate')\n";
    return 1;
  }
  if (host.empty()) host = project->config.host;
  auto channel = Connect(host, command, err);
  if (!channel) return 2;
  auto stub = core::v1::DeploymentService::NewStub(channel);

  {
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(60));
    core::v1::RegisterProjectResponse response;
    grpc::Status s =
        stub->RegisterProject(&context, ProjectRequest(project->config, dir, true), &response);
    if (!s.ok()) {
      err << command << ": the server refused the project: " << s.error_message() << "\n";
      return 2;
    }
  }
  Watcher watcher(channel, timeout_seconds);
  // Namespaces go a few at a time: the server validates and records one while the next is on
  // the wire. Each is followed once accepted; a refusal stops the rest from being sent.
  std::vector<core::v1::DeployRequest> requests;
  for (const auto& ns : project->config.namespaces) {
    if (!selected.empty() && selected.count(ns.name) == 0) continue;
    core::v1::DeployRequest& request = requests.emplace_back();
    request.set_project(project->config.project_name);
    request.set_namespace_(ns.name);
    request.set_mode(mode == DeployMode::kUpsert ? events::v1::DEPLOY_MODE_UPSERT
                                                 : events::v1::DEPLOY_MODE_REPLACE_ALL);
    for (const auto& job : project->jobs) {
      if (job.namespace_name != ns.name) continue;
      if (!wanted_jobs.empty() && wanted_jobs.count(job.name) == 0) continue;
      auto* file = request.add_jobs();
      file->set_name(job.name);
      file->set_spec_yaml(spec::WriteJobSpec(job));
      file->set_source_path(job.file);
      for (const auto& [name, content] : job.assets) {
        auto* asset = file->add_assets();
        asset->set_name(name);
        asset->set_inline_(content);
      }
    }
  }
  if (requests.size() > 1) {
    // One batch: the server holds back jobs whose writer may be in a namespace still on its way.
    std::random_device random;
    const std::string batch =
        absl::StrCat(absl::Hex(random(), absl::kZeroPad8), absl::Hex(random(), absl::kZeroPad8),
                     "-", project->config.project_name);
    for (auto& request : requests) {
      request.set_batch_id(batch);
      request.set_batch_size(static_cast<int32_t>(requests.size()));
    }
  }
  constexpr size_t kInFlight = 4;
  size_t sent_namespaces = 0;
  std::string refused;
  const auto sent = std::chrono::steady_clock::now();
  for (size_t first = 0; first < requests.size() && refused.empty(); first += kInFlight) {
    const size_t last = std::min(requests.size(), first + kInFlight);
    std::vector<std::future<std::pair<grpc::Status, std::string>>> calls;
    for (size_t i = first; i < last; ++i) {
      calls.push_back(std::async(std::launch::async, [&stub, &request = requests[i]] {
        grpc::ClientContext context;
        context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(120));
        core::v1::DeployResponse response;
        grpc::Status s = stub->Deploy(&context, request, &response);
        return std::make_pair(s, response.deployment_id());
      }));
    }
    for (size_t i = first; i < last; ++i) {
      auto [s, id] = calls[i - first].get();
      if (!s.ok()) {
        if (refused.empty()) {
          refused =
              "the server refused namespace " + requests[i].namespace_() + ": " + s.error_message();
        }
        continue;
      }
      watcher.Add(id, requests[i].namespace_());
      ++sent_namespaces;
    }
  }
  if (!refused.empty()) {
    err << command << ": " << refused << "\n";
    if (sent_namespaces > 0) {
      // The namespaces taken before the refusal go on on the server: show how they end.
      err << command << ": following the " << sent_namespaces << " namespaces already taken\n";
      Follow(watcher, false, err, started);
      const auto now = std::chrono::steady_clock::now();
      Report(watcher, output, std::chrono::duration<double>(now - started).count(),
             std::chrono::duration<double>(now - sent).count(), sent_namespaces, out, err);
    }
    return 2;
  }
  for (const std::string& name : wanted_jobs) {
    bool found = false;
    for (const auto& job : project->jobs) found = found || job.name == name;
    if (!found) err << command << ": warning: no job named " << name << " in the project\n";
  }
  Follow(watcher, output == "table" && &err == &std::cerr && isatty(2) != 0, err, started);
  const auto now = std::chrono::steady_clock::now();
  return Report(watcher, output, std::chrono::duration<double>(now - started).count(),
                std::chrono::duration<double>(now - sent).count(), sent_namespaces, out, err);
}

int RunJobDeleteCommand(int argc, char** argv, std::ostream& out, std::ostream& err) {
  const std::string command = "optimus job delete";
  std::string dir = ".", config = "optimus.yaml", host, timeout, ns;
  bool force = false;
  Flags flags(command);
  flags.String("dir", 'd', &dir);
  flags.String("config", 'c', &config);
  flags.String("host", 0, &host);
  flags.String("namespace", 'n', &ns);
  flags.String("timeout", 0, &timeout);
  flags.Bool("force", 0, &force);
  if (auto code = flags.ParseCommand(argc, argv, kDeleteHelp, out, err, 1)) return *code;
  if (flags.positional().size() != 1 || ns.empty()) {
    err << command << ": give the job and its namespace: optimus job delete JOB -n NAMESPACE\n";
    return 2;
  }
  const int timeout_seconds = ParseTimeoutSeconds(timeout, 120);
  if (timeout_seconds <= 0) {
    err << command << ": --timeout \"" << timeout << "\" is not a duration like 90s or 2m\n";
    return 2;
  }
  spec::Diagnostics diagnostics;
  const fs::path config_path = fs::path(dir) / config;
  auto text = spec::ReadFile(config_path, config, diagnostics);
  auto client = text ? spec::LoadClientConfig(config, *text, diagnostics) : std::nullopt;
  if (!client) {
    err << command << ": cannot read " << config_path.string() << ":\n" << diagnostics.ToString();
    return 2;
  }
  if (host.empty()) host = client->host;
  auto channel = Connect(host, command, err);
  if (!channel) return 2;
  auto stub = core::v1::DeploymentService::NewStub(channel);
  core::v1::DeployRequest request;
  request.set_project(client->project_name);
  request.set_namespace_(ns);
  request.set_mode(events::v1::DEPLOY_MODE_DELETE);
  request.set_force(force);
  request.add_delete_jobs(flags.positional()[0]);
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(60));
  core::v1::DeployResponse response;
  grpc::Status s = stub->Deploy(&context, request, &response);
  if (!s.ok()) {
    err << command << ": the server refused: " << s.error_message() << "\n";
    return 2;
  }
  Watcher watcher(channel, timeout_seconds);
  watcher.Add(response.deployment_id(), ns);
  const auto started = std::chrono::steady_clock::now();
  Follow(watcher, false, err, started);
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  return Report(watcher, "table", seconds, seconds, 1, out, err);
}

}  // namespace optimus::cli
