// `optimus job inspect JOB`: destination, sources, upstreams, downstreams and what could not be
// resolved, from dependency-resolver's LineageService (through the server the config names).
#include "inspect_command.h"

#include <grpcpp/grpcpp.h>

#include <filesystem>

#include "channel.h"
#include "flags.h"
#include "nlohmann/json.hpp"
#include "optimus/core/v1/lineage.grpc.pb.h"
#include "optimus/spec/loaders.h"
#include "optimus/spec/project_reader.h"

namespace optimus::cli {
namespace {

constexpr char kHelp[] =
    "Usage: optimus job inspect JOB [flags]\n\n"
    "Shows a deployed job's lineage as the server resolved it: the table it writes, the tables\n"
    "its SQL reads, the jobs it waits for (and through which table), the jobs that wait for it,\n"
    "and what could not be resolved.\n\n"
    "Flags:\n"
    "  -d, --dir DIR          project folder (default: .)\n"
    "  -c, --config FILE      client config inside it (default: optimus.yaml)\n"
    "      --host HOST:PORT   the server (default: host in optimus.yaml)\n"
    "  -p, --project NAME     the job's project (default: the one in optimus.yaml)\n"
    "  -o, --output FORMAT    text (default) or json\n\n"
    "Exit status: 0 shown, 1 no such job on the server, 2 bad flags or an unreachable server.\n";

std::string Ref(const core::v1::JobRef& r) {
  return (r.namespace_().empty() ? "" : r.namespace_() + "/") + r.name();
}

}  // namespace

int RunJobInspectCommand(int argc, char** argv, std::ostream& out, std::ostream& err) {
  const std::string command = "optimus job inspect";
  std::string dir = ".", config = "optimus.yaml", host, project, output = "text";
  Flags flags(command);
  flags.String("dir", 'd', &dir);
  flags.String("config", 'c', &config);
  flags.String("host", 0, &host);
  flags.String("project", 'p', &project);
  flags.String("output", 'o', &output);
  if (auto code = flags.ParseCommand(argc, argv, kHelp, out, err, 1)) return *code;
  if (flags.positional().size() != 1) {
    err << command << ": name the job: optimus job inspect JOB\n";
    return 2;
  }
  if (output != "text" && output != "json") {
    err << command << ": --output is text or json, not \"" << output << "\"\n";
    return 2;
  }
  if (host.empty() || project.empty()) {
    spec::Diagnostics d;
    const auto path = std::filesystem::path(dir) / config;
    auto text = spec::ReadFile(path, config, d);
    auto client = text ? spec::LoadClientConfig(config, *text, d) : std::nullopt;
    if (!client) {
      err << command << ": cannot read " << path.string() << " (or give --host and -p):\n"
          << d.ToString();
      return 2;
    }
    if (host.empty()) host = client->host;
    if (project.empty()) project = client->project_name;
  }
  auto channel = Dial(host);
  auto stub = core::v1::LineageService::NewStub(channel);
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
  core::v1::GetLineageRequest request;
  request.set_project(project);
  request.set_job(flags.positional()[0]);
  core::v1::GetLineageResponse l;
  grpc::Status s = stub->GetLineage(&context, request, &l);
  if (s.error_code() == grpc::StatusCode::NOT_FOUND) {
    err << command << ": " << s.error_message() << "\n";
    return 1;
  }
  if (!s.ok()) {
    err << command << ": cannot ask the server at " << host << ": " << s.error_message() << "\n";
    return 2;
  }
  if (output == "json") {
    nlohmann::json j;
    j["project"] = project;
    j["job"] = flags.positional()[0];
    j["namespace"] = l.namespace_();
    j["destination"] = l.destination();
    j["sources"] = std::vector<std::string>(l.sources().begin(), l.sources().end());
    auto refs = [](const auto& list) {
      nlohmann::json a = nlohmann::json::array();
      for (const auto& r : list) {
        a.push_back({{"project", r.project()},
                     {"namespace", r.namespace_()},
                     {"job", r.name()},
                     {"via", r.via()}});
      }
      return a;
    };
    j["upstreams"] = refs(l.upstreams());
    j["downstreams"] = refs(l.downstreams());
    j["unknown_sources"] =
        std::vector<std::string>(l.unknown_sources().begin(), l.unknown_sources().end());
    j["unknown_upstreams"] =
        std::vector<std::string>(l.unknown_upstreams().begin(), l.unknown_upstreams().end());
    j["cycle"] = std::vector<std::string>(l.cycle().begin(), l.cycle().end());
    j["shared_destination"] =
        std::vector<std::string>(l.shared_destination().begin(), l.shared_destination().end());
    j["error"] = l.error();
    out << j.dump(2) << "\n";
    return 0;
  }
  out << "job          " << project << "/" << flags.positional()[0] << "  (namespace "
      << l.namespace_() << ")\n";
  out << "destination  " << (l.destination().empty() ? "(none)" : l.destination()) << "\n";
  auto list = [&out](const char* label, const auto& items, auto show) {
    if (items.empty()) {
      out << label << "(none)\n";
      return;
    }
    bool first = true;
    for (const auto& item : items) {
      out << (first ? label : "             ") << show(item) << "\n";
      first = false;
    }
  };
  auto plain = [](const std::string& s) { return s; };
  list("sources      ", l.sources(), plain);
  list("upstreams    ", l.upstreams(), [](const core::v1::JobRef& r) {
    return Ref(r) + (r.via().empty() ? "" : "  via " + r.via());
  });
  list("downstreams  ", l.downstreams(), [](const core::v1::JobRef& r) { return Ref(r); });
  if (!l.unknown_sources().empty()) {
    list("unknown      ", l.unknown_sources(),
         [](const std::string& s) { return s + "  (read, but no job writes it)"; });
  }
  if (!l.unknown_upstreams().empty()) {
    list("missing      ", l.unknown_upstreams(),
         [](const std::string& s) { return s + "  (a dependency naming no job)"; });
  }
  if (!l.shared_destination().empty()) {
    list("co-writers   ", l.shared_destination(),
         [](const std::string& s) { return s + "  (also writes the destination)"; });
  }
  if (!l.error().empty()) out << "error        " << l.error() << "\n";
  return 0;
}

}  // namespace optimus::cli
