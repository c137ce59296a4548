// `optimus executor list|token|revoke`: executors and their registration tokens, through the
// dispatcher's ExecutorAdminService.
#include <iomanip>
#include <map>

#include "absl/strings/numbers.h"
#include "channel.h"
#include "execution_client.h"
#include "execution_command.h"
#include "optimus/rpc/proto_json.h"

namespace optimus::cli {

int RunExecutorCommand(int argc, char** argv, std::ostream& out, std::ostream& err) {
  static const std::string kHelp = Help(
      "Usage: optimus executor list|token|revoke [flags]\n\n"
      "  list                the registered executors: status, capacity, running, last seen\n"
      "  token               a registration token for `optimus-executor register` (admin;\n"
      "                      --valid SECONDS, default the server's; --description TEXT)\n"
      "  revoke ID           refuse that executor's credential from now on (admin)\n\n"
      "Flags:\n"
      "%s");
  std::string verb;
  if (auto code = Verb(argc, argv, kHelp, out, err, verb)) return *code;
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
  out << std::left << std::setw(42) << "ID" << std::setw(18) << "NAME" << std::setw(9) << "STATUS"
      << std::setw(9) << "RUNNING" << std::setw(22) << "LAST SEEN"
      << "LABELS\n";
  for (const auto& x : response.executors()) {
    std::string labels;
    for (const auto& [k, v] :
         std::map<std::string, std::string>(x.labels().begin(), x.labels().end())) {
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
