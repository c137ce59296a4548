// optimus-executor: runs executions the dispatcher hands out, on this machine. It only dials out
// (no port of its own), so executors can live in any network that reaches the dispatcher.
#include <grpcpp/grpcpp.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>
#include <thread>

#include "absl/strings/numbers.h"
#include "absl/synchronization/mutex.h"
#include "flags.h"
#include "nlohmann/json.hpp"
#include "optimus/core/v1/dispatch.grpc.pb.h"
#include "optimus/executor/executor.h"
#include "optimus/executor/kubernetes_runner.h"
#include "optimus/rpc/signals.h"
#include "optimus/telemetry/log.h"
#include "optimus/telemetry/metrics.h"
#include "run_input_command.h"

namespace {

namespace fs = std::filesystem;
using optimus::cli::Flags;

constexpr char kUsage[] =
    "optimus-executor: runs the executions an Optimus dispatcher hands out.\n\n"
    "Usage:\n"
    "  optimus-executor register --host HOST --registration-token TOKEN --name NAME [flags]\n"
    "  optimus-executor start [--credential-file FILE] [--runner local|kubernetes] [flags]\n"
    "  optimus-executor fetch-input --host HOST --execution ID --epoch N [flags]\n\n"
    "Run 'optimus-executor <command> --help' for its flags.\n";

constexpr char kRegisterHelp[] =
    "Usage: optimus-executor register --host HOST --registration-token TOKEN --name NAME\n\n"
    "Registers this executor with the dispatcher (an admin makes the token with\n"
    "`optimus executor token`) and writes its credential to --credential-file (mode 0600).\n\n"
    "Flags:\n"
    "      --host HOST               the dispatcher's gRPC address (optimus serve: "
    "localhost:9100)\n"
    "      --registration-token T    or $OPTIMUS_EXECUTOR_REGISTRATION_TOKEN\n"
    "      --name NAME               how it is listed (letters, digits, _ - .)\n"
    "      --label K=V               repeatable; pool=a,b: the pools whose runs it takes\n"
    "      --capacity N              executions at once (default 1)\n"
    "      --credential-file FILE    default ~/.optimus/executor.json\n";

constexpr char kStartHelp[] =
    "Usage: optimus-executor start [flags]\n\n"
    "Heartbeats, claims executions when it has free slots, runs them as local processes and\n"
    "streams their logs. SIGTERM stops claiming and lets running executions finish for --drain\n"
    "seconds; what is still running then is stopped unreported, and its lease expires so that\n"
    "another executor runs it again.\n\n"
    "Flags:\n"
    "      --credential-file FILE    from `register` (default ~/.optimus/executor.json); the\n"
    "                                credential may also come from $OPTIMUS_EXECUTOR_CREDENTIAL\n"
    "      --host HOST               the dispatcher (default: the credential file's)\n"
    "      --work-dir DIR            where runs get their directories, <executor id>/slot-<n>/,\n"
    "                                reused run after run (default /tmp/optimus-executor)\n"
    "      --capacity N              executions at once (default: as registered)\n"
    "      --drain SECONDS           how long running executions may finish on SIGTERM (30)\n"
    "      --keep-work-dirs          give each run its own <execution>-<attempt>/ and leave it\n"
    "                                for inspection\n"
    "      --log-format text|json    (default text)\n"
    "      --log-level LEVEL         debug, info, warn, error (default info)\n\n"
    "Kubernetes (--runner kubernetes): each step is a Job with an init container that runs\n"
    "`optimus-executor fetch-input` (docs/execution.md):\n"
    "      --kubeconfig FILE         default: the in-cluster service account\n"
    "      --kube-context NAME       a kubeconfig context (default: its current one)\n"
    "      --kube-namespace NS       where Jobs go (default: the context's or the pod's)\n"
    "      --input-image IMAGE       the image with optimus-executor, for the init container\n"
    "      --dispatcher-address H:P  the dispatcher as pods reach it (default: --host)\n"
    "      --credential-secret NAME  a Secret with this executor's credential under key\n"
    "                                \"credential\" (default optimus-executor)\n"
    "      --service-account NAME    for jobs that name none (default: default)\n";

constexpr char kFetchHelp[] =
    "Usage: optimus-executor fetch-input --host HOST --execution ID --epoch N [flags]\n\n"
    "What a Kubernetes Job's init container runs: fetches one step's run input from the\n"
    "dispatcher and writes in/.env, in/.secret (0600) and the rendered assets under\n"
    "--output-dir, as `optimus job run-input` does. The executor's credential comes from\n"
    "$OPTIMUS_EXECUTOR_CREDENTIAL and the lease's run token from $OPTIMUS_RUN_TOKEN.\n\n"
    "Flags:\n"
    "      --host HOST            the dispatcher's gRPC address\n"
    "      --execution ID         the execution\n"
    "      --epoch N              its lease epoch\n"
    "      --instance-type TYPE   task (default) or hook\n"
    "      --instance-name NAME   the task plugin or the hook\n"
    "      --output-dir DIR       where in/ goes (default /data)\n";

std::string DefaultCredentialFile() {
  const char* home = std::getenv("HOME");
  return (fs::path(home != nullptr && *home != '\0' ? home : "/tmp") / ".optimus" / "executor.json")
      .string();
}

std::shared_ptr<grpc::Channel> Channel(const std::string& host) {
  grpc::ChannelArguments args;
  args.SetMaxReceiveMessageSize(128 << 20);
  args.SetMaxSendMessageSize(128 << 20);
  return grpc::CreateCustomChannel(host, grpc::InsecureChannelCredentials(), args);
}

int Register(int argc, char** argv) {
  std::string host, token, name, capacity_text = "1", file = DefaultCredentialFile();
  std::vector<std::string> labels;
  Flags flags("optimus-executor register");
  flags.String("host", 0, &host);
  flags.String("registration-token", 0, &token);
  flags.String("name", 0, &name);
  flags.List("label", 0, &labels);
  flags.String("capacity", 0, &capacity_text);
  flags.String("credential-file", 0, &file);
  if (auto code = flags.ParseCommand(argc, argv, kRegisterHelp, std::cout, std::cerr)) return *code;
  if (token.empty()) {
    const char* env = std::getenv("OPTIMUS_EXECUTOR_REGISTRATION_TOKEN");
    token = env != nullptr ? env : "";
  }
  int capacity = 0;
  if (host.empty() || token.empty() || name.empty() ||
      !absl::SimpleAtoi(capacity_text, &capacity)) {
    std::cerr << "optimus-executor register: give --host, --registration-token, --name and a "
                 "whole --capacity (see --help)\n";
    return 2;
  }
  optimus::core::v1::RegisterExecutorRequest request;
  request.set_registration_token(token);
  request.set_name(name);
  request.set_capacity(capacity);
  request.set_version(optimus::telemetry::BuildVersion());
  char hostname[256] = {};
  ::gethostname(hostname, sizeof hostname - 1);
  request.set_host(hostname);
  for (const std::string& label : labels) {
    const size_t eq = label.find('=');
    if (eq == std::string::npos || eq == 0) {
      std::cerr << "optimus-executor register: --label takes KEY=VALUE, got \"" << label << "\"\n";
      return 2;
    }
    (*request.mutable_labels())[label.substr(0, eq)] = label.substr(eq + 1);
  }
  auto stub = optimus::core::v1::ExecutorService::NewStub(Channel(host));
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
  context.set_wait_for_ready(true);
  optimus::core::v1::RegisterExecutorResponse response;
  grpc::Status s = stub->Register(&context, request, &response);
  if (!s.ok()) {
    std::cerr << "optimus-executor register: " << host << ": " << s.error_message() << "\n";
    return s.error_code() == grpc::StatusCode::UNAVAILABLE ? 2 : 1;
  }
  nlohmann::json saved = {{"host", host},
                          {"executor_id", response.executor_id()},
                          {"credential", response.credential()},
                          {"name", name},
                          {"capacity", capacity},
                          {"heartbeat_interval_ms", response.heartbeat_interval_ms()},
                          {"lease_ms", response.lease_ms()}};
  std::error_code ec;
  fs::create_directories(fs::path(file).parent_path(), ec);
  const std::string temp = file + ".tmp";
  {
    std::ofstream out(temp, std::ios::trunc);
    out << saved.dump(2) << "\n";
    if (!out) {
      std::cerr << "optimus-executor register: cannot write " << temp << "\n";
      return 2;
    }
  }
  ::chmod(temp.c_str(), 0600);
  fs::rename(temp, file, ec);
  if (ec) {
    std::cerr << "optimus-executor register: cannot write " << file << ": " << ec.message() << "\n";
    return 2;
  }
  std::cout << "registered executor " << response.executor_id() << " (" << name
            << "); its credential is in " << file << "\n";
  return 0;
}

int Start(int argc, char** argv) {
  optimus::rpc::ShutdownSignal shutdown;  // before any thread
  std::string file = DefaultCredentialFile(), host, work = "/tmp/optimus-executor", capacity_text,
              drain_text = "30", log_format = "text", log_level = "info";
  bool keep = false;
  std::string runner = "local", kubeconfig, kube_context, kube_namespace, input_image,
              dispatcher_address, credential_secret = "optimus-executor", service_account;
  Flags flags("optimus-executor start");
  flags.String("runner", 0, &runner);
  flags.String("kubeconfig", 0, &kubeconfig);
  flags.String("kube-context", 0, &kube_context);
  flags.String("kube-namespace", 0, &kube_namespace);
  flags.String("input-image", 0, &input_image);
  flags.String("dispatcher-address", 0, &dispatcher_address);
  flags.String("credential-secret", 0, &credential_secret);
  flags.String("service-account", 0, &service_account);
  flags.String("credential-file", 0, &file);
  flags.String("host", 0, &host);
  flags.String("work-dir", 0, &work);
  flags.String("capacity", 0, &capacity_text);
  flags.String("drain", 0, &drain_text);
  flags.Bool("keep-work-dirs", 0, &keep);
  flags.String("log-format", 0, &log_format);
  flags.String("log-level", 0, &log_level);
  if (auto code = flags.ParseCommand(argc, argv, kStartHelp, std::cout, std::cerr)) return *code;
  auto level = optimus::telemetry::ParseLogLevel(log_level);
  auto format = optimus::telemetry::ParseLogFormat(log_format);
  if (!level.ok() || !format.ok()) {
    std::cerr << "optimus-executor start: --log-level is debug|info|warn|error, --log-format "
                 "text|json\n";
    return 2;
  }
  optimus::telemetry::ConfigureLogging(
      {.level = *level, .format = *format, .service = "optimus-executor"});
  nlohmann::json saved = nlohmann::json::object();
  if (std::ifstream in(file); in) {
    std::stringstream text;
    text << in.rdbuf();
    saved = nlohmann::json::parse(text.str(), nullptr, false);
    if (!saved.is_object()) {
      std::cerr << "optimus-executor start: " << file << " is not a credential file\n";
      return 2;
    }
  }
  optimus::executor::ExecutorOptions options;
  options.name = saved.value("name", std::string("executor"));
  options.credential = saved.value("credential", std::string());
  if (const char* env = std::getenv("OPTIMUS_EXECUTOR_CREDENTIAL"); env != nullptr && *env) {
    options.credential = env;
  }
  if (host.empty()) host = saved.value("host", std::string());
  options.capacity = saved.value("capacity", 1);
  int drain = 0;
  if (!capacity_text.empty() && !absl::SimpleAtoi(capacity_text, &options.capacity)) {
    std::cerr << "optimus-executor start: --capacity takes a whole number\n";
    return 2;
  }
  if (!absl::SimpleAtoi(drain_text, &drain) || drain < 0) {
    std::cerr << "optimus-executor start: --drain takes whole seconds\n";
    return 2;
  }
  if (options.credential.empty() || host.empty()) {
    std::cerr << "optimus-executor start: no credential (register first, or set "
                 "$OPTIMUS_EXECUTOR_CREDENTIAL and --host); looked in "
              << file << "\n";
    return 2;
  }
  options.capacity = std::max(1, options.capacity);
  options.heartbeat = std::chrono::milliseconds(saved.value("heartbeat_interval_ms", 2000));
  options.lease = std::chrono::milliseconds(saved.value("lease_ms", 10000));
  options.work_root = work;
  options.drain = std::chrono::seconds(drain);
  options.keep_work_dirs = keep;
  std::unique_ptr<optimus::executor::KubernetesApi> kube_api;
  std::unique_ptr<optimus::executor::KubernetesRunner> kube_runner;
  if (runner == "kubernetes") {
    auto cluster = kubeconfig.empty()
                       ? optimus::executor::InClusterConfig()
                       : optimus::executor::KubeconfigCluster(kubeconfig, kube_context);
    if (!cluster.ok()) {
      std::cerr << "optimus-executor start: " << cluster.status().message() << "\n";
      return 2;
    }
    if (input_image.empty()) {
      std::cerr << "optimus-executor start: --runner kubernetes needs --input-image (the image "
                   "with optimus-executor, for the run-input init container)\n";
      return 2;
    }
    optimus::executor::KubernetesJobOptions job;
    job.namespace_name = kube_namespace.empty() ? cluster->namespace_name : kube_namespace;
    job.input_image = input_image;
    job.dispatcher = dispatcher_address.empty() ? host : dispatcher_address;
    job.credential_secret = credential_secret;
    if (!service_account.empty()) job.service_account = service_account;
    kube_api = std::make_unique<optimus::executor::KubernetesApi>(*std::move(cluster));
    kube_runner = std::make_unique<optimus::executor::KubernetesRunner>(*kube_api, job);
    options.kubernetes = kube_runner.get();
  } else if (runner != "local") {
    std::cerr << "optimus-executor start: --runner is local or kubernetes, not \"" << runner
              << "\"\n";
    return 2;
  }
  optimus::executor::Executor executor(options, Channel(host));
  LOG_INFO("executor starting", {{"host", host},
                                 {"runner", runner},
                                 {"capacity", static_cast<int64_t>(options.capacity)},
                                 {"work_dir", work}});
  absl::Status result;
  std::jthread loop([&](std::stop_token stop) {
    result = executor.Run(stop);
    shutdown.Trigger();
  });
  shutdown.Wait();
  loop.request_stop();
  loop.join();
  if (!result.ok()) {
    std::cerr << "optimus-executor start: " << result.message() << "\n";
    return 1;
  }
  LOG_INFO("executor stopped", {{"executions", executor.finished()}});
  return 0;
}

int FetchInput(int argc, char** argv) {
  std::string host, execution, epoch_text, type = "task", name, output = "/data";
  Flags flags("optimus-executor fetch-input");
  flags.String("host", 0, &host);
  flags.String("execution", 0, &execution);
  flags.String("epoch", 0, &epoch_text);
  flags.String("instance-type", 0, &type);
  flags.String("instance-name", 0, &name);
  flags.String("output-dir", 0, &output);
  if (auto code = flags.ParseCommand(argc, argv, kFetchHelp, std::cout, std::cerr)) return *code;
  int64_t epoch = 0;
  const char* credential = std::getenv("OPTIMUS_EXECUTOR_CREDENTIAL");
  const char* token = std::getenv("OPTIMUS_RUN_TOKEN");
  if (host.empty() || execution.empty() || !absl::SimpleAtoi(epoch_text, &epoch) ||
      credential == nullptr || token == nullptr) {
    std::cerr << "optimus-executor fetch-input: give --host, --execution, --epoch and set "
                 "$OPTIMUS_EXECUTOR_CREDENTIAL and $OPTIMUS_RUN_TOKEN (see --help)\n";
    return 2;
  }
  optimus::core::v1::ExecutorRunInputRequest request;
  request.set_execution_id(execution);
  request.set_epoch(epoch);
  request.set_run_token(token);
  request.set_instance_type(type);
  request.set_instance_name(name);
  auto stub = optimus::core::v1::ExecutorService::NewStub(Channel(host));
  optimus::core::v1::JobRunInputResponse input;
  grpc::Status s;
  const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  for (int attempt = 0;; ++attempt) {
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
    context.AddMetadata("authorization", std::string("Bearer ") + credential);
    input.Clear();
    s = stub->RunInput(&context, request, &input);
    if (s.ok() || s.error_code() != grpc::StatusCode::UNAVAILABLE ||
        std::chrono::steady_clock::now() > until) {
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(200 << std::min(attempt, 4)));
  }
  if (!s.ok()) {
    std::cerr << "optimus-executor fetch-input: " << s.error_message() << "\n";
    return 1;
  }
  if (absl::Status w =
          optimus::cli::WriteRunInput(output, {input.envs().begin(), input.envs().end()},
                                      {input.files().begin(), input.files().end()},
                                      {input.secrets().begin(), input.secrets().end()});
      !w.ok()) {
    std::cerr << "optimus-executor fetch-input: " << w.message() << "\n";
    return 2;
  }
  std::cout << "run input of execution " << execution << ": " << input.envs_size()
            << " env values, " << input.secrets_size() << " secrets, " << input.files_size()
            << " files in " << output << "/in\n";
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  // As the server does (libs/app host.cc): no debug-mode lock graph for gRPC's mutexes.
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
  if (argc < 2 || std::strcmp(argv[1], "-h") == 0 || std::strcmp(argv[1], "--help") == 0) {
    std::fputs(kUsage, argc < 2 ? stderr : stdout);
    return argc < 2 ? 2 : 0;
  }
  const std::string command = argv[1];
  if (command == "register") return Register(argc - 1, argv + 1);
  if (command == "start") return Start(argc - 1, argv + 1);
  if (command == "fetch-input") return FetchInput(argc - 1, argv + 1);
  if (command == "version" || command == "--version") {
    std::printf("%s\n", optimus::telemetry::BuildVersion().c_str());
    return 0;
  }
  std::fprintf(stderr, "optimus-executor: unknown command '%s'\n\n%s", command.c_str(), kUsage);
  return 2;
}
