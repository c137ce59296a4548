// `optimus job execute` and `optimus execution list|describe|cancel|logs`: runs of deployed jobs
// and catalog tasks on executors, through the dispatcher's ExecutionService.
#include "execution_command.h"

#include <grpcpp/grpcpp.h>

#include <algorithm>
#include <iomanip>
#include <map>

#include "absl/strings/numbers.h"
#include "channel.h"
#include "execution_client.h"
#include "google/protobuf/util/time_util.h"
#include "optimus/rpc/proto_json.h"
#include "optimus/schedule/time_util.h"

namespace optimus::cli {
namespace {

using google::protobuf::util::TimeUtil;

void Describe(const core::v1::Execution& e, std::ostream& out) {
  const auto line = [&out](const char* key, const std::string& value) {
    out << std::left << std::setw(14) << key << value << "\n";
  };
  line("execution", e.id());
  line(e.kind() == "task" ? "task" : "job",
       e.project() + "/" + e.name() +
           (e.namespace_().empty() ? "" : "  (namespace " + e.namespace_() + ")"));
  line("state",
       e.state() + (e.cancel_requested() && !Terminal(e.state()) ? " (cancel asked)" : ""));
  line("attempt", std::to_string(e.attempt()) + " of " + std::to_string(e.max_attempts()));
  if (e.has_scheduled_at()) line("scheduled at", Time(e.scheduled_at(), true));
  line("executor", e.executor_id().empty() ? "-" : e.executor_id());
  if (e.has_exit_code()) line("exit code", std::to_string(e.exit_code()));
  if (!e.message().empty()) line("message", e.message());
  line("priority", std::to_string(e.priority()));
  if (!e.pool().empty()) line("pool", e.pool());
  line("queued", Time(e.created_at(), e.has_created_at()));
  line("started", Time(e.started_at(), e.has_started_at()));
  line("ended", Time(e.ended_at(), e.has_ended_at()));
  line("requested by", e.requested_by());
  line("logs", e.log_prefix());
  for (const auto& [k, v] : std::map<std::string, std::string>(e.args().begin(), e.args().end())) {
    line("arg", k + "=" + v);
  }
  for (const auto& step : e.plan().steps()) {
    const char* kind = step.kind() == core::v1::ExecutionStep::KIND_HOOK_PRE    ? "pre hook"
                       : step.kind() == core::v1::ExecutionStep::KIND_HOOK_POST ? "post hook"
                       : step.kind() == core::v1::ExecutionStep::KIND_HOOK_FAIL ? "fail hook"
                                                                                : "task";
    line("step", std::string(kind) + " " + step.name() +
                     (step.image().empty() ? "" : "  (" + step.image() + ")"));
  }
}

constexpr char kJobExecuteHelp[] =
    "Usage: optimus job execute JOB [flags]\n\n"
    "Runs a deployed job now on an executor, for a scheduled time (its window, DSTART and DEND\n"
    "are computed as for a scheduled run), and prints the execution's id. With --follow it\n"
    "shows the run's output as it comes and exits with its outcome.\n\n"
    "Flags:\n"
    "      --scheduled-at TIME  the run's scheduled time, RFC 3339 (default: now, to the minute)\n"
    "      --env KEY=VALUE      extra environment for the task and hooks (repeatable)\n"
    "      --timeout SECONDS    stop the run after this long (default: the server's)\n"
    "      --request-key KEY    run once per key: the same key again returns the first run\n"
    "  -f, --follow           follow the run's logs to its end\n"
    "  -o, --output FORMAT    text (default) or json\n"
    "%s\n"
    "Exit status: 0 queued (with --follow: succeeded), 1 refused or the run did not succeed,\n"
    "2 bad flags or an unreachable server.\n";

}  // namespace

int RunJobExecuteCommand(int argc, char** argv, std::ostream& out, std::ostream& err) {
  const std::string command = "optimus job execute";
  Target target;
  std::string scheduled, timeout, key, output = "text";
  std::vector<std::string> env;
  bool follow = false;
  Flags flags(command);
  target.Declare(flags);
  flags.String("scheduled-at", 0, &scheduled);
  flags.List("env", 0, &env);
  flags.String("timeout", 0, &timeout);
  flags.String("request-key", 0, &key);
  flags.Bool("follow", 'f', &follow);
  flags.String("output", 'o', &output);
  const std::string help = Help(kJobExecuteHelp);
  if (auto code = flags.ParseCommand(argc, argv, help.c_str(), out, err, 1)) return *code;
  if (flags.positional().size() != 1) {
    err << command << ": name the job: optimus job execute JOB\n";
    return 2;
  }
  core::v1::ExecuteJobRequest request;
  request.set_job_name(flags.positional()[0]);
  if (!scheduled.empty()) {
    auto at = schedule::ParseRfc3339(scheduled);
    if (!at.ok()) {
      err << command << ": --scheduled-at \"" << scheduled
          << "\" is not an RFC 3339 time (e.g. 2024-03-07T02:00:00Z)\n";
      return 2;
    }
    *request.mutable_scheduled_at() = TimeUtil::MillisecondsToTimestamp(absl::ToUnixMillis(*at));
  }
  int64_t seconds = 0;
  if (!timeout.empty() && (!absl::SimpleAtoi(timeout, &seconds) || seconds <= 0)) {
    err << command << ": --timeout takes whole seconds above 0\n";
    return 2;
  }
  request.set_timeout_seconds(seconds);
  request.set_request_key(key);
  if (!Pairs(command, "env", env, request.mutable_env(), err)) return 2;
  if (output != "text" && output != "json") {
    err << command << ": --output is text or json, not \"" << output << "\"\n";
    return 2;
  }
  if (!target.Resolve(command, err)) return 2;
  request.set_project_name(target.project);
  auto stub = core::v1::ExecutionService::NewStub(Dial(target.host));
  core::v1::Execution e;
  auto context = Call();
  grpc::Status s = stub->ExecuteJob(context.get(), request, &e);
  if (!s.ok()) return Failed(command, target.host, s, err);
  if (output == "json") {
    out << rpc::ToJson(e).value_or("{}") << "\n";
  } else {
    out << "execution " << e.id() << " of " << e.name() << " queued (scheduled at "
        << Time(e.scheduled_at(), e.has_scheduled_at()) << ")\n";
  }
  if (!follow) return 0;
  return Logs(*stub, command, target.host, target.project, e.id(), 0, true, out, err);
}

int RunExecutionCommand(int argc, char** argv, std::ostream& out, std::ostream& err) {
  static const std::string kHelp = Help(
      "Usage: optimus execution list|describe|cancel|logs [flags]\n\n"
      "  list                 the project's executions, newest first\n"
      "                       (--name JOB, --state S (repeatable), --limit N, -o json)\n"
      "  describe ID          one execution: state, attempts, executor, exit code, steps\n"
      "  cancel ID            cancel it: a queued one at once, a running one at its executor's\n"
      "                       next heartbeat\n"
      "  logs ID              its output (--attempt N, -f/--follow until it ends)\n\n"
      "Flags:\n"
      "%s");
  std::string verb;
  if (auto code = Verb(argc, argv, kHelp, out, err, verb)) return *code;
  const std::string command = "optimus execution " + verb;
  Target target;
  std::string name, limit, output = "text", attempt;
  std::vector<std::string> states;
  bool follow = false;
  Flags flags(command);
  target.Declare(flags);
  flags.String("name", 0, &name);
  flags.List("state", 0, &states, true);
  flags.String("limit", 0, &limit);
  flags.String("output", 'o', &output);
  flags.String("attempt", 0, &attempt);
  flags.Bool("follow", 'f', &follow);
  if (auto code = flags.ParseCommand(argc - 1, argv + 1, kHelp.c_str(), out, err, 1)) return *code;
  if (verb != "list" && verb != "describe" && verb != "cancel" && verb != "logs") {
    err << "optimus execution: unknown command '" << verb << "' (list, describe, cancel, logs)\n";
    return 2;
  }
  if (verb != "list" && flags.positional().size() != 1) {
    err << command << ": give the execution id\n";
    return 2;
  }
  if (!target.Resolve(command, err)) return 2;
  auto stub = core::v1::ExecutionService::NewStub(Dial(target.host));
  if (verb == "list") {
    core::v1::ListExecutionsRequest request;
    request.set_project_name(target.project);
    request.set_name(name);
    for (const auto& s : states) request.add_states(s);
    int n = 0;
    if (!limit.empty() && !absl::SimpleAtoi(limit, &n)) {
      err << command << ": --limit takes a whole number\n";
      return 2;
    }
    request.set_limit(n);
    core::v1::ListExecutionsResponse response;
    auto context = Call();
    grpc::Status s = stub->ListExecutions(context.get(), request, &response);
    if (!s.ok()) return Failed(command, target.host, s, err);
    if (output == "json") {
      out << rpc::ToJson(response).value_or("{}") << "\n";
      return 0;
    }
    if (response.executions().empty()) {
      out << "no executions in project " << target.project << "\n";
      return 0;
    }
    size_t width = 4;
    for (const auto& e : response.executions()) width = std::max(width, e.name().size());
    const int name_width = static_cast<int>(width) + 2;
    out << std::left << std::setw(38) << "ID" << std::setw(name_width) << "NAME" << std::setw(11)
        << "STATE" << std::setw(8) << "ATTEMPT" << std::setw(6) << "EXIT"
        << "QUEUED\n";
    for (const auto& e : response.executions()) {
      out << std::left << std::setw(38) << e.id() << std::setw(name_width) << e.name()
          << std::setw(11) << e.state() << std::setw(8) << e.attempt() << std::setw(6)
          << (e.has_exit_code() ? std::to_string(e.exit_code()) : "-")
          << Time(e.created_at(), e.has_created_at()) << "\n";
    }
    return 0;
  }
  const std::string id = flags.positional()[0];
  if (verb == "logs") {
    int n = 0;
    if (!attempt.empty() && (!absl::SimpleAtoi(attempt, &n) || n < 1)) {
      err << command << ": --attempt takes a number from 1\n";
      return 2;
    }
    return Logs(*stub, command, target.host, target.project, id, n, follow, out, err);
  }
  core::v1::Execution e;
  grpc::Status s;
  auto context = Call();
  if (verb == "describe") {
    core::v1::GetExecutionRequest request;
    request.set_project_name(target.project);
    request.set_id(id);
    s = stub->GetExecution(context.get(), request, &e);
  } else {
    core::v1::CancelExecutionRequest request;
    request.set_project_name(target.project);
    request.set_id(id);
    s = stub->CancelExecution(context.get(), request, &e);
  }
  if (!s.ok()) return Failed(command, target.host, s, err);
  if (output == "json") {
    out << rpc::ToJson(e).value_or("{}") << "\n";
  } else if (verb == "cancel") {
    out << "execution " << e.id() << ": "
        << (e.state() == "cancelled" ? "cancelled"
                                     : "cancellation asked; its executor stops it shortly")
        << "\n";
  } else {
    Describe(e, out);
  }
  return 0;
}

}  // namespace optimus::cli
