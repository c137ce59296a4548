// The `optimus` command: the all-in-one server and the client verbs.
#include <grpcpp/grpcpp.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <iostream>
#include <string>

#include "channel.h"
#include "deploy_command.h"
#include "dlq_command.h"
#include "execution_command.h"
#include "init_command.h"
#include "inspect_command.h"
#include "job_create_command.h"
#include "job_validate_command.h"
#include "optimus/app/host.h"
#include "optimus/compiler/compiler_service.h"
#include "optimus/core/v1/runtime.grpc.pb.h"
#include "optimus/dependency_resolver/dependency_resolver_service.h"
#include "optimus/dispatcher/dispatcher_service.h"
#include "optimus/ingest/ingest_service.h"
#include "optimus/plugin_manager/plugin_manager_service.h"
#include "optimus/runtime_context/runtime_context_service.h"
#include "optimus/spec_store/spec_store_service.h"
#include "optimus/telemetry/metrics.h"
#include "plugin_command.h"
#include "plugin_install_command.h"
#include "plugin_validate_command.h"
#include "project_command.h"
#include "render_command.h"
#include "replay_command.h"
#include "run_input_command.h"
#include "secret_command.h"
#include "token_command.h"
#include "verify_specs_command.h"
#include "window_command.h"

namespace {

constexpr char kUsage[] =
    "optimus: declarative data-job orchestration (Optimus-compatible).\n\n"
    "Usage: optimus <command> [flags]\n\n"
    "Commands:\n"
    "  serve     run every service in one process on the embedded defaults\n"
    "            (SQLite files, embedded bus and file object store under --data-dir)\n"
    "  init      start a project: optimus.yaml and namespace folders\n"
    "  deploy    send every namespace's jobs to the server and follow them to published DAGs\n"
    "  job replace-all  deploy namespaces (-N); jobs missing locally are deleted\n"
    "  job deploy    add or update some jobs of a namespace (-n, -J)\n"
    "  job delete    delete a job on the server\n"
    "  job inspect   a deployed job's lineage: destination, sources, upstreams, downstreams\n"
    "  job render    a job's Airflow DAG, compiled locally with its upstream sensors\n"
    "  job run-input a run's input from the server, written to in/ (what task pods run)\n"
    "  job execute   run a deployed job now on an executor (-f: follow its output)\n"
    "  job runs      the native scheduler's runs of the project's jobs (a timeline)\n"
    "  replay create|status|list|cancel     run past windows of a native job again\n"
    "  execution list|describe|cancel|logs  runs of jobs and catalog tasks on executors\n"
    "  task create|list|describe|execute    catalog tasks anyone may run with arguments\n"
    "  executor list|token|revoke           executors and their registration tokens\n"
    "  job create    write a new job from a task plugin's questions\n"
    "  job addhook   add a hook plugin to a job\n"
    "  job validate  check job specs offline (file:line:column for every problem)\n"
    "  project register    register optimus.yaml's project on the server\n"
    "  namespace register  register one namespace of optimus.yaml on the server\n"
    "  namespace list      the project's namespaces, on the server and in optimus.yaml\n"
    "  plugin validate  check YAML plugin files offline\n"
    "  plugin install   install the plugin artifacts a server config names (-c FILE)\n"
    "  plugin list      the server's plugins: type, version, source, digest\n"
    "  plugin sync      copy the server's YAML plugins into the project's .plugins/\n"
    "  verify specs  check single job.yaml / resource.yaml files\n"
    "  secret set|list|delete  the project's secrets on the server (values sealed)\n"
    "  token new|hash  bearer tokens of a project or an admin, and their auth.tokens entries\n"
    "  dlq list  the records of a dead-letter topic and why each is there\n"
    "  version   print the client version and, with --host, the server's\n"
    "  window    compute a job window's DSTART and DEND for a scheduled time\n\n"
    "Run 'optimus <command> --help' for a command's flags.\n";

int Serve(int argc, char** argv) {
  std::vector<std::unique_ptr<optimus::app::Component>> components;
  components.push_back(std::make_unique<optimus::ingest::IngestService>());
  components.push_back(std::make_unique<optimus::spec_store::SpecStoreService>());
  components.push_back(std::make_unique<optimus::plugin_manager::PluginManagerService>());
  components.push_back(std::make_unique<optimus::dependency_resolver::DependencyResolverService>());
  components.push_back(std::make_unique<optimus::compiler::CompilerService>());
  components.push_back(std::make_unique<optimus::runtime_context::RuntimeContextService>());
  components.push_back(std::make_unique<optimus::dispatcher::DispatcherService>());
  return optimus::app::RunMain(
      argc, argv,
      {.program = "optimus serve",
       .embedded = true,
       .default_http_port = 8080,
       .default_grpc_port = 9100,
       .usage = "optimus serve: every Optimus service in one process, on one HTTP port (REST, "
                "/metrics, /healthz, /readyz) and one gRPC port, with its state in --data-dir."},
      std::move(components));
}

int Version(int argc, char** argv) {
  std::string host;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--host" && i + 1 < argc) {
      host = argv[++i];
    } else if (arg.rfind("--host=", 0) == 0) {
      host = arg.substr(7);
    } else if (arg == "-h" || arg == "--help") {
      std::printf(
          "Usage: optimus version [--host HOST:PORT]\n\n"
          "Prints this client's version; with --host also the server's (gRPC).\n");
      return 0;
    } else {
      std::fprintf(stderr, "optimus version: unknown flag '%s'\n", arg.c_str());
      return 2;
    }
  }
  std::printf("client: %s\n", optimus::telemetry::BuildVersion().c_str());
  if (host.empty()) return 0;
  auto channel = optimus::cli::Dial(host);
  auto stub = optimus::core::v1::RuntimeService::NewStub(channel);
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
  optimus::core::v1::VersionRequest request;
  request.set_client(optimus::telemetry::BuildVersion());
  optimus::core::v1::VersionResponse response;
  grpc::Status status = stub->Version(&context, request, &response);
  if (!status.ok()) {
    std::fprintf(stderr, "optimus version: cannot ask the server at %s: %s\n", host.c_str(),
                 status.error_message().c_str());
    return 1;
  }
  std::printf("server: %s\n", response.server().c_str());
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2 || std::strcmp(argv[1], "-h") == 0 || std::strcmp(argv[1], "--help") == 0 ||
      std::strcmp(argv[1], "help") == 0) {
    std::fputs(kUsage, argc < 2 ? stderr : stdout);
    return argc < 2 ? 2 : 0;
  }
  const std::string command = argv[1];
  if (command == "serve") return Serve(argc - 1, argv + 1);
  if (command == "version" || command == "--version") return Version(argc - 1, argv + 1);
  const bool terminal = isatty(0) != 0;
  if (command == "init") {
    return optimus::cli::RunInitCommand(argc - 1, argv + 1, std::cin, std::cout, std::cerr,
                                        terminal);
  }
  if (command == "deploy") {
    return optimus::cli::RunDeployCommand(argc - 1, argv + 1, optimus::cli::DeployMode::kDeploy,
                                          std::cout, std::cerr);
  }
  if (command == "job" && argc >= 3 && std::strcmp(argv[2], "replace-all") == 0) {
    return optimus::cli::RunDeployCommand(argc - 2, argv + 2, optimus::cli::DeployMode::kReplaceAll,
                                          std::cout, std::cerr);
  }
  if (command == "job" && argc >= 3 && std::strcmp(argv[2], "deploy") == 0) {
    return optimus::cli::RunDeployCommand(argc - 2, argv + 2, optimus::cli::DeployMode::kUpsert,
                                          std::cout, std::cerr);
  }
  if (command == "job" && argc >= 3 && std::strcmp(argv[2], "execute") == 0) {
    return optimus::cli::RunJobExecuteCommand(argc - 2, argv + 2, std::cout, std::cerr);
  }
  if (command == "execution") {
    return optimus::cli::RunExecutionCommand(argc - 1, argv + 1, std::cout, std::cerr);
  }
  if (command == "replay") {
    return optimus::cli::RunReplayCommand(argc - 1, argv + 1, std::cout, std::cerr);
  }
  if (command == "job" && argc >= 3 && std::strcmp(argv[2], "runs") == 0) {
    return optimus::cli::RunJobRunsCommand(argc - 2, argv + 2, std::cout, std::cerr);
  }
  if (command == "task")
    return optimus::cli::RunTaskCommand(argc - 1, argv + 1, std::cout, std::cerr);
  if (command == "executor") {
    return optimus::cli::RunExecutorCommand(argc - 1, argv + 1, std::cout, std::cerr);
  }
  if (command == "job" && argc >= 3 && std::strcmp(argv[2], "run-input") == 0) {
    return optimus::cli::RunJobRunInputCommand(argc - 2, argv + 2, std::cout, std::cerr);
  }
  if (command == "job" && argc >= 3 && std::strcmp(argv[2], "inspect") == 0) {
    return optimus::cli::RunJobInspectCommand(argc - 2, argv + 2, std::cout, std::cerr);
  }
  if (command == "job" && argc >= 3 && std::strcmp(argv[2], "render") == 0) {
    return optimus::cli::RunJobRenderCommand(argc - 2, argv + 2, std::cout, std::cerr);
  }
  if (command == "job" && argc >= 3 && std::strcmp(argv[2], "delete") == 0) {
    return optimus::cli::RunJobDeleteCommand(argc - 2, argv + 2, std::cout, std::cerr);
  }
  if (command == "job" && argc >= 3 && std::strcmp(argv[2], "create") == 0) {
    return optimus::cli::RunJobCreateCommand(argc - 2, argv + 2, std::cin, std::cout, std::cerr,
                                             terminal);
  }
  if (command == "job" && argc >= 3 && std::strcmp(argv[2], "addhook") == 0) {
    return optimus::cli::RunJobAddHookCommand(argc - 2, argv + 2, std::cin, std::cout, std::cerr,
                                              terminal);
  }
  if (command == "job" && argc >= 3 && std::strcmp(argv[2], "validate") == 0) {
    return optimus::cli::RunJobValidateCommand(argc - 2, argv + 2, std::cout, std::cerr);
  }
  if (command == "plugin" && argc >= 3 && std::strcmp(argv[2], "list") == 0) {
    return optimus::cli::RunPluginListCommand(argc - 2, argv + 2, std::cout, std::cerr);
  }
  if (command == "plugin" && argc >= 3 && std::strcmp(argv[2], "sync") == 0) {
    return optimus::cli::RunPluginSyncCommand(argc - 2, argv + 2, std::cout, std::cerr);
  }
  if (command == "plugin" && argc >= 3 && std::strcmp(argv[2], "install") == 0) {
    return optimus::cli::RunPluginInstallCommand(argc - 2, argv + 2, std::cout, std::cerr);
  }
  if (command == "plugin" && argc >= 3 && std::strcmp(argv[2], "validate") == 0) {
    return optimus::cli::RunPluginValidateCommand(argc - 2, argv + 2, std::cout, std::cerr);
  }
  if (command == "verify" && argc >= 3 && std::strcmp(argv[2], "specs") == 0) {
    return optimus::cli::RunVerifySpecsCommand(argc - 2, argv + 2, std::cout, std::cerr);
  }
  if (command == "dlq")
    return optimus::cli::RunDlqCommand(argc - 1, argv + 1, std::cout, std::cerr);
  if (command == "project") {
    return optimus::cli::RunProjectCommand(argc - 1, argv + 1, std::cout, std::cerr);
  }
  if (command == "namespace") {
    return optimus::cli::RunNamespaceCommand(argc - 1, argv + 1, std::cout, std::cerr);
  }
  if (command == "secret") {
    return optimus::cli::RunSecretCommand(argc - 1, argv + 1, std::cout, std::cerr);
  }
  if (command == "token") {
    return optimus::cli::RunTokenCommand(argc - 1, argv + 1, std::cin, std::cout, std::cerr);
  }
  if (command == "window") {
    return optimus::cli::RunWindowCommand(argc - 1, argv + 1, std::cout, std::cerr);
  }
  std::fprintf(stderr, "optimus: unknown command '%s'\n\n%s", command.c_str(), kUsage);
  return 2;
}
