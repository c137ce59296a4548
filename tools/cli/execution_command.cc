// `optimus job execute`, `optimus execution …`, `optimus task …` and `optimus executor …`:
// thin clients of the dispatcher's gRPC services (see execution_command.h).
#include "execution_command.h"

#include <grpcpp/grpcpp.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <iomanip>
#include <sstream>
#include <thread>

#include "absl/strings/numbers.h"
#include "absl/time/time.h"
#include "channel.h"
#include "flags.h"
#include "google/protobuf/util/time_util.h"
#include "optimus/core/v1/dispatch.grpc.pb.h"
#include "optimus/rpc/proto_json.h"
#include "optimus/schedule/time_util.h"
#include "optimus/spec/loaders.h"
#include "optimus/spec/project_reader.h"

namespace optimus::cli {
namespace {

using google::protobuf::util::TimeUtil;

constexpr char kTargetFlags[] =
    "  -d, --dir DIR          project folder (default: .)\n"
    "  -c, --config FILE      client config inside it (default: optimus.yaml)\n"
    "      --host HOST:PORT   the server (default: host in optimus.yaml)\n"
    "  -p, --project NAME     the project (default: the one in optimus.yaml)\n";

// Where a command goes: the server and the project, from flags or optimus.yaml.
struct Target {
  std::string dir = ".", config = "optimus.yaml", host, project;

  void Declare(Flags& flags) {
    flags.String("dir", 'd', &dir);
    flags.String("config", 'c', &config);
    flags.String("host", 0, &host);
    flags.String("project", 'p', &project);
  }

  // Fills what flags left empty from optimus.yaml; false (after saying why) when it cannot.
  bool Resolve(const std::string& command, std::ostream& err, bool need_project = true) {
    if (!host.empty() && (!project.empty() || !need_project)) return true;
    spec::Diagnostics d;
    const auto path = std::filesystem::path(dir) / config;
    auto text = spec::ReadFile(path, config, d);
    auto client = text ? spec::LoadClientConfig(config, *text, d) : std::nullopt;
    if (!client) {
      err << command << ": cannot read " << path.string() << " (or give --host"
          << (need_project ? " and -p" : "") << "):\n"
          << d.ToString();
      return false;
    }
    if (host.empty()) host = client->host;
    if (project.empty()) project = client->project_name;
    if (host.empty()) {
      err << command << ": " << path.string() << " names no host; give --host\n";
      return false;
    }
    return true;
  }
};

std::unique_ptr<grpc::ClientContext> Call(int seconds = 15) {
  auto context = std::make_unique<grpc::ClientContext>();
  context->set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(seconds));
  return context;
}

// 1 when the server refused (it said why), 2 when it could not be asked.
int Failed(const std::string& command, const std::string& host, const grpc::Status& s,
           std::ostream& err) {
  const bool unreachable = s.error_code() == grpc::StatusCode::UNAVAILABLE ||
                           s.error_code() == grpc::StatusCode::DEADLINE_EXCEEDED;
  if (unreachable) {
    err << command << ": cannot ask the server at " << host << ": " << s.error_message() << "\n";
    return 2;
  }
  if (s.error_code() == grpc::StatusCode::UNIMPLEMENTED) {
    err << command << ": the server at " << host
        << " runs no dispatcher (optimus serve has one; in distributed mode point --host at "
           "optimus-dispatcher)\n";
    return 2;
  }
  err << command << ": " << s.error_message() << "\n";
  return 1;
}

std::string Time(const google::protobuf::Timestamp& t, bool set) {
  if (!set) return "-";
  return schedule::FormatRfc3339(
      absl::FromUnixMillis(TimeUtil::TimestampToMilliseconds(t)), absl::UTCTimeZone());
}

bool Terminal(const std::string& state) {
  return state == "succeeded" || state == "failed" || state == "cancelled" || state == "timed_out";
}

// KEY=VALUE flags into a map; false after saying which one is malformed.
bool Pairs(const std::string& command, const std::string& flag,
           const std::vector<std::string>& items, google::protobuf::Map<std::string, std::string>* out,
           std::ostream& err) {
  for (const std::string& item : items) {
    const size_t eq = item.find('=');
    if (eq == std::string::npos || eq == 0) {
      err << command << ": --" << flag << " takes KEY=VALUE, got \"" << item << "\"\n";
      return false;
    }
    (*out)[item.substr(0, eq)] = item.substr(eq + 1);
  }
  return true;
}

void Describe(const core::v1::Execution& e, std::ostream& out) {
  const auto line = [&out](const char* key, const std::string& value) {
    out << std::left << std::setw(14) << key << value << "\n";
  };
  line("execution", e.id());
  line(e.kind() == "task" ? "task" : "job", e.project() + "/" + e.name() +
                                                (e.namespace_().empty() ? "" : "  (namespace " +
                                                                                   e.namespace_() + ")"));
  line("state", e.state() + (e.cancel_requested() && !Terminal(e.state()) ? " (cancel asked)" : ""));
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

// Prints the logs of `id` from after `chunk`; with `follow` until the execution ends. Returns
// the exit status: 0 when it (ended and) succeeded or when not following.
int Logs(core::v1::ExecutionService::Stub& stub, const std::string& command,
         const std::string& host, const std::string& project, const std::string& id,
         int32_t attempt, bool follow, std::ostream& out, std::ostream& err) {
  int64_t after = 0;
  for (;;) {
    core::v1::ReadLogsRequest request;
    request.set_project_name(project);
    request.set_id(id);
    request.set_attempt(attempt);
    request.set_after_chunk(after);
    core::v1::ReadLogsResponse response;
    auto context = Call();
    grpc::Status s = stub.ReadLogs(context.get(), request, &response);
    if (!s.ok()) return Failed(command, host, s, err);
    out << response.data();
    out.flush();
    // A new attempt starts its log afresh: follow it there.
    if (attempt == 0 && response.attempt() != 0 && response.data().empty() &&
        response.last_chunk() == after && after > 0) {
      core::v1::GetExecutionRequest get;
      get.set_project_name(project);
      get.set_id(id);
      core::v1::Execution now;
      auto c = Call();
      if (stub.GetExecution(c.get(), get, &now).ok() && now.attempt() != response.attempt()) {
        err << command << ": attempt " << response.attempt() << " was given up; following attempt "
            << now.attempt() << "\n";
        after = 0;
        continue;
      }
    }
    const bool more = response.last_chunk() != after;
    after = response.last_chunk();
    if (!follow) return 0;
    if (Terminal(response.state()) && !more) {
      return response.state() == "succeeded" ? 0 : 1;
    }
    if (!more) std::this_thread::sleep_for(std::chrono::milliseconds(300));
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

std::string Help(const char* text) {
  char buffer[4096];
  std::snprintf(buffer, sizeof buffer, text, kTargetFlags);
  return buffer;
}

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
  const std::string verb = argc >= 2 ? argv[1] : "";
  if (verb.empty() || verb == "-h" || verb == "--help") {
    (verb.empty() ? err : out) << kHelp;
    return verb.empty() ? 2 : 0;
  }
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
    out << std::left << std::setw(38) << "ID" << std::setw(28) << "NAME" << std::setw(11)
        << "STATE" << std::setw(8) << "ATTEMPT" << std::setw(6) << "EXIT" << "QUEUED\n";
    for (const auto& e : response.executions()) {
      out << std::left << std::setw(38) << e.id() << std::setw(28) << e.name() << std::setw(11)
          << e.state() << std::setw(8) << e.attempt() << std::setw(6)
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

int RunTaskCommand(int argc, char** argv, std::ostream& out, std::ostream& err) {
  static const std::string kHelp = Help(
      "Usage: optimus task create|list|describe|execute [flags]\n\n"
      "Catalog tasks: what admins register for anyone with a project's token to run.\n"
      "  create -f FILE [--replace]   register a definition (JSON: name, description, author,\n"
      "                               image, shell, script, arguments [{name, description,\n"
      "                               required, defaultValue}], timeoutSeconds, pool); admin\n"
      "  list                         every task\n"
      "  describe NAME                a task and its arguments\n"
      "  execute NAME --arg K=V ...   run it for the project (-f/--follow: show its output)\n\n"
      "Flags:\n"
      "%s");
  const std::string verb = argc >= 2 ? argv[1] : "";
  if (verb.empty() || verb == "-h" || verb == "--help") {
    (verb.empty() ? err : out) << kHelp;
    return verb.empty() ? 2 : 0;
  }
  const std::string command = "optimus task " + verb;
  Target target;
  std::string file, output = "text", key;
  std::vector<std::string> args;
  bool replace = false, follow = false;
  Flags flags(command);
  target.Declare(flags);
  flags.String("file", 0, &file);
  flags.Bool("replace", 0, &replace);
  flags.List("arg", 0, &args);
  flags.Bool("follow", 'f', &follow);
  flags.String("output", 'o', &output);
  flags.String("request-key", 0, &key);
  if (auto code = flags.ParseCommand(argc - 1, argv + 1, kHelp.c_str(), out, err, 1)) return *code;
  if (verb != "create" && verb != "list" && verb != "describe" && verb != "execute") {
    err << "optimus task: unknown command '" << verb << "' (create, list, describe, execute)\n";
    return 2;
  }
  if ((verb == "describe" || verb == "execute") && flags.positional().size() != 1) {
    err << command << ": name the task\n";
    return 2;
  }
  if (!target.Resolve(command, err, verb == "execute")) return 2;
  auto channel = Dial(target.host);
  auto catalog = core::v1::CatalogService::NewStub(channel);
  if (verb == "create") {
    if (file.empty()) {
      err << command << ": give the definition with --file FILE\n";
      return 2;
    }
    std::ifstream in(file);
    if (!in) {
      err << command << ": cannot read " << file << "\n";
      return 2;
    }
    std::stringstream text;
    text << in.rdbuf();
    core::v1::CreateTaskRequest request;
    if (absl::Status p = rpc::ParseJson(text.str(), request.mutable_task()); !p.ok()) {
      err << command << ": " << file << ": " << p.message() << "\n";
      return 2;
    }
    request.set_replace(replace);
    core::v1::CatalogTask task;
    auto context = Call();
    grpc::Status s = catalog->CreateTask(context.get(), request, &task);
    if (!s.ok()) return Failed(command, target.host, s, err);
    out << "task " << task.name() << " version " << task.version() << " registered\n";
    return 0;
  }
  if (verb == "list") {
    core::v1::ListTasksResponse response;
    auto context = Call();
    grpc::Status s = catalog->ListTasks(context.get(), {}, &response);
    if (!s.ok()) return Failed(command, target.host, s, err);
    if (output == "json") {
      out << rpc::ToJson(response).value_or("{}") << "\n";
      return 0;
    }
    if (response.tasks().empty()) out << "no catalog tasks\n";
    for (const auto& t : response.tasks()) {
      out << std::left << std::setw(28) << t.name() << t.description() << "\n";
    }
    return 0;
  }
  if (verb == "describe") {
    core::v1::GetTaskRequest request;
    request.set_name(flags.positional()[0]);
    core::v1::CatalogTask t;
    auto context = Call();
    grpc::Status s = catalog->GetTask(context.get(), request, &t);
    if (!s.ok()) return Failed(command, target.host, s, err);
    if (output == "json") {
      out << rpc::ToJson(t).value_or("{}") << "\n";
      return 0;
    }
    out << "task         " << t.name() << " (version " << t.version() << ")\n"
        << "description  " << t.description() << "\n"
        << "author       " << (t.author().empty() ? "-" : t.author()) << "\n";
    if (!t.image().empty()) out << "image        " << t.image() << "\n";
    if (t.arguments().empty()) out << "arguments    none\n";
    for (const auto& a : t.arguments()) {
      out << "argument     " << a.name()
          << (a.required() ? " (required)"
                           : " (optional, default \"" + a.default_value() + "\")")
          << (a.description().empty() ? "" : ": " + a.description()) << "\n";
    }
    return 0;
  }
  core::v1::ExecuteTaskRequest request;
  request.set_project_name(target.project);
  request.set_task_name(flags.positional()[0]);
  request.set_request_key(key);
  if (!Pairs(command, "arg", args, request.mutable_args(), err)) return 2;
  auto executions = core::v1::ExecutionService::NewStub(channel);
  core::v1::Execution e;
  auto context = Call();
  grpc::Status s = executions->ExecuteTask(context.get(), request, &e);
  if (!s.ok()) return Failed(command, target.host, s, err);
  out << "execution " << e.id() << " of task " << e.name() << " queued\n";
  if (!follow) return 0;
  return Logs(*executions, command, target.host, target.project, e.id(), 0, true, out, err);
}

int RunExecutorCommand(int argc, char** argv, std::ostream& out, std::ostream& err) {
  static const std::string kHelp = Help(
      "Usage: optimus executor list|token|revoke [flags]\n\n"
      "  list                the registered executors: status, capacity, running, last seen\n"
      "  token               a registration token for `optimus-executor register` (admin;\n"
      "                      --valid SECONDS, default the server's; --description TEXT)\n"
      "  revoke ID           refuse that executor's credential from now on (admin)\n\n"
      "Flags:\n"
      "%s");
  const std::string verb = argc >= 2 ? argv[1] : "";
  if (verb.empty() || verb == "-h" || verb == "--help") {
    (verb.empty() ? err : out) << kHelp;
    return verb.empty() ? 2 : 0;
  }
  const std::string command = "optimus executor " + verb;
  Target target;
  std::string valid, description, output = "text";
  Flags flags(command);
  target.Declare(flags);
  flags.String("valid", 0, &valid);
  flags.String("description", 0, &description);
  flags.String("output", 'o', &output);
  if (auto code = flags.ParseCommand(argc - 1, argv + 1, kHelp.c_str(), out, err, 1)) return *code;
  if (verb != "list" && verb != "token" && verb != "revoke") {
    err << "optimus executor: unknown command '" << verb << "' (list, token, revoke)\n";
    return 2;
  }
  if (!target.Resolve(command, err, false)) return 2;
  auto stub = core::v1::ExecutorAdminService::NewStub(Dial(target.host));
  auto context = Call();
  if (verb == "token") {
    core::v1::CreateRegistrationTokenRequest request;
    int64_t seconds = 0;
    if (!valid.empty() && (!absl::SimpleAtoi(valid, &seconds) || seconds <= 0)) {
      err << command << ": --valid takes whole seconds above 0\n";
      return 2;
    }
    request.set_valid_seconds(seconds);
    request.set_description(description);
    core::v1::CreateRegistrationTokenResponse response;
    grpc::Status s = stub->CreateRegistrationToken(context.get(), request, &response);
    if (!s.ok()) return Failed(command, target.host, s, err);
    out << response.token() << "\n";
    err << "registration token valid until " << Time(response.expires_at(), true)
        << "; shown once: register with `optimus-executor register --registration-token ...`\n";
    return 0;
  }
  if (verb == "revoke") {
    if (flags.positional().size() != 1) {
      err << command << ": give the executor id\n";
      return 2;
    }
    core::v1::RevokeExecutorRequest request;
    request.set_id(flags.positional()[0]);
    core::v1::RevokeExecutorResponse response;
    grpc::Status s = stub->RevokeExecutor(context.get(), request, &response);
    if (!s.ok()) return Failed(command, target.host, s, err);
    out << "executor " << response.executor().id() << " revoked\n";
    return 0;
  }
  core::v1::ListExecutorsResponse response;
  grpc::Status s = stub->ListExecutors(context.get(), {}, &response);
  if (!s.ok()) return Failed(command, target.host, s, err);
  if (output == "json") {
    out << rpc::ToJson(response).value_or("{}") << "\n";
    return 0;
  }
  if (response.executors().empty()) {
    out << "no executors registered (an admin makes a token with `optimus executor token`)\n";
    return 0;
  }
  out << std::left << std::setw(42) << "ID" << std::setw(18) << "NAME" << std::setw(9)
      << "STATUS" << std::setw(9) << "RUNNING" << std::setw(22) << "LAST SEEN" << "LABELS\n";
  for (const auto& x : response.executors()) {
    std::string labels;
    for (const auto& [k, v] : std::map<std::string, std::string>(x.labels().begin(),
                                                                 x.labels().end())) {
      labels += (labels.empty() ? "" : ",") + k + "=" + v;
    }
    out << std::left << std::setw(42) << x.id() << std::setw(18) << x.name() << std::setw(9)
        << x.status() << std::setw(9)
        << (std::to_string(x.running()) + "/" + std::to_string(x.capacity())) << std::setw(22)
        << Time(x.last_seen_at(), x.has_last_seen_at()) << labels << "\n";
  }
  return 0;
}

}  // namespace optimus::cli
