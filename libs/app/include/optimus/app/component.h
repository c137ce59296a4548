// A service's logic as the host runs it: its config keys, its schema, and start/stop.
//
// The same Component runs alone in its own executable (optimus-spec-store …) or next to the
// others inside `optimus serve`; it only sees the Context, never which adapters are behind it.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "optimus/config/config.h"
#include "optimus/rpc/auth.h"
#include "optimus/store/migrations.h"

namespace prometheus {
class Registry;
}  // namespace prometheus

namespace optimus::blob {
class BlobStore;
}  // namespace optimus::blob
namespace optimus::bus {
class Bus;
}  // namespace optimus::bus
namespace optimus::store {
class Database;
class Outbox;
}  // namespace optimus::store
namespace optimus::telemetry {
class HealthRegistry;
}  // namespace optimus::telemetry
namespace optimus::rpc {
class HttpServer;
class GrpcServer;
class Authenticator;
}  // namespace optimus::rpc

namespace optimus::app {

// Everything a component may use while it runs. Owned by the host; valid until Stop() returns.
struct Context {
  const config::Config& config;
  store::Database& db;          // The component's own schema (PostgreSQL) or file (SQLite).
  const store::Outbox& outbox;  // Events written in the same transaction as the state.
  bus::Bus& bus;
  blob::BlobStore& blob;
  telemetry::HealthRegistry& health;
  prometheus::Registry& metrics;
  rpc::HttpServer& http;  // Register routes in Start(); the host starts serving afterwards.
  rpc::GrpcServer& grpc;  // Register services in Start().
  // The key secrets are sealed with (secrets.app_key; embedded: <data_dir>/app.key, made on
  // first start). Empty when not configured: secrets are refused with that reason.
  std::string app_key;
  // Decides who may call what (auth.tokens); null when authentication is off. gRPC handlers
  // pass it to rpc::Authorize with the request's project; HTTP routes are checked before their
  // handler runs.
  const rpc::Authenticator* authenticator = nullptr;
  // The token a component sends when it calls another service (an admin one, accepted by every
  // service sharing auth.internal_token); empty when authentication is off.
  std::string internal_token;
};

class Component {
 public:
  virtual ~Component() = default;

  // "spec-store": the executable is optimus-<name>, the PostgreSQL schema <name> with '_' for
  // '-', the SQLite file <name>.db, the ce_source optimus/<name>.
  virtual std::string name() const = 0;

  // Keys this component reads, besides the host's (config.h); documented by --help-config.
  virtual config::Schema ConfigSchema() const { return {}; }

  // The access its routes and gRPC methods need when it is not rpc::Access::kProject (an admin
  // token or one of the project the call names), keyed as rpc::Call::route.
  virtual std::map<std::string, rpc::Access, std::less<>> AccessRules() const { return {}; }

  // The component's tables, applied in order at start (after the store's outbox tables).
  virtual std::vector<store::Migration> Migrations() const { return {}; }

  // Registers routes, gRPC services, metrics and health checks, and starts background work
  // (consumers). Called once, before the servers accept requests.
  virtual absl::Status Start(Context& context) = 0;

  // Stops background work and waits for it; in-flight requests have drained already.
  virtual void Stop() {}

  // Deletes what the component keeps only to recognise a repeat (like the store's record of
  // applied records) from before `older_than_ms`; returns how many rows went. Called by the
  // host's housekeeping (store.housekeeping_interval, store.processed_retention) while the
  // component runs.
  virtual absl::StatusOr<int64_t> Forget(store::Database&, int64_t /*older_than_ms*/) { return 0; }
};

}  // namespace optimus::app
