// The process host: flags → config → adapters → migrations → components → servers → signal →
// ordered shutdown.
#include "optimus/app/host.h"

#ifdef OPTIMUS_JEMALLOC
#include <jemalloc/jemalloc.h>
#endif
#include <grpcpp/grpcpp.h>
#include <pthread.h>
#include <unistd.h>

#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <mutex>
#include <random>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "optimus/blob/blob_store.h"
#include "optimus/bus/open_bus.h"
#include "optimus/core/v1/runtime.grpc.pb.h"
#include "optimus/rpc/auth.h"
#include "optimus/rpc/grpc_server.h"
#include "optimus/rpc/http_server.h"
#include "optimus/rpc/signals.h"
#include "optimus/store/database.h"
#include "optimus/store/outbox.h"
#include "optimus/telemetry/health.h"
#include "optimus/telemetry/log.h"
#include "optimus/telemetry/metrics.h"
#include "prometheus/counter.h"
#include "prometheus/gauge.h"
#include "prometheus/registry.h"

namespace optimus::app {
namespace {

// jemalloc keeps the pages a burst of work freed (a deploy parses and copies every spec) for ten
// seconds, and gives them back only when it next allocates: a server idle after a deploy held
// 100 MB more than it used. A background thread returns them within a second instead. Set
// MALLOC_CONF to choose otherwise.
void TuneAllocator() {
#ifdef OPTIMUS_JEMALLOC
  if (std::getenv("MALLOC_CONF") != nullptr) return;
  bool on = true;
  mallctl("background_thread", nullptr, nullptr, &on, sizeof(on));
  ssize_t dirty = 1000, muzzy = 0;
  mallctl("arenas.dirty_decay_ms", nullptr, nullptr, &dirty, sizeof(dirty));
  mallctl("arenas.muzzy_decay_ms", nullptr, nullptr, &muzzy, sizeof(muzzy));
  const std::string all = "arena." + std::to_string(MALLCTL_ARENAS_ALL) + ".";
  mallctl((all + "dirty_decay_ms").c_str(), nullptr, nullptr, &dirty, sizeof(dirty));
  mallctl((all + "muzzy_decay_ms").c_str(), nullptr, nullptr, &muzzy, sizeof(muzzy));
#endif
}

using config::Key;
using config::Type;

// Answers every blob call with a clear error when no blob store is configured.
class MissingBlobStore : public blob::BlobStore {
 public:
  absl::Status Put(std::string_view, std::string_view) override { return Missing(); }
  absl::StatusOr<std::string> Get(std::string_view) override { return Missing(); }
  absl::Status Delete(std::string_view) override { return Missing(); }
  absl::StatusOr<std::vector<blob::ObjectInfo>> List(std::string_view) override {
    return Missing();
  }

 private:
  static absl::Status Missing() {
    return absl::FailedPreconditionError(
        "no object store configured: set blob.uri (OPTIMUS_BLOB_URI), e.g. s3://bucket/prefix");
  }
};

// The embedded server's app key: read from `path`, or made (48 random letters and digits, the
// file readable by its owner only) on the first start.
absl::StatusOr<std::string> EmbeddedAppKey(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::string key;
  if (in && std::getline(in, key) && key.size() >= 32) return key;
  static constexpr char kAlphabet[] =
      "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
  std::random_device random;
  key.clear();
  for (int i = 0; i < 48; ++i) key += kAlphabet[random() % (sizeof(kAlphabet) - 1)];
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << key << "\n";
  out.close();
  std::error_code ec;
  std::filesystem::permissions(
      path, std::filesystem::perms::owner_read | std::filesystem::perms::owner_write,
      std::filesystem::perm_options::replace, ec);
  if (!out || ec) return absl::UnavailableError("cannot write the app key to " + path.string());
  return key;
}

// RuntimeService: the version handshake every client makes.
class RuntimeServiceImpl final : public core::v1::RuntimeService::Service {
 public:
  grpc::Status Version(grpc::ServerContext* context, const core::v1::VersionRequest*,
                       core::v1::VersionResponse* response) override {
    rpc::ScopedCallTrace trace(context);
    response->set_server(telemetry::BuildVersion());
    return grpc::Status::OK;
  }
};

std::string DefaultDataDir() {
  if (const char* xdg = std::getenv("XDG_DATA_HOME"); xdg != nullptr && *xdg != '\0') {
    return absl::StrCat(xdg, "/optimus");
  }
  if (const char* home = std::getenv("HOME"); home != nullptr && *home != '\0') {
    return absl::StrCat(home, "/.local/share/optimus");
  }
  return "optimus-data";
}

std::string SchemaName(const std::string& component) {
  std::string out = component;
  for (char& c : out) {
    if (c == '-') c = '_';
  }
  return out;
}

struct Flags {
  std::string config_file;
  std::map<std::string, std::string> overrides;
  bool help = false;
  bool help_config = false;
  bool version = false;
  bool check_config = false;
};

absl::StatusOr<Flags> ParseFlags(int argc, char** argv) {
  Flags flags;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    auto value = [&](const char* name) -> absl::StatusOr<std::string> {
      const std::string prefix = absl::StrCat(name, "=");
      if (arg.rfind(prefix, 0) == 0) return arg.substr(prefix.size());
      if (i + 1 >= argc) return absl::InvalidArgumentError(absl::StrCat(name, " needs a value"));
      return std::string(argv[++i]);
    };
    auto starts = [&](const char* name) {
      return arg == name || arg.rfind(absl::StrCat(name, "="), 0) == 0;
    };
    if (arg == "-h" || arg == "--help") {
      flags.help = true;
    } else if (arg == "--help-config") {
      flags.help_config = true;
    } else if (arg == "--version") {
      flags.version = true;
    } else if (arg == "--check-config") {
      flags.check_config = true;
    } else if (starts("--config") || starts("-c")) {
      auto v = value(arg.rfind("-c", 0) == 0 && arg.rfind("--", 0) != 0 ? "-c" : "--config");
      if (!v.ok()) return v.status();
      flags.config_file = *v;
    } else if (starts("--data-dir")) {
      auto v = value("--data-dir");
      if (!v.ok()) return v.status();
      flags.overrides["data_dir"] = *v;
    } else if (starts("--set")) {
      auto v = value("--set");
      if (!v.ok()) return v.status();
      const size_t eq = v->find('=');
      if (eq == std::string::npos || eq == 0) {
        return absl::InvalidArgumentError(absl::StrCat("--set takes key=value, got '", *v, "'"));
      }
      flags.overrides[v->substr(0, eq)] = v->substr(eq + 1);
    } else {
      return absl::InvalidArgumentError(absl::StrCat("unknown flag '", arg, "' (see --help)"));
    }
  }
  return flags;
}

void PrintHelp(const HostOptions& options) {
  std::printf(
      "%s\n\nUsage: %s [flags]\n\n"
      "Flags:\n"
      "  -c, --config FILE   YAML config file (keys: --help-config)\n"
      "      --set KEY=VAL   set one config key; wins over the file and OPTIMUS_* variables\n"
      "      --data-dir DIR  where embedded state lives (same as --set data_dir=DIR)\n"
      "      --check-config  load and validate the config, print it, and exit\n"
      "      --help-config   list every config key with its type, default and variable\n"
      "      --version       print the version and exit\n"
      "  -h, --help          this text\n\n"
      "Every config key can also be set as an OPTIMUS_* environment variable,\n"
      "e.g. http.port as OPTIMUS_HTTP_PORT. SIGTERM or Ctrl-C drains and stops.\n",
      options.usage.c_str(), options.program.c_str());
}

// One line on stderr, the way a user or an init system reads start-up failures.
int Die(const HostOptions& options, const absl::Status& status, int code) {
  std::string message(status.message());
  std::fprintf(stderr, "%s: %s\n", options.program.c_str(), message.c_str());
  return code;
}

// One component's adapters and relay thread.
struct Running {
  Component* component;
  std::unique_ptr<store::Database> db;
  std::unique_ptr<store::Outbox> outbox;
  std::unique_ptr<bus::Publisher> publisher;
  std::unique_ptr<store::OutboxRelay> relay;
  std::jthread relay_thread;
  std::unique_ptr<Context> context;
  bool started = false;
};

// Deletes, in each service's database, the outbox rows published more than `outbox_ms` ago and
// the exactly-once bookkeeping (the store's and the component's own) older than
// `processed_ms`, every `every_ms` until `stop`: such tables otherwise grow with every event
// for as long as the server runs.
void TidyStores(std::stop_token stop, const std::vector<std::unique_ptr<Running>>& running,
                int64_t every_ms, int64_t outbox_ms, int64_t processed_ms) {
  auto& pruned = prometheus::BuildCounter()
                     .Name("optimus_store_pruned_rows_total")
                     .Help(
                         "Rows the housekeeping deleted, by service and table (outbox, "
                         "processed_messages, own: the service's own record of repeats).")
                     .Register(telemetry::Metrics());
  std::mutex mu;
  std::condition_variable_any wake;
  for (;;) {
    {
      std::unique_lock lock(mu);
      if (wake.wait_for(lock, stop, std::chrono::milliseconds(every_ms), [] { return false; }) ||
          stop.stop_requested()) {
        return;
      }
    }
    const int64_t now = absl::ToUnixMillis(absl::Now());
    for (const auto& r : running) {
      if (stop.stop_requested()) return;
      const std::string service = r->component->name();
      const std::pair<const char*, absl::StatusOr<int64_t>> results[] = {
          {"outbox", store::PruneOutbox(*r->db, now - outbox_ms)},
          {"processed_messages", store::PruneProcessed(*r->db, now - processed_ms)},
          {"own", r->component->Forget(*r->db, now - processed_ms)}};
      for (const auto& [table, result] : results) {
        if (!result.ok()) {
          LOG_WARN("housekeeping could not tidy a table; trying again later",
                   {{"service", service}, {"table", table}, {"error", result.status()}});
        } else if (*result > 0) {
          pruned.Add({{"service", service}, {"table", table}}).Increment(*result);
          LOG_DEBUG("housekeeping deleted old rows",
                    {{"service", service}, {"table", table}, {"rows", *result}});
        }
      }
    }
  }
}

}  // namespace

config::Schema HostSchema(const HostOptions& options) {
  config::Schema schema;
  const char* listen_host = options.embedded ? "127.0.0.1" : "0.0.0.0";
  schema.Add({.name = "log.level",
              .type = Type::kString,
              .default_value = "info",
              .description = "Lowest level logged: debug, info, warn or error.",
              .one_of = {"debug", "info", "warn", "error"}});
  schema.Add({.name = "log.format",
              .type = Type::kString,
              .default_value = options.embedded && isatty(2) ? "text" : "json",
              .description = "json (one object per line) or text (for a terminal).",
              .one_of = {"json", "text"}});
  schema.Add({.name = "http.host",
              .type = Type::kString,
              .default_value = listen_host,
              .description = "Address the REST, metrics and health server binds."});
  schema.Add({.name = "http.port",
              .type = Type::kInt,
              .default_value = std::to_string(options.default_http_port),
              .description = "Port of the REST, metrics and health server; 0 picks a free one.",
              .min = 0,
              .max = 65535});
  schema.Add({.name = "http.threads",
              .type = Type::kInt,
              .default_value = "16",
              .description = "Worker threads of the HTTP server: requests handled at once "
                             "(connections take none; probes have their own).",
              .min = 1,
              .max = 1024});
  schema.Add({.name = "http.max_connections",
              .type = Type::kInt,
              .default_value = "4096",
              .description = "Open HTTP connections at most; at the limit the connection waiting "
                             "longest with no request under way is closed to make room.",
              .min = 1,
              .max = 1000000});
  schema.Add({.name = "http.max_client_connections",
              .type = Type::kInt,
              .default_value = "512",
              .description = "Open HTTP connections from one client address at most (the same "
                             "rule at its limit).",
              .min = 1,
              .max = 1000000});
  schema.Add({.name = "http.header_timeout",
              .type = Type::kDuration,
              .default_value = "10s",
              .description = "Time a new HTTP connection has to send its first request's "
                             "headers; then it is closed.",
              .min = 100,
              .max = 600000});
  schema.Add({.name = "grpc.host",
              .type = Type::kString,
              .default_value = listen_host,
              .description = "Address the gRPC server binds."});
  schema.Add({.name = "grpc.port",
              .type = Type::kInt,
              .default_value = std::to_string(options.default_grpc_port),
              .description = "Port of the gRPC server; 0 picks a free one.",
              .min = 0,
              .max = 65535});
  schema.Add({.name = "data_dir",
              .type = Type::kString,
              .default_value = options.embedded ? DefaultDataDir() : "",
              .description = "Directory of embedded state: <service>.db, bus.db, blob/."});
  schema.Add({.name = "db.uri",
              .type = Type::kString,
              .description = "Database: postgresql://user@host:5432/db (one schema per service) "
                             "or sqlite:<path>. Embedded default: sqlite files in data_dir.",
              .required = !options.embedded});
  schema.Add({.name = "bus.uri",
              .type = Type::kString,
              .description = "Event bus: kafka://host:9092[,host:9092] or embedded:<path>. "
                             "Embedded default: embedded:<data_dir>/bus.db.",
              .required = !options.embedded});
  schema.Add({.name = "blob.uri",
              .type = Type::kString,
              .description = "Object store for DAGs and large assets: s3://bucket/prefix?endpoint=…"
                             " or file:///path. Embedded default: file://<data_dir>/blob."});
  schema.Add({.name = "auth.tokens",
              .type = Type::kStringList,
              .description = "Bearer tokens the APIs accept, each \"admin=sha256:<hex>\" or "
                             "\"project:<name>=sha256:<hex>\" (optimus token new makes one); "
                             "none means no authentication (for local use only).",
              .secret = true});
  schema.Add({.name = "auth.internal_token",
              .description = "The token services send each other when auth.tokens is set (ingest "
                             "asking dependency-resolver); the same on every service of a "
                             "distributed deployment. Default: a random one per process (enough "
                             "for optimus serve).",
              .secret = true});
  schema.Add({.name = "secrets.app_key",
              .description = "The key secrets are sealed with (AES-256-GCM over its first 32 "
                             "bytes); the same on ingest and runtime-context. Embedded default: "
                             "a random key kept in <data_dir>/app.key.",
              .secret = true});
  schema.Add({.name = "shutdown.grace",
              .type = Type::kDuration,
              .default_value = "10s",
              .description = "How long SIGTERM waits for in-flight requests before stopping.",
              .min = 0,
              .max = 600000});
  schema.Add({.name = "relay.batch_size",
              .type = Type::kInt,
              .default_value = "500",
              .description = "Outbox rows published per batch.",
              .min = 1,
              .max = 100000});
  schema.Add({.name = "relay.linger",
              .type = Type::kDuration,
              .default_value = "5ms",
              .description = "After publishing a batch smaller than relay.batch_size, how long "
                             "the relay lets more rows gather before it reads again: under a "
                             "steady stream of small transactions it reads the outbox a few "
                             "hundred times a second instead of once per commit. An idle relay "
                             "still publishes the first row at once.",
              .min = 0,
              .max = 1000});
  schema.Add({.name = "store.housekeeping_interval",
              .type = Type::kDuration,
              .default_value = "10m",
              .description = "How often each service's database is tidied: published outbox rows "
                             "and old exactly-once bookkeeping deleted (0: never).",
              .min = 0,
              .max = 24 * 3600000LL});
  schema.Add({.name = "store.outbox_retention",
              .type = Type::kDuration,
              .default_value = "1h",
              .description = "How long an outbox row is kept after it was published (to look "
                             "into what a service sent).",
              .min = 0,
              .max = 90 * 24 * 3600000LL});
  schema.Add({.name = "store.processed_retention",
              .type = Type::kDuration,
              .default_value = "168h",
              .description = "How long a consumer remembers the records it applied, so that a "
                             "record delivered again changes nothing. A record comes again only "
                             "until its offset is committed, or when a group's offsets are moved "
                             "back by hand: keep this longer than any such move.",
              .min = 3600000,
              .max = 3650 * 24 * 3600000LL});
  return schema;
}

int RunMain(int argc, char** argv, const HostOptions& options,
            std::vector<std::unique_ptr<Component>> components) {
  rpc::ShutdownSignal shutdown;  // Before any thread exists (see signals.h).
  // Debian builds Abseil with its debug-mode deadlock detector on; it books every absl::Mutex
  // (gRPC takes thousands a second) into a lock graph. Release builds of Abseil leave it off.
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
  TuneAllocator();  // its thread blocks the signals, as every thread started from here on

  auto flags = ParseFlags(argc, argv);
  if (!flags.ok()) return Die(options, flags.status(), 2);
  config::Schema schema = HostSchema(options);
  for (const auto& c : components) schema.Merge(c->ConfigSchema());
  if (flags->help) {
    PrintHelp(options);
    return 0;
  }
  if (flags->help_config) {
    std::printf("%s", schema.Describe().c_str());
    return 0;
  }
  if (flags->version) {
    std::printf("%s %s\n", options.program.c_str(), telemetry::BuildVersion().c_str());
    return 0;
  }
  auto config =
      config::Load(schema, flags->config_file, config::ProcessEnvironment(), flags->overrides);
  if (!config.ok()) return Die(options, config.status(), 2);
  auto grants = rpc::ParseTokenGrants(config->StringList("auth.tokens"));
  if (!grants.ok()) return Die(options, grants.status(), 2);
  if (flags->check_config) {
    for (const auto& [k, v] : config->Redacted()) {
      std::printf("%s = %s  (%s)\n", k.c_str(), v.c_str(), config->Origin(k).c_str());
    }
    return 0;
  }

  telemetry::ConfigureLogging({.level = *telemetry::ParseLogLevel(config->String("log.level")),
                               .format = *telemetry::ParseLogFormat(config->String("log.format")),
                               .service = options.program});

  // Adapters. Embedded mode puts everything under data_dir unless a URI says otherwise.
  const std::string data_dir = config->String("data_dir");
  if (options.embedded) {
    std::error_code ec;
    std::filesystem::create_directories(data_dir, ec);
    if (ec) {
      return Die(options,
                 absl::UnavailableError(
                     absl::StrCat("cannot create data_dir ", data_dir, ": ", ec.message())),
                 1);
    }
  }
  const std::string bus_uri = config->Has("bus.uri")
                                  ? config->String("bus.uri")
                                  : absl::StrCat("embedded:", data_dir, "/bus.db");
  auto bus = bus::OpenBus(bus_uri, options.program);
  if (!bus.ok()) return Die(options, bus.status(), 1);

  std::unique_ptr<blob::BlobStore> blob_store;
  std::string blob_uri = config->Has("blob.uri") ? config->String("blob.uri") : "";
  if (blob_uri.empty() && options.embedded) {
    blob_uri = absl::StrCat("file://", std::filesystem::absolute(data_dir).string(), "/blob");
  }
  if (blob_uri.empty()) {
    blob_store = std::make_unique<MissingBlobStore>();
  } else {
    auto opened = blob::OpenBlobStore(blob_uri);
    if (!opened.ok()) return Die(options, opened.status(), 1);
    blob_store = *std::move(opened);
  }

  std::string app_key = config->String("secrets.app_key");
  if (app_key.empty() && options.embedded) {
    auto key = EmbeddedAppKey(std::filesystem::path(data_dir) / "app.key");
    if (!key.ok()) return Die(options, key.status(), 1);
    app_key = *std::move(key);
  }

  telemetry::HealthRegistry health;
  prometheus::Registry& metrics = telemetry::Metrics();
  std::shared_ptr<const rpc::Authenticator> authenticator;
  std::string internal_token;
  if (!grants->empty()) {
    // What services send each other (ingest asking the resolver); one of this process's own
    // when not configured, which is enough for optimus serve.
    internal_token = config->String("auth.internal_token");
    if (internal_token.empty()) internal_token = rpc::NewToken();
    grants->push_back(
        {.principal = {.admin = true}, .sha256_hex = rpc::TokenSha256Hex(internal_token)});
    std::map<std::string, rpc::Access, std::less<>> rules = {
        {"GET /api/v1beta1/version", rpc::Access::kPublic},
        {"optimus.core.v1.RuntimeService/Version", rpc::Access::kPublic}};
    for (const auto& c : components) rules.merge(c->AccessRules());
    authenticator = std::make_shared<rpc::Authenticator>(*std::move(grants), std::move(rules),
                                                         &telemetry::Metrics());
  }
  rpc::HttpServer http(
      {.host = config->String("http.host"),
       .port = static_cast<int>(config->Int("http.port")),
       .threads = static_cast<int>(config->Int("http.threads")),
       .header_timeout = std::chrono::milliseconds(config->DurationMs("http.header_timeout")),
       .max_connections = static_cast<int>(config->Int("http.max_connections")),
       .max_client_connections = static_cast<int>(config->Int("http.max_client_connections")),
       .metrics = &metrics,
       .health = &health,
       .authenticator = authenticator});
  rpc::GrpcServer grpc_server(
      {.address = absl::StrCat(config->String("grpc.host"), ":", config->Int("grpc.port")),
       .metrics = &metrics});
  RuntimeServiceImpl runtime_service;
  grpc_server.AddService(&runtime_service, "optimus.core.v1.RuntimeService");
  http.Get("/api/v1beta1/version", [](const rpc::HttpRequest&) {
    return rpc::HttpResponse::Json(
        absl::StrCat("{\"server\":\"", telemetry::BuildVersion(), "\"}"));
  });

  std::vector<std::unique_ptr<Running>> running;
  std::jthread housekeeping;
  auto stop_all = [&] {
    if (housekeeping.joinable()) {
      housekeeping.request_stop();
      housekeeping.join();
    }
    for (auto it = running.rbegin(); it != running.rend(); ++it) {
      if ((*it)->started) (*it)->component->Stop();
    }
    for (auto& r : running) r->relay_thread.request_stop();  // All at once, then wait.
    for (auto it = running.rbegin(); it != running.rend(); ++it) {
      if ((*it)->relay_thread.joinable()) (*it)->relay_thread.join();
      if ((*it)->relay) {
        // Whatever committed before the stop still goes out now, not at the next start.
        if (absl::Status s = (*it)->relay->Drain(); !s.ok()) {
          LOG_WARN("outbox not drained at shutdown; it is published at the next start",
                   {{"component", (*it)->component->name()}, {"error", s}});
        }
      }
    }
  };

  for (auto& component : components) {
    auto r = std::make_unique<Running>();
    r->component = component.get();
    const std::string name = component->name();
    const std::string db_uri = config->Has("db.uri")
                                   ? config->String("db.uri")
                                   : absl::StrCat("sqlite:", data_dir, "/", name, ".db");
    auto db = store::OpenDatabase(db_uri, SchemaName(name));
    if (!db.ok()) {
      stop_all();
      return Die(options, db.status(), 1);
    }
    r->db = *std::move(db);
    absl::Status migrated = store::ApplyMigrations(*r->db, "store", store::CoreMigrations());
    if (migrated.ok()) migrated = store::ApplyMigrations(*r->db, name, component->Migrations());
    if (!migrated.ok()) {
      stop_all();
      return Die(options, migrated, 1);
    }
    auto publisher = (*bus)->NewPublisher();
    if (!publisher.ok()) {
      stop_all();
      return Die(options, publisher.status(), 1);
    }
    r->publisher = *std::move(publisher);
    r->outbox = std::make_unique<store::Outbox>("optimus/" + name);
    // How far each service's relay is behind, for alerts on a stuck bus.
    const prometheus::Labels labels{{"service", name}};
    prometheus::Gauge* pending = &prometheus::BuildGauge()
                                      .Name("optimus_outbox_pending_records")
                                      .Help("Outbox rows not yet published to the bus, by service.")
                                      .Register(telemetry::Metrics())
                                      .Add(labels);
    prometheus::Gauge* oldest =
        &prometheus::BuildGauge()
             .Name("optimus_outbox_oldest_pending_seconds")
             .Help("How long the oldest unpublished outbox row has waited, by service.")
             .Register(telemetry::Metrics())
             .Add(labels);
    r->relay = std::make_unique<store::OutboxRelay>(
        *r->db, *r->publisher,
        store::RelayOptions{.batch_size = static_cast<int>(config->Int("relay.batch_size")),
                            .linger_ms = static_cast<int>(config->DurationMs("relay.linger")),
                            .on_backlog = [pending, oldest](const store::OutboxBacklog& b) {
                              pending->Set(static_cast<double>(b.pending));
                              oldest->Set(static_cast<double>(b.oldest_age_ms) / 1e3);
                            }});
    store::Database* raw_db = r->db.get();
    health.AddReadinessCheck("db:" + name, [raw_db] { return raw_db->Ping(); });
    r->context = std::make_unique<Context>(Context{*config, *r->db, *r->outbox, **bus, *blob_store,
                                                   health, metrics, http, grpc_server, app_key,
                                                   authenticator.get(), internal_token});
    running.push_back(std::move(r));
  }
  for (auto& r : running) {
    if (absl::Status s = r->component->Start(*r->context); !s.ok()) {
      stop_all();
      return Die(options,
                 absl::Status(s.code(), absl::StrCat(r->component->name(), ": ", s.message())), 1);
    }
    r->started = true;
    store::OutboxRelay* relay = r->relay.get();
    r->relay_thread =
        std::jthread([relay, name = "relay " + r->component->name()](std::stop_token stop) {
          pthread_setname_np(pthread_self(), name.substr(0, 15).c_str());
          relay->Run(stop);
        });
  }

  if (absl::Status s = http.Start(); !s.ok()) {
    stop_all();
    return Die(options, s, 1);
  }
  if (absl::Status s = grpc_server.Start(); !s.ok()) {
    (void)http.Stop(std::chrono::seconds(1));
    stop_all();
    return Die(options, s, 1);
  }
  if (const int64_t every = config->DurationMs("store.housekeeping_interval"); every > 0) {
    housekeeping = std::jthread(
        [&running, every, outbox_ms = config->DurationMs("store.outbox_retention"),
         processed_ms = config->DurationMs("store.processed_retention")](std::stop_token stop) {
          pthread_setname_np(pthread_self(), "housekeeping");
          TidyStores(stop, running, every, outbox_ms, processed_ms);
        });
  }
  std::vector<std::string> names;
  for (const auto& c : components) names.push_back(c->name());
  LOG_INFO("ready", {{"http_port", http.port()},
                     {"grpc_port", grpc_server.port()},
                     {"components", absl::StrJoin(names, ",")},
                     {"bus", bus_uri},
                     {"version", telemetry::BuildVersion()}});

  const int signal_number = shutdown.Wait();
  const auto grace = std::chrono::milliseconds(config->DurationMs("shutdown.grace"));
  LOG_INFO("shutting down",
           {{"signal", signal_number}, {"grace_ms", static_cast<int64_t>(grace.count())}});
  health.SetShuttingDown();
  absl::Status grpc_stopped = grpc_server.Shutdown(grace);
  absl::Status http_stopped = http.Stop(grace);
  stop_all();
  if (!grpc_stopped.ok() || !http_stopped.ok()) {
    LOG_WARN("requests were still running when the grace period ended",
             {{"grpc", grpc_stopped}, {"http", http_stopped}});
  }
  LOG_INFO("stopped");
  return 0;
}

}  // namespace optimus::app
