// `optimus replay create|status|list|cancel` (Optimus's replay commands, through its
// ReplayService) and `optimus job runs` (the native scheduler's runs of a project's jobs).
#include "replay_command.h"

#include <grpcpp/grpcpp.h>

#include <chrono>
#include <iomanip>
#include <map>
#include <sstream>
#include <thread>

#include "absl/strings/numbers.h"
#include "channel.h"
#include "execution_client.h"
#include "google/protobuf/util/time_util.h"
#include "optimus/integration/v1beta1/replay.grpc.pb.h"
#include "optimus/rpc/proto_json.h"
#include "optimus/schedule/time_util.h"

namespace optimus::cli {
namespace {

namespace replay_api = gotocompany::optimus::core::v1beta1;
using google::protobuf::util::TimeUtil;

// RFC 3339, or a date (midnight UTC).
bool ParseWhen(const std::string& command, const char* what, const std::string& text,
               google::protobuf::Timestamp* out, std::ostream& err) {
  absl::CivilDay day;
  if (absl::ParseCivilTime(text, &day)) {
    *out = TimeUtil::SecondsToTimestamp(
        absl::ToUnixSeconds(absl::FromCivil(day, absl::UTCTimeZone())));
    return true;
  }
  auto at = schedule::ParseRfc3339(text);
  if (!at.ok()) {
    err << command << ": " << what << " \"" << text
        << "\" is not a date (2024-03-07) or an RFC 3339 time (2024-03-07T02:00:00Z)\n";
    return false;
  }
  *out = TimeUtil::MillisecondsToTimestamp(absl::ToUnixMillis(*at));
  return true;
}

bool ReplayEnded(const std::string& status) {
  return status == "success" || status == "failed" || status == "cancelled";
}

void RunsTable(const google::protobuf::RepeatedPtrField<replay_api::ReplayRun>& runs,
               std::ostream& out) {
  size_t width = 3;
  for (const auto& r : runs) width = std::max(width, r.job_name().size());
  out << std::left << std::setw(static_cast<int>(width) + 2) << "JOB" << std::setw(22)
      << "SCHEDULED AT"
      << "STATUS\n";
  for (const auto& r : runs) {
    out << std::left << std::setw(static_cast<int>(width) + 2) << r.job_name() << std::setw(22)
        << Time(r.scheduled_at(), r.has_scheduled_at()) << r.status() << "\n";
  }
}

void Status(const replay_api::GetReplayResponse& r, std::ostream& out) {
  const auto line = [&out](const char* key, const std::string& value) {
    out << std::left << std::setw(14) << key << value << "\n";
  };
  const auto& c = r.replay_config();
  line("replay", r.id());
  line("job", r.job_name() +
                  (r.namespace_name().empty() ? "" : "  (namespace " + r.namespace_name() + ")"));
  line("mode", std::string(c.parallel() ? "parallel" : "sequential") +
                   (r.include_downstream() ? ", with downstream jobs" : ""));
  line("range",
       Time(c.start_time(), c.has_start_time()) + " .. " + Time(c.end_time(), c.has_end_time()));
  if (!c.description().empty()) line("description", c.description());
  line("status", r.status() + (r.message().empty() ? "" : " (" + r.message() + ")"));
  for (const auto& [k, v] :
       std::map<std::string, std::string>(c.job_config().begin(), c.job_config().end())) {
    line("job config", k + "=" + v);
  }
  line("runs", std::to_string(r.replay_runs_size()));
  if (r.replay_runs_size() > 0) RunsTable(r.replay_runs(), out);
}

constexpr char kReplayHelp[] =
    "Usage: optimus replay create|status|list|cancel [flags]\n\n"
    "Runs a job of a native project again for past scheduled times (after a fix, or to fill\n"
    "windows that never ran), as Optimus's replay does.\n\n"
    "  create JOB START [END]   the job's runs scheduled from START to END (inclusive; dates\n"
    "                           like 2024-03-07 or RFC 3339 times); prints the replay's id\n"
    "      --parallel             run them all at once (default: one at a time, in order)\n"
    "      --with-downstream      also run again the downstream jobs' runs that read them,\n"
    "                             after the runs they read\n"
    "      --dry-run              only list the runs it would make\n"
    "      --description TEXT     why (-d is the project directory, as in every command)\n"
    "      --job-config K=V,K2=V2 extra config for the replayed runs (IGNORE_UPSTREAM=True\n"
    "                             skips the upstream check)\n"
    "  -n, --namespace-name NS    the job's namespace (checked when given)\n"
    "  -w, --wait                 follow the replay until it ends (exit 1 unless it succeeded)\n"
    "  status ID                the replay and the state of each of its runs\n"
    "  list                     the project's replays, newest first\n"
    "  cancel ID                stop it: waiting runs are cancelled, running ones stopped\n\n"
    "Flags:\n"
    "  -o, --output FORMAT      text (default) or json\n"
    "%s";

}  // namespace

std::string RunTimeline(const core::v1::ListScheduledRunsResponse& runs) {
  std::map<std::string, std::map<int64_t, const core::v1::ScheduledRun*>> by_job;
  std::map<int64_t, std::string> ticks;  // tick -> its column heading
  for (const auto& r : runs.runs()) {
    by_job[r.job()][r.scheduled_at().seconds()] = &r;
    ticks[r.scheduled_at().seconds()] = Time(r.scheduled_at(), true).substr(5, 11);
  }
  size_t width = 3;
  for (const auto& [job, _] : by_job) width = std::max(width, job.size());
  const auto cell = [](const core::v1::ScheduledRun* r) -> std::string {
    if (r == nullptr) return "-";
    static const std::map<std::string, std::string> kShort = {
        {"succeeded", "ok"},    {"failed", "FAILED"},    {"waiting", "waiting"},
        {"running", "running"}, {"retry_wait", "retry"}, {"cancelled", "cancelled"}};
    auto it = kShort.find(r->state());
    std::string text = it == kShort.end() ? r->state() : it->second;
    if (r->generation() > 1) text += "+" + std::to_string(r->generation() - 1);
    return text;
  };
  std::string text;
  const auto line = [&](const std::ostringstream& row) {
    std::string s = row.str();
    s.erase(s.find_last_not_of(' ') + 1);  // no padding after the last column
    text += s + "\n";
  };
  std::ostringstream heading_row;
  heading_row << std::left << std::setw(static_cast<int>(width) + 2) << "JOB";
  for (const auto& [tick, heading] : ticks) heading_row << std::setw(13) << heading;
  line(heading_row);
  for (const auto& [job, mine] : by_job) {
    std::ostringstream row;
    row << std::left << std::setw(static_cast<int>(width) + 2) << job;
    for (const auto& [tick, heading] : ticks) {
      auto it = mine.find(tick);
      row << std::setw(13) << cell(it == mine.end() ? nullptr : it->second);
    }
    line(row);
  }
  return text;
}

int RunReplayCommand(int argc, char** argv, std::ostream& out, std::ostream& err) {
  static const std::string kHelp = Help(kReplayHelp);
  std::string verb;
  if (auto code = Verb(argc, argv, kHelp, out, err, verb)) return *code;
  const std::string command = "optimus replay " + verb;
  Target target;
  std::string description, job_config, namespace_name, output = "text";
  bool parallel = false, downstream = false, dry_run = false, wait = false;
  Flags flags(command);
  target.Declare(flags);
  flags.Bool("parallel", 0, &parallel);
  flags.Bool("with-downstream", 0, &downstream);
  flags.Bool("dry-run", 0, &dry_run);
  flags.Bool("wait", 'w', &wait);
  flags.String("description", 0, &description);
  flags.String("job-config", 0, &job_config);
  flags.String("namespace-name", 'n', &namespace_name);
  flags.String("output", 'o', &output);
  if (auto code = flags.ParseCommand(argc - 1, argv + 1, kHelp.c_str(), out, err, 3)) return *code;
  if (verb != "create" && verb != "status" && verb != "list" && verb != "cancel") {
    err << "optimus replay: unknown command '" << verb << "' (create, status, list, cancel)\n";
    return 2;
  }
  if (output != "text" && output != "json") {
    err << command << ": --output is text or json, not \"" << output << "\"\n";
    return 2;
  }
  const auto& args = flags.positional();
  if (verb == "create" && (args.size() < 2 || args.size() > 3)) {
    err << command << ": give the job and the range: optimus replay create JOB START [END]\n";
    return 2;
  }
  if ((verb == "status" || verb == "cancel") && args.size() != 1) {
    err << command << ": give the replay's id\n";
    return 2;
  }
  if (verb == "list" && !args.empty()) {
    err << command << ": takes no arguments\n";
    return 2;
  }
  replay_api::ReplayRequest request;
  if (verb == "create") {
    request.set_job_name(args[0]);
    if (!ParseWhen(command, "START", args[1], request.mutable_start_time(), err)) return 2;
    if (!ParseWhen(command, "END", args.size() == 3 ? args[2] : args[1], request.mutable_end_time(),
                   err)) {
      return 2;
    }
    request.set_parallel(parallel);
    request.set_include_downstream(downstream);
    request.set_description(description);
    request.set_job_config(job_config);
    request.set_namespace_name(namespace_name);
  }
  if (!target.Resolve(command, err)) return 2;
  request.set_project_name(target.project);
  auto stub = replay_api::ReplayService::NewStub(Dial(target.host));
  const auto get = [&](const std::string& id, replay_api::GetReplayResponse* r) {
    replay_api::GetReplayRequest req;
    req.set_project_name(target.project);
    req.set_replay_id(id);
    auto context = Call();
    return stub->GetReplay(context.get(), req, r);
  };
  if (verb == "create" && dry_run) {
    replay_api::ReplayDryRunResponse response;
    auto context = Call(60);
    grpc::Status s = stub->ReplayDryRun(context.get(), request, &response);
    if (!s.ok()) return Failed(command, target.host, s, err);
    if (output == "json") {
      out << rpc::ToJson(response).value_or("{}") << "\n";
      return 0;
    }
    out << "a replay would run " << response.replay_runs_size() << " runs:\n";
    RunsTable(response.replay_runs(), out);
    return 0;
  }
  if (verb == "create") {
    replay_api::ReplayResponse response;
    auto context = Call(60);
    grpc::Status s = stub->Replay(context.get(), request, &response);
    if (!s.ok()) return Failed(command, target.host, s, err);
    if (!wait) {
      if (output == "json") {
        out << rpc::ToJson(response).value_or("{}") << "\n";
      } else {
        out << "replay " << response.id() << " accepted; follow it with: optimus replay status "
            << response.id() << "\n";
      }
      return 0;
    }
    std::string last;
    for (;;) {
      replay_api::GetReplayResponse r;
      grpc::Status g = get(response.id(), &r);
      if (!g.ok()) return Failed(command, target.host, g, err);
      int done = 0;
      for (const auto& run : r.replay_runs()) {
        done += run.status() == "success" || run.status() == "failed" || run.status() == "canceled";
      }
      const std::string progress = r.status() + ": " + std::to_string(done) + " of " +
                                   std::to_string(r.replay_runs_size()) + " runs ended";
      if (progress != last && output == "text")
        err << "replay " << r.id() << " " << progress << "\n";
      last = progress;
      if (ReplayEnded(r.status())) {
        if (output == "json") {
          out << rpc::ToJson(r).value_or("{}") << "\n";
        } else {
          Status(r, out);
        }
        return r.status() == "success" ? 0 : 1;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(500));
    }
  }
  if (verb == "status") {
    replay_api::GetReplayResponse r;
    grpc::Status s = get(args[0], &r);
    if (!s.ok()) return Failed(command, target.host, s, err);
    if (output == "json") {
      out << rpc::ToJson(r).value_or("{}") << "\n";
    } else {
      Status(r, out);
    }
    return 0;
  }
  if (verb == "list") {
    replay_api::ListReplayRequest req;
    req.set_project_name(target.project);
    replay_api::ListReplayResponse response;
    auto context = Call();
    grpc::Status s = stub->ListReplay(context.get(), req, &response);
    if (!s.ok()) return Failed(command, target.host, s, err);
    if (output == "json") {
      out << rpc::ToJson(response).value_or("{}") << "\n";
      return 0;
    }
    if (response.replays().empty()) {
      out << "no replays in project " << target.project << "\n";
      return 0;
    }
    out << std::left << std::setw(38) << "ID" << std::setw(24) << "JOB" << std::setw(22) << "START"
        << std::setw(22) << "END" << std::setw(13) << "STATUS"
        << "DESCRIPTION\n";
    for (const auto& r : response.replays()) {
      const auto& c = r.replay_config();
      out << std::left << std::setw(38) << r.id() << std::setw(24) << r.job_name() << std::setw(22)
          << Time(c.start_time(), c.has_start_time()) << std::setw(22)
          << Time(c.end_time(), c.has_end_time()) << std::setw(13) << r.status() << c.description()
          << "\n";
    }
    return 0;
  }
  replay_api::CancelReplayRequest req;
  req.set_project_name(target.project);
  req.set_replay_id(args[0]);
  replay_api::CancelReplayResponse response;
  auto context = Call();
  grpc::Status s = stub->CancelReplay(context.get(), req, &response);
  if (!s.ok()) return Failed(command, target.host, s, err);
  if (output == "json") {
    out << rpc::ToJson(response).value_or("{}") << "\n";
  } else {
    out << "replay " << args[0] << " of " << response.job_name() << " cancelled\n";
    RunsTable(response.replay_runs(), out);
  }
  return 0;
}

int RunJobRunsCommand(int argc, char** argv, std::ostream& out, std::ostream& err) {
  const std::string command = "optimus job runs";
  static const std::string kHelp = Help(
      "Usage: optimus job runs [JOB] [flags]\n\n"
      "The native scheduler's runs of the project's jobs (or of JOB), newest scheduled time\n"
      "first: state, try, generation (replays), and what a waiting run waits for.\n\n"
      "Flags:\n"
      "      --state STATE      waiting, running, retry_wait, succeeded, failed or cancelled\n"
      "      --limit N          at most N runs (default 100)\n"
      "      --timeline         one line per job, one column per scheduled time (oldest first)\n"
      "  -o, --output FORMAT    text (default) or json\n"
      "%s");
  Target target;
  std::string state, limit, output = "text";
  bool timeline = false;
  Flags flags(command);
  target.Declare(flags);
  flags.Bool("timeline", 0, &timeline);
  flags.String("state", 0, &state);
  flags.String("limit", 0, &limit);
  flags.String("output", 'o', &output);
  if (auto code = flags.ParseCommand(argc, argv, kHelp.c_str(), out, err, 1)) return *code;
  int n = 0;
  if (!limit.empty() && (!absl::SimpleAtoi(limit, &n) || n < 1)) {
    err << command << ": --limit takes a whole number from 1\n";
    return 2;
  }
  if (output != "text" && output != "json") {
    err << command << ": --output is text or json, not \"" << output << "\"\n";
    return 2;
  }
  if (!target.Resolve(command, err)) return 2;
  core::v1::ListScheduledRunsRequest request;
  request.set_project_name(target.project);
  if (!flags.positional().empty()) request.set_job_name(flags.positional()[0]);
  request.set_state(state);
  request.set_limit(n);
  auto stub = core::v1::ExecutionService::NewStub(Dial(target.host));
  core::v1::ListScheduledRunsResponse response;
  auto context = Call();
  grpc::Status s = stub->ListScheduledRuns(context.get(), request, &response);
  if (!s.ok()) return Failed(command, target.host, s, err);
  if (output == "json") {
    out << rpc::ToJson(response).value_or("{}") << "\n";
    return 0;
  }
  if (response.runs().empty()) {
    out << "no scheduled runs" << (request.job_name().empty() ? "" : " of " + request.job_name())
        << " in project " << target.project
        << " (native scheduling needs project config scheduler: native)\n";
    return 0;
  }
  if (timeline) {
    out << RunTimeline(response);
    return 0;
  }
  size_t width = 3;
  for (const auto& r : response.runs()) width = std::max(width, r.job().size());
  out << std::left << std::setw(static_cast<int>(width) + 2) << "JOB" << std::setw(22)
      << "SCHEDULED AT" << std::setw(12) << "STATE" << std::setw(5) << "TRY" << std::setw(5)
      << "GEN"
      << "MESSAGE\n";
  for (const auto& r : response.runs()) {
    out << std::left << std::setw(static_cast<int>(width) + 2) << r.job() << std::setw(22)
        << Time(r.scheduled_at(), r.has_scheduled_at()) << std::setw(12) << r.state()
        << std::setw(5) << r.try_number() << std::setw(5) << r.generation() << r.message() << "\n";
  }
  return 0;
}

}  // namespace optimus::cli
