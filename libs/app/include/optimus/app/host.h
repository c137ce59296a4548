// Runs components as a process: flags, config, adapters, servers, readiness and an ordered
// shutdown on SIGTERM. Every executable's main() is one call to RunMain().
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "optimus/app/component.h"

namespace optimus::app {

struct HostOptions {
  // The program, for messages and logs: "optimus-spec-store", "optimus serve".
  std::string program;
  // Embedded defaults: every adapter defaults under `data_dir` (SQLite files, the embedded
  // bus, a file blob store) and the servers listen on loopback. Otherwise db.uri and bus.uri
  // are required and the servers listen on every interface.
  bool embedded = false;
  int default_http_port = 8080;
  int default_grpc_port = 9100;
  std::string usage;  // One paragraph for --help.
};

// The host's own config keys (log, http, grpc, db, bus, blob, auth, shutdown).
config::Schema HostSchema(const HostOptions& options);

// Parses argv, loads config, opens the adapters, applies migrations, starts the components and
// the servers, waits for SIGTERM/SIGINT and shuts down in order. Returns the exit code: 0 after
// a clean shutdown, 2 for bad flags or config, 1 when something needed is unreachable.
int RunMain(int argc, char** argv, const HostOptions& options,
            std::vector<std::unique_ptr<Component>> components);

}  // namespace optimus::app
