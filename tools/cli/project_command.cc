// `optimus project register`, `optimus namespace register` and `optimus namespace list`: the
// project and namespaces of optimus.yaml, registered on the server and compared with it.
#include "project_command.h"

#include <grpcpp/grpcpp.h>

#include <chrono>
#include <filesystem>
#include <map>
#include <set>

#include "deploy_command.h"
#include "flags.h"
#include "nlohmann/json.hpp"
#include "optimus/core/v1/deploy.grpc.pb.h"
#include "optimus/spec/loaders.h"
#include "optimus/spec/project_reader.h"

namespace optimus::cli {
namespace {

namespace fs = std::filesystem;

constexpr char kProjectRegisterHelp[] =
    "Usage: optimus project register [flags]\n\n"
    "Registers the project of optimus.yaml on the server (its config, variables and window\n"
    "presets), or updates it, and waits until the server has stored it.\n\n"
    "Flags:\n"
    "  -d, --dir DIR          project folder (default: .)\n"
    "  -c, --config FILE      client config inside it (default: optimus.yaml)\n"
    "      --host HOST:PORT   the server (default: host in optimus.yaml)\n"
    "      --with-namespaces  also register every namespace of optimus.yaml\n\n"
    "Namespaces already on the server stay registered either way.\n"
    "Exit status: 0 registered, 1 the server refused it, 2 bad flags or config, or an\n"
    "unreachable server.\n";

constexpr char kNamespaceRegisterHelp[] =
    "Usage: optimus namespace register --name NAME [flags]\n\n"
    "Registers one namespace of optimus.yaml (its config and variables) in the project, or\n"
    "updates it, and waits until the server has stored it. The project must be registered.\n\n"
    "Flags:\n"
    "      --name NAME        the namespace, as optimus.yaml names it\n"
    "  -d, --dir DIR          project folder (default: .)\n"
    "  -c, --config FILE      client config inside it (default: optimus.yaml)\n"
    "      --host HOST:PORT   the server (default: host in optimus.yaml)\n\n"
    "Exit status: 0 registered, 1 the server refused it, 2 bad flags or config, or an\n"
    "unreachable server.\n";

constexpr char kNamespaceListHelp[] =
    "Usage: optimus namespace list [flags]\n\n"
    "Lists the project's namespaces and where each is: registered on the server, written in\n"
    "optimus.yaml, or both.\n\n"
    "Flags:\n"
    "  -d, --dir DIR          project folder (default: .)\n"
    "  -c, --config FILE      client config inside it (default: optimus.yaml)\n"
    "      --host HOST:PORT   the server (default: host in optimus.yaml)\n"
    "  -o, --output FORMAT    table (default) or json\n\n"
    "Exit status: 0 listed, 1 the project is not registered, 2 bad flags or config, or an\n"
    "unreachable server.\n";

}  // namespace

std::optional<Session> OpenSession(const std::string& command, const std::string& dir,
                                   const std::string& config, std::string host, std::ostream& err) {
  spec::Diagnostics d;
  const fs::path path = fs::path(dir) / config;
  auto text = spec::ReadFile(path, path.string(), d);
  auto client = text ? spec::LoadClientConfig(path.string(), *text, d) : std::nullopt;
  if (!client) {
    err << command << ": cannot read " << path.string() << ":\n" << d.ToString();
    return std::nullopt;
  }
  if (client->project_name.empty()) {
    err << command << ": " << path.string() << " names no project (project.name)\n";
    return std::nullopt;
  }
  if (host.empty()) host = client->host;
  if (host.empty()) {
    err << command << ": no server: set host in " << path.string() << " or give --host\n";
    return std::nullopt;
  }
  auto channel = Connect(host, command, err);
  if (!channel) return std::nullopt;
  return Session{*std::move(client), dir, std::move(channel)};
}

namespace {

// Follows a registration to its end: 0 stored, 1 refused (the reason on `err`), 2 the watch
// itself failed.
int Await(core::v1::DeploymentService::Stub& stub, const std::string& id,
          const std::string& command, std::ostream& err) {
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(60));
  core::v1::WatchDeploymentRequest request;
  request.set_deployment_id(id);
  auto reader = stub.WatchDeployment(&context, request);
  core::v1::DeploymentStatus status;
  bool done = false;
  std::string error;
  while (reader->Read(&status)) {
    if (!status.error().empty()) error = status.error();
    done = done || status.done();
  }
  grpc::Status s = reader->Finish();
  if (!error.empty()) {
    err << command << ": " << error << "\n";
    return 1;
  }
  if (!s.ok() || !done) {
    err << command << ": the server took the request (" << id
        << ") but following it failed: " << (s.ok() ? "it did not finish" : s.error_message())
        << "\n";
    return 2;
  }
  return 0;
}

int ProjectRegister(int argc, char** argv, std::ostream& out, std::ostream& err) {
  const std::string command = "optimus project register";
  std::string dir = ".", config = "optimus.yaml", host;
  bool with_namespaces = false;
  Flags flags(command);
  flags.String("dir", 'd', &dir);
  flags.String("config", 'c', &config);
  flags.String("host", 0, &host);
  flags.Bool("with-namespaces", 0, &with_namespaces);
  if (auto code = flags.ParseCommand(argc, argv, kProjectRegisterHelp, out, err)) return *code;
  auto session = OpenSession(command, dir, config, host, err);
  if (!session) return 2;
  auto stub = core::v1::DeploymentService::NewStub(session->channel);
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
  core::v1::RegisterProjectResponse response;
  grpc::Status s = stub->RegisterProject(
      &context, ProjectRequest(session->config, session->dir, with_namespaces), &response);
  if (!s.ok()) {
    err << command << ": the server refused the project: " << s.error_message() << "\n";
    return s.error_code() == grpc::StatusCode::INVALID_ARGUMENT ? 1 : 2;
  }
  if (int code = Await(*stub, response.deployment_id(), command, err); code != 0) return code;
  out << "project " << session->config.project_name << " registered";
  if (with_namespaces) {
    out << " with " << session->config.namespaces.size() << " namespaces:";
    for (const auto& ns : session->config.namespaces) out << " " << ns.name;
  }
  out << "\n";
  return 0;
}

int NamespaceRegister(int argc, char** argv, std::ostream& out, std::ostream& err) {
  const std::string command = "optimus namespace register";
  std::string dir = ".", config = "optimus.yaml", host, name;
  Flags flags(command);
  flags.String("name", 0, &name);
  flags.String("dir", 'd', &dir);
  flags.String("config", 'c', &config);
  flags.String("host", 0, &host);
  if (auto code = flags.ParseCommand(argc, argv, kNamespaceRegisterHelp, out, err)) return *code;
  if (name.empty()) {
    err << command << ": name the namespace with --name NAME\n";
    return 2;
  }
  auto session = OpenSession(command, dir, config, host, err);
  if (!session) return 2;
  const spec::NamespaceConfig* ns = nullptr;
  for (const auto& n : session->config.namespaces) {
    if (n.name == name) ns = &n;
  }
  if (ns == nullptr) {
    err << command << ": namespace \"" << name << "\" is not in " << config << "\n";
    return 2;
  }
  auto stub = core::v1::DeploymentService::NewStub(session->channel);
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
  core::v1::RegisterNamespaceRequest request;
  request.set_project(session->config.project_name);
  *request.mutable_namespace_() = NamespaceMessage(*ns);
  core::v1::RegisterNamespaceResponse response;
  grpc::Status s = stub->RegisterNamespace(&context, request, &response);
  if (!s.ok()) {
    err << command << ": the server refused the namespace: " << s.error_message() << "\n";
    return s.error_code() == grpc::StatusCode::INVALID_ARGUMENT ? 1 : 2;
  }
  if (int code = Await(*stub, response.deployment_id(), command, err); code != 0) return code;
  out << "namespace " << name << " registered in project " << session->config.project_name << "\n";
  return 0;
}

int NamespaceList(int argc, char** argv, std::ostream& out, std::ostream& err) {
  const std::string command = "optimus namespace list";
  std::string dir = ".", config = "optimus.yaml", host, output = "table";
  Flags flags(command);
  flags.String("dir", 'd', &dir);
  flags.String("config", 'c', &config);
  flags.String("host", 0, &host);
  flags.String("output", 'o', &output);
  if (auto code = flags.ParseCommand(argc, argv, kNamespaceListHelp, out, err)) return *code;
  if (output != "table" && output != "json") {
    err << command << ": --output is table or json, not \"" << output << "\"\n";
    return 2;
  }
  auto session = OpenSession(command, dir, config, host, err);
  if (!session) return 2;
  auto stub = core::v1::DeploymentService::NewStub(session->channel);
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
  core::v1::GetProjectRequest request;
  request.set_name(session->config.project_name);
  core::v1::ProjectInfo project;
  grpc::Status s = stub->GetProject(&context, request, &project);
  if (!s.ok() && s.error_code() != grpc::StatusCode::NOT_FOUND) {
    err << command << ": cannot ask the server: " << s.error_message() << "\n";
    return 2;
  }
  std::map<std::string, std::set<std::string>> where;  // namespace -> server, local
  for (const auto& ns : project.namespaces()) where[ns.name()].insert("server");
  for (const auto& ns : session->config.namespaces) where[ns.name].insert("local");
  if (output == "json") {
    nlohmann::json j;
    j["project"] = session->config.project_name;
    j["registered"] = s.ok();
    j["namespaces"] = nlohmann::json::array();
    for (const auto& [name, places] : where) {
      j["namespaces"].push_back({{"name", name}, {"available_in", places}});
    }
    out << j.dump(2) << "\n";
  } else {
    size_t width = 9;
    for (const auto& [name, places] : where) width = std::max(width, name.size());
    out << "NAMESPACE" << std::string(width - 9 + 2, ' ') << "AVAILABLE IN\n";
    for (const auto& [name, places] : where) {
      out << name << std::string(width - name.size() + 2, ' ');
      bool first = true;
      for (const char* place : {"server", "local"}) {
        if (places.count(place) == 0) continue;
        out << (first ? "" : ", ") << place;
        first = false;
      }
      out << "\n";
    }
  }
  if (!s.ok()) {
    err << command << ": project " << session->config.project_name
        << " is not registered on the server (optimus project register)\n";
    return 1;
  }
  return 0;
}

}  // namespace

int RunProjectCommand(int argc, char** argv, std::ostream& out, std::ostream& err) {
  // argv[0] is "project"; argv[1] the verb.
  if (argc >= 2 && std::string(argv[1]) == "register") {
    return ProjectRegister(argc - 1, argv + 1, out, err);
  }
  err << "optimus project: the verb is register (optimus project register --help)\n";
  return 2;
}

int RunNamespaceCommand(int argc, char** argv, std::ostream& out, std::ostream& err) {
  const std::string verb = argc >= 2 ? argv[1] : "";
  if (verb == "register") return NamespaceRegister(argc - 1, argv + 1, out, err);
  if (verb == "list") return NamespaceList(argc - 1, argv + 1, out, err);
  err << "optimus namespace: the verbs are register and list (optimus namespace list --help)\n";
  return 2;
}

}  // namespace optimus::cli
