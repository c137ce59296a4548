// `optimus init`: asks (or takes from flags) the server address, the project and its
// namespaces, then writes optimus.yaml and <namespace>/jobs, <namespace>/resources.
#include "init_command.h"

#include <filesystem>
#include <set>
#include <string>
#include <vector>

#include "files.h"
#include "flags.h"
#include "optimus/spec/diagnostics.h"
#include "optimus/spec/loaders.h"
#include "optimus/spec/yaml_text.h"
#include "prompter.h"

namespace optimus::cli {
namespace {

namespace fs = std::filesystem;

constexpr char kHelp[] =
    "Usage: optimus init [flags]\n\n"
    "Starts an Optimus project: writes optimus.yaml and, for each namespace, the folders\n"
    "<namespace>/jobs and <namespace>/resources. On a terminal it asks for what the flags do\n"
    "not give; with --no-input (or without a terminal) it uses the flags and the defaults.\n\n"
    "Flags:\n"
    "  -d, --dir DIR               project folder, created if missing (default: .)\n"
    "      --host HOST:PORT        the server's gRPC address (default: localhost:9100)\n"
    "  -p, --project-name NAME     project name (required)\n"
    "  -n, --namespace NAME        a namespace; repeatable or comma-separated\n"
    "      --datastore TYPE        datastore of every namespace: bigquery, maxcompute or none\n"
    "                              (default: bigquery)\n"
    "      --storage-path URL      where compiled DAGs go (default: file://dags)\n"
    "      --scheduler-host URL    the Airflow webserver (default: http://localhost:8080)\n"
    "      --scheduler-version V   Airflow version the DAGs are compiled for (default: 2.10)\n"
    "      --force                 overwrite an existing optimus.yaml\n"
    "      --no-input              never ask; fail listing what is missing\n\n"
    "Exit status: 0 written, 1 refused (existing file, bad answers), 2 bad flags.\n\n"
    "Example:\n"
    "  optimus init --no-input -p sales -n marketing,finance --datastore bigquery\n";

std::string CheckName(const std::string& name) {
  if (name.size() > 64) return "at most 64 characters";
  for (char c : name) {
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_')) {
      return "use letters, digits, - and _ only";
    }
  }
  return "";
}

}  // namespace

int RunInitCommand(int argc, char** argv, std::istream& in, std::ostream& out, std::ostream& err,
                   bool interactive) {
  std::string dir = ".", host, project, datastore, storage_path, scheduler_host, scheduler_version;
  std::vector<std::string> namespaces;
  bool force = false, no_input = false;
  Flags flags("optimus init");
  flags.String("dir", 'd', &dir);
  flags.String("host", 0, &host);
  flags.String("project-name", 'p', &project);
  flags.List("namespace", 'n', &namespaces, /*split_commas=*/true);
  flags.String("datastore", 0, &datastore);
  flags.String("storage-path", 0, &storage_path);
  flags.String("scheduler-host", 0, &scheduler_host);
  flags.String("scheduler-version", 0, &scheduler_version);
  flags.Bool("force", 0, &force);
  flags.Bool("no-input", 0, &no_input);
  if (auto code = flags.ParseCommand(argc, argv, kHelp, out, err)) return *code;
  const fs::path config_path = fs::path(dir) / "optimus.yaml";
  std::error_code ec;
  if (fs::exists(config_path, ec) && !force) {
    err << "optimus init: " << config_path.generic_string()
        << " already exists (use --force to overwrite it)\n";
    return 1;
  }

  std::map<std::string, std::string> given;
  if (!host.empty()) given["host"] = host;
  if (!project.empty()) given["project"] = project;
  if (!datastore.empty()) given["datastore"] = datastore;
  if (!storage_path.empty()) given["storage_path"] = storage_path;
  if (!scheduler_host.empty()) given["scheduler_host"] = scheduler_host;
  if (!scheduler_version.empty()) given["scheduler_version"] = scheduler_version;
  Prompter ask(in, out, interactive && !no_input, given);

  const auto got_host = ask.Get({.key = "host",
                                 .prompt = "Optimus server (gRPC host:port)",
                                 .default_value = "localhost:9100"});
  const auto got_project =
      ask.Get({.key = "project", .prompt = "Project name", .check = CheckName});
  const auto got_storage = ask.Get({.key = "storage_path",
                                    .prompt = "Where compiled DAGs go (storage_path)",
                                    .default_value = "file://dags"});
  const auto got_scheduler = ask.Get({.key = "scheduler_host",
                                      .prompt = "Airflow webserver (scheduler_host)",
                                      .default_value = "http://localhost:8080"});
  const auto got_version = ask.Get({.key = "scheduler_version",
                                    .prompt = "Airflow version (scheduler_version)",
                                    .default_value = "2.10",
                                    .options = {"2.9", "2.10", "3.0", "3.1"}});
  if (namespaces.empty() && ask.interactive()) {
    for (int i = 1;; ++i) {
      auto name = ask.Get({.key = "namespace " + std::to_string(i),
                           .prompt = i == 1 ? "Namespace name" : "Another namespace (empty: done)",
                           .required = i == 1,
                           .check = CheckName});
      if (!name || name->empty()) break;
      namespaces.push_back(*name);
    }
  }
  if (namespaces.empty() && !ask.interactive()) {
    ask.Problem("namespace: give at least one with -n NAME");
  }
  std::set<std::string> seen;
  for (const std::string& ns : namespaces) {
    if (const std::string why = CheckName(ns); !why.empty()) {
      ask.Problem("namespace \"" + ns + "\": " + why);
    } else if (!seen.insert(ns).second) {
      ask.Problem("namespace \"" + ns + "\" is given twice");
    }
  }
  const auto got_datastore = ask.Get({.key = "datastore",
                                      .prompt = "Datastore of the namespaces",
                                      .default_value = "bigquery",
                                      .options = {"bigquery", "maxcompute", "none"}});
  if (!ask.problems().empty()) {
    err << "optimus init: cannot write optimus.yaml:\n";
    for (const std::string& p : ask.problems()) err << "  " << p << "\n";
    return 1;
  }

  using spec::YamlScalar;
  std::string text =
      "# Optimus client config: `optimus job validate` and `optimus deploy` read this file.\n"
      "version: 1\n"
      "log:\n"
      "  level: info\n"
      "host: " +
      YamlScalar(*got_host) +
      "\n"
      "project:\n"
      "  name: " +
      YamlScalar(*got_project) +
      "\n"
      "  config:\n"
      "    storage_path: " +
      YamlScalar(*got_storage) + "\n    scheduler_host: " + YamlScalar(*got_scheduler) +
      "\n    scheduler_version: " + YamlScalar(*got_version) +
      "\n"
      "  variables: {}\n"
      "namespaces:\n";
  for (const std::string& ns : namespaces) {
    text += "- name: " + YamlScalar(ns) +
            "\n  config: {}\n  variables: {}\n  job:\n    path: " + YamlScalar(ns + "/jobs") + "\n";
    if (*got_datastore != "none") {
      text += "  datastore:\n  - type: " + *got_datastore +
              "\n    path: " + YamlScalar(ns + "/resources") + "\n    backup: {}\n";
    }
  }
  // What init writes must load: a check against our own loader before touching the disk.
  spec::Diagnostics diagnostics;
  if (!spec::LoadClientConfig("optimus.yaml", text, diagnostics) || diagnostics.HasErrors()) {
    err << "optimus init: the config would not load:\n" << diagnostics.ToString();
    return 1;
  }

  fs::create_directories(dir, ec);
  for (const std::string& ns : namespaces) {
    fs::create_directories(fs::path(dir) / ns / "jobs", ec);
    if (!ec && *got_datastore != "none")
      fs::create_directories(fs::path(dir) / ns / "resources", ec);
    if (ec) {
      err << "optimus init: cannot create the folders of namespace " << ns << ": " << ec.message()
          << "\n";
      return 1;
    }
  }
  std::string error;
  if (!WriteFileAtomically(config_path, text, error)) {
    err << "optimus init: " << error << "\n";
    return 1;
  }
  out << "wrote " << config_path.generic_string() << " (project " << *got_project << ", "
      << namespaces.size() << (namespaces.size() == 1 ? " namespace" : " namespaces") << ")\n";
  for (const std::string& ns : namespaces) {
    out << "  " << (fs::path(dir) / ns / "jobs").generic_string() << "/\n";
  }
  out << "next: optimus job create -n " << namespaces.front() << "\n";
  return 0;
}

}  // namespace optimus::cli
