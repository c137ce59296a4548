// `optimus plugin list|sync` against the server's PluginService.
#include "plugin_command.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iomanip>
#include <set>
#include <sstream>

#include "flags.h"
#include "nlohmann/json.hpp"
#include "optimus/core/v1/lineage.grpc.pb.h"
#include "optimus/core/v1/plugin.grpc.pb.h"
#include "optimus/plugin_manager/installer.h"
#include "optimus/spec/stored_spec.h"
#include "project_command.h"

namespace optimus::cli {
namespace {

namespace fs = std::filesystem;

constexpr char kListHelp[] =
    "Usage: optimus plugin list [flags]\n\n"
    "Lists the server's plugins: name, type, version (the default tag), where each was\n"
    "installed from, the sha256 of its file, and how many of the project's jobs use it, by\n"
    "plugin version (as task, hook or recipe step; \"default\" when a job names none).\n\n"
    "Flags:\n"
    "  -o, --output FORMAT    table (default) or json\n"
    "  -d, --dir DIR          project folder (default: .)\n"
    "  -c, --config FILE      client config inside it (default: optimus.yaml)\n"
    "      --host HOST:PORT   the server (default: host in optimus.yaml)\n";
constexpr char kSyncHelp[] =
    "Usage: optimus plugin sync [flags]\n\n"
    "Copies the server's YAML plugins into the project's .plugins/ folder in one request,\n"
    "writing only the files that changed and removing those an earlier sync wrote that the\n"
    "server no longer has (other files there are left alone); then `job create` and\n"
    "`job validate` use the server's plugins.\n\n"
    "Flags:\n"
    "      --plugins-dir DIR  where to write (default: DIR/.plugins)\n"
    "  -d, --dir DIR, -c, --config FILE, --host HOST:PORT   as for plugin list\n";
constexpr char kSyncManifest[] = ".optimus-sync.json";

using Common = SessionFlags;

std::string Slurp(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

// plugin -> version -> how many of the project's jobs use it; an error when the jobs cannot be
// read (the table then shows no counts).
absl::StatusOr<std::map<std::string, std::map<std::string, int>>> JobsByVersion(
    const Session& session) {
  std::map<std::string, std::map<std::string, int>> out;
  auto stub = core::v1::LineageService::NewStub(session.channel);
  core::v1::ListJobSpecsRequest req;
  req.set_project(session.config.project_name);
  for (;;) {
    core::v1::ListJobSpecsResponse resp;
    grpc::ClientContext ctx;
    grpc::Status s = stub->ListJobSpecs(&ctx, req, &resp);
    if (!s.ok()) return absl::UnavailableError(s.error_message());
    for (const auto& job : resp.jobs()) {
      spec::Diagnostics diagnostics;
      auto spec = spec::LoadStoredJobSpec(job.name() + "/job.yaml", job.spec_yaml(), diagnostics);
      if (!spec) continue;
      auto count = [&](const std::string& plugin, const std::string& version) {
        if (!plugin.empty()) ++out[plugin][version.empty() ? "default" : version];
      };
      count(spec->task.name, spec->task.version);
      for (const auto& hook : spec->hooks) count(hook.name, hook.version);
      for (const auto& step : spec->recipe) count(step.name, step.version);
    }
    if (resp.next_page_token().empty()) break;
    req.set_page_token(resp.next_page_token());
  }
  return out;
}

std::string CountsText(const std::map<std::string, int>& counts) {
  int total = 0;
  std::string text;
  for (const auto& [version, n] : counts) {
    total += n;
    text += (text.empty() ? "" : ", ") + version + " " + std::to_string(n);
  }
  return total == 0 ? "0" : std::to_string(total) + " (" + text + ")";
}

}  // namespace

int RunPluginListCommand(int argc, char** argv, std::ostream& out, std::ostream& err) {
  const std::string command = "optimus plugin list";
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
  core::v1::ListPluginsResponse resp;
  grpc::ClientContext ctx;
  grpc::Status s = core::v1::PluginService::NewStub(session->channel)
                       ->ListPlugins(&ctx, core::v1::ListPluginsRequest(), &resp);
  if (!s.ok()) return Refused(command, s, err);
  auto jobs = JobsByVersion(*session);
  if (!jobs.ok()) {
    err << command << ": no job counts: the project's jobs cannot be read ("
        << jobs.status().message() << ")\n";
  }
  auto counts_of = [&](const std::string& plugin) {
    std::map<std::string, int> none;
    if (!jobs.ok()) return none;
    auto it = jobs->find(plugin);
    return it == jobs->end() ? none : it->second;
  };
  if (output == "json") {
    nlohmann::json list = nlohmann::json::array();
    for (const auto& p : resp.plugins()) {
      list.push_back(
          {{"name", p.name()},
           {"jobs", counts_of(p.name())},
           {"type", p.type()},
           {"version", p.version()},
           {"versions", std::vector<std::string>(p.versions().begin(), p.versions().end())},
           {"image", p.image()},
           {"source", p.source()},
           {"sha256", p.sha256()}});
    }
    out << nlohmann::json{{"plugins", list}}.dump(2) << "\n";
    return 0;
  }
  size_t name = 4, version = 7;
  for (const auto& p : resp.plugins()) {
    name = std::max(name, p.name().size());
    version = std::max(version, p.version().size());
  }
  out << std::left << std::setw(static_cast<int>(name) + 2) << "NAME" << std::setw(6) << "TYPE"
      << std::setw(static_cast<int>(version) + 2) << "VERSION" << std::setw(14) << "SHA256"
      << std::setw(24) << "JOBS"
      << "SOURCE\n";
  for (const auto& p : resp.plugins()) {
    out << std::setw(static_cast<int>(name) + 2) << p.name() << std::setw(6) << p.type()
        << std::setw(static_cast<int>(version) + 2) << p.version() << std::setw(14)
        << p.sha256().substr(0, 12) << std::setw(24)
        << (jobs.ok() ? CountsText(counts_of(p.name())) : "?") << p.source() << "\n";
  }
  out << resp.plugins_size() << " plugins\n";
  return 0;
}

int RunPluginSyncCommand(int argc, char** argv, std::ostream& out, std::ostream& err) {
  const std::string command = "optimus plugin sync";
  Common c;
  std::string plugins_dir;
  Flags flags(command);
  c.Add(flags);
  flags.String("plugins-dir", 0, &plugins_dir);
  if (auto code = flags.ParseCommand(argc, argv, kSyncHelp, out, err)) return *code;
  auto session = OpenSession(command, c.dir, c.config, c.host, err);
  if (!session) return 2;
  const fs::path target = plugins_dir.empty() ? session->dir / ".plugins" : fs::path(plugins_dir);
  // What the last sync wrote: its digest, and its files (still there, or the digest is moot).
  std::set<std::string> synced;
  std::string had;
  auto manifest = nlohmann::json::parse(Slurp(target / kSyncManifest), nullptr, false);
  if (manifest.is_object()) {
    had = manifest.value("sha256", "");
    for (const auto& f : manifest.value("files", nlohmann::json::array())) {
      if (f.is_string()) synced.insert(f.get<std::string>());
    }
  }
  for (const std::string& f : synced) {
    if (!fs::exists(target / f)) had.clear();
  }
  core::v1::GetPluginArchiveRequest req;
  req.set_if_none_match(had);
  core::v1::GetPluginArchiveResponse resp;
  grpc::ClientContext ctx;
  grpc::Status s =
      core::v1::PluginService::NewStub(session->channel)->GetPluginArchive(&ctx, req, &resp);
  if (!s.ok()) return Refused(command, s, err);
  if (resp.not_modified()) {
    out << "plugins up to date: " << synced.size() << " files in " << target.string() << " (set "
        << resp.sha256().substr(0, 12) << ")\n";
    return 0;
  }
  auto files = plugin_manager::PluginFilesOf("plugins.tar.gz", resp.archive());
  if (!files.ok()) {
    err << command << ": the server's plugin archive does not read: " << files.status().message()
        << "\n";
    return 1;
  }
  std::error_code ec;
  fs::create_directories(target, ec);
  if (ec) {
    err << command << ": cannot create " << target.string() << ": " << ec.message() << "\n";
    return 2;
  }
  int added = 0, updated = 0, unchanged = 0, removed = 0;
  nlohmann::json names = nlohmann::json::array();
  for (const auto& [file, content] : *files) {
    names.push_back(file);
    const fs::path path = target / file;
    const bool exists = fs::exists(path);
    if (exists && Slurp(path) == content) {
      ++unchanged;
      continue;
    }
    std::ofstream(path, std::ios::binary | std::ios::trunc) << content;
    ++(exists ? updated : added);
    out << (exists ? "  updated " : "  added   ") << file << "\n";
  }
  for (const std::string& f : synced) {
    if (files->contains(f)) continue;
    fs::remove(target / f, ec);
    ++removed;
    out << "  removed " << f << "\n";
  }
  std::ofstream(target / kSyncManifest, std::ios::trunc)
      << nlohmann::json{{"sha256", resp.sha256()}, {"files", names}}.dump(2) << "\n";
  out << "synced plugins into " << target.string() << ": " << added << " added, " << updated
      << " updated, " << unchanged << " unchanged, " << removed << " removed (set "
      << resp.sha256().substr(0, 12) << ")\n";
  return 0;
}

}  // namespace optimus::cli
