// `optimus task create|list|describe|execute`: catalog tasks (Octavius' job metadata) through
// the dispatcher's CatalogService, and their runs through ExecutionService.
#include <fstream>
#include <iomanip>
#include <map>
#include <sstream>

#include "absl/strings/numbers.h"
#include "channel.h"
#include "execution_client.h"
#include "execution_command.h"
#include "optimus/rpc/proto_json.h"

namespace optimus::cli {

int RunTaskCommand(int argc, char** argv, std::ostream& out, std::ostream& err) {
  static const std::string kHelp = Help(
      "Usage: optimus task create|list|describe|execute [flags]\n\n"
      "Catalog tasks: what admins register for anyone with a project's token to run.\n"
      "  create --file FILE [--replace]  register a definition (JSON: name, description,\n"
      "                                  author, image, shell, script, arguments [{name,\n"
      "                                  description, required, defaultValue}],\n"
      "                                  timeoutSeconds, pool); admin\n"
      "  list                            every task\n"
      "  describe NAME                   a task and its arguments\n"
      "  execute NAME --arg K=V ...      run it for the project (-f/--follow: its output)\n\n"
      "Flags:\n"
      "%s");
  std::string verb;
  if (auto code = Verb(argc, argv, kHelp, out, err, verb)) return *code;
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
          << (a.required() ? " (required)" : " (optional, default \"" + a.default_value() + "\")")
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

}  // namespace optimus::cli
