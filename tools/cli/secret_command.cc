// `optimus secret set|list|delete`: values go base64 to ingest, which seals them with the app
// key; nothing ever reads a value back.
#include "secret_command.h"

#include <fstream>
#include <iomanip>
#include <sstream>

#include "absl/strings/escaping.h"
#include "flags.h"
#include "nlohmann/json.hpp"
#include "optimus/core/v1/secret.grpc.pb.h"
#include "project_command.h"

namespace optimus::cli {
namespace {

constexpr char kSetHelp[] =
    "Usage: optimus secret set NAME [VALUE] [flags]\n\n"
    "Stores a secret of the project of optimus.yaml (names are upper-cased), for the whole\n"
    "project or one namespace. Jobs read it as {{.secret.NAME}} in their config; it reaches\n"
    "task pods in in/.secret only. An existing secret is updated.\n\n"
    "Flags:\n"
    "  -n, --namespace NS     only jobs of this namespace see it (default: the whole project)\n"
    "  -f, --file FILE        take the value from FILE (as it is, e.g. a JSON key)\n"
    "      --base64           VALUE (or FILE) is already base64\n"
    "      --update-only      fail unless the secret exists\n"
    "  -d, --dir DIR          project folder (default: .)\n"
    "  -c, --config FILE      client config inside it (default: optimus.yaml)\n"
    "      --host HOST:PORT   the server (default: host in optimus.yaml)\n\n"
    "Exit status: 0 stored, 1 refused by the server, 2 bad flags or config, or an unreachable\n"
    "server.\n";
constexpr char kListHelp[] =
    "Usage: optimus secret list [flags]\n\n"
    "Lists the project's secrets: name, digest (changes with the value, reveals nothing),\n"
    "namespace (* for the whole project) and when each was last set. Never a value.\n\n"
    "Flags:\n"
    "  -o, --output FORMAT    table (default) or json\n"
    "  -d, --dir DIR, -c, --config FILE, --host HOST:PORT   as for secret set\n";
constexpr char kDeleteHelp[] =
    "Usage: optimus secret delete NAME [flags]\n\n"
    "Deletes a secret; -n must name its namespace when it has one.\n\n"
    "Flags:\n"
    "  -n, --namespace NS     the secret's namespace\n"
    "  -d, --dir DIR, -c, --config FILE, --host HOST:PORT   as for secret set\n";

struct Common : SessionFlags {
  std::string namespace_name;
};

int Set(int argc, char** argv, std::ostream& out, std::ostream& err) {
  const std::string command = "optimus secret set";
  Common c;
  std::string file;
  bool base64 = false, update_only = false;
  Flags flags(command);
  c.Add(flags);
  flags.String("namespace", 'n', &c.namespace_name);
  flags.String("file", 'f', &file);
  flags.Bool("base64", 0, &base64);
  flags.Bool("update-only", 0, &update_only);
  if (auto code = flags.ParseCommand(argc, argv, kSetHelp, out, err, 2)) return *code;
  const auto& args = flags.positional();
  if (args.empty() || (args.size() == 2) == !file.empty()) {
    err << command << ": give the name and either the value or --file (see --help)\n";
    return 2;
  }
  std::string value;
  if (!file.empty()) {
    std::ifstream in(file, std::ios::binary);
    if (!in) {
      err << command << ": cannot read " << file << "\n";
      return 2;
    }
    std::stringstream text;
    text << in.rdbuf();
    value = text.str();
  } else {
    value = args[1];
  }
  if (base64) {
    std::string decoded;
    if (!absl::Base64Unescape(value, &decoded)) {
      err << command << ": the value is not base64 (drop --base64 to send it as it is)\n";
      return 2;
    }
  } else {
    value = absl::Base64Escape(value);
  }
  auto session = OpenSession(command, c.dir, c.config, c.host, err);
  if (!session) return 2;
  auto stub = core::v1::SecretService::NewStub(session->channel);
  const std::string& project = session->config.project_name;
  // Register and Update take the same four fields.
  auto fill = [&](auto& req) {
    req.set_project_name(project);
    req.set_secret_name(args[0]);
    req.set_value(value);
    req.set_namespace_name(c.namespace_name);
  };
  grpc::Status s;
  bool updated = update_only;
  if (!update_only) {
    core::v1::RegisterSecretRequest req;
    fill(req);
    core::v1::RegisterSecretResponse resp;
    grpc::ClientContext ctx;
    s = stub->RegisterSecret(&ctx, req, &resp);
    updated = s.error_code() == grpc::StatusCode::ALREADY_EXISTS;
  }
  if (updated) {
    core::v1::UpdateSecretRequest req;
    fill(req);
    core::v1::UpdateSecretResponse resp;
    grpc::ClientContext ctx;
    s = stub->UpdateSecret(&ctx, req, &resp);
  }
  if (!s.ok()) return Refused(command, s, err);
  out << "secret " << args[0] << (updated ? " updated" : " stored") << " in "
      << (c.namespace_name.empty() ? "project " + project : "namespace " + c.namespace_name)
      << "\n";
  return 0;
}

int List(int argc, char** argv, std::ostream& out, std::ostream& err) {
  const std::string command = "optimus secret list";
  Common c;
  std::string output = "table";
  Flags flags(command);
  c.Add(flags);
  flags.String("output", 'o', &output);
  if (auto code = flags.ParseCommand(argc, argv, kListHelp, out, err)) return *code;
  if (output != "table" && output != "json") {
    err << command << ": --output is table or json\n";
    return 2;
  }
  auto session = OpenSession(command, c.dir, c.config, c.host, err);
  if (!session) return 2;
  core::v1::ListSecretsRequest req;
  req.set_project_name(session->config.project_name);
  core::v1::ListSecretsResponse resp;
  grpc::ClientContext ctx;
  grpc::Status s =
      core::v1::SecretService::NewStub(session->channel)->ListSecrets(&ctx, req, &resp);
  if (!s.ok()) return Refused(command, s, err);
  if (output == "json") {
    nlohmann::json list = nlohmann::json::array();
    for (const auto& x : resp.secrets()) {
      list.push_back({{"name", x.name()},
                      {"digest", x.digest()},
                      {"namespace", x.namespace_()},
                      {"updated_at", x.updated_at()}});
    }
    out << nlohmann::json{{"secrets", list}}.dump(2) << "\n";
    return 0;
  }
  size_t width = 4;
  for (const auto& x : resp.secrets()) width = std::max(width, x.name().size());
  out << std::left << std::setw(static_cast<int>(width) + 2) << "NAME" << std::setw(46) << "DIGEST"
      << std::setw(12) << "NAMESPACE"
      << "UPDATED\n";
  for (const auto& x : resp.secrets()) {
    out << std::setw(static_cast<int>(width) + 2) << x.name() << std::setw(46) << x.digest()
        << std::setw(12) << (x.namespace_().empty() ? "*" : x.namespace_()) << x.updated_at()
        << "\n";
  }
  return 0;
}

int Delete(int argc, char** argv, std::ostream& out, std::ostream& err) {
  const std::string command = "optimus secret delete";
  Common c;
  Flags flags(command);
  c.Add(flags);
  flags.String("namespace", 'n', &c.namespace_name);
  if (auto code = flags.ParseCommand(argc, argv, kDeleteHelp, out, err, 1)) return *code;
  if (flags.positional().size() != 1) {
    err << command << ": give the secret's name\n";
    return 2;
  }
  auto session = OpenSession(command, c.dir, c.config, c.host, err);
  if (!session) return 2;
  core::v1::DeleteSecretRequest req;
  req.set_project_name(session->config.project_name);
  req.set_secret_name(flags.positional()[0]);
  req.set_namespace_name(c.namespace_name);
  core::v1::DeleteSecretResponse resp;
  grpc::ClientContext ctx;
  grpc::Status s =
      core::v1::SecretService::NewStub(session->channel)->DeleteSecret(&ctx, req, &resp);
  if (!s.ok()) return Refused(command, s, err);
  out << "secret " << flags.positional()[0] << " deleted\n";
  return 0;
}

}  // namespace

int RunSecretCommand(int argc, char** argv, std::ostream& out, std::ostream& err) {
  const std::string verb = argc >= 2 ? argv[1] : "";
  if (verb == "set") return Set(argc - 1, argv + 1, out, err);
  if (verb == "list") return List(argc - 1, argv + 1, out, err);
  if (verb == "delete") return Delete(argc - 1, argv + 1, out, err);
  err << "optimus secret: the verb is set, list or delete (optimus secret set --help)\n";
  return 2;
}

}  // namespace optimus::cli
