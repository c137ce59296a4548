// `optimus project register` and `optimus namespace register|list`.
#pragma once

#include <grpcpp/grpcpp.h>

#include <filesystem>
#include <memory>
#include <optional>
#include <ostream>
#include <string>

#include "flags.h"
#include "optimus/spec/model.h"

namespace optimus::cli {

// What the commands about a project's state on the server start from: optimus.yaml (in `dir`)
// and a connection to the server (--host, else optimus.yaml's host). Nothing after telling
// `err` why.
struct Session {
  spec::ClientConfig config;
  std::filesystem::path dir;
  std::shared_ptr<grpc::Channel> channel;
};
std::optional<Session> OpenSession(const std::string& command, const std::string& dir,
                                   const std::string& config, std::string host, std::ostream& err);

// The flags of a command that talks to the server about the project of optimus.yaml:
// -d/--dir DIR, -c/--config FILE, --host HOST:PORT.
struct SessionFlags {
  std::string dir = ".", config = "optimus.yaml", host;
  void Add(Flags& flags) {
    flags.String("dir", 'd', &dir);
    flags.String("config", 'c', &config);
    flags.String("host", 0, &host);
  }
  std::optional<Session> Open(const std::string& command, std::ostream& err) const {
    return OpenSession(command, dir, config, host, err);
  }
};

// Prints why the server refused a call; the exit code: 2 when it is unreachable, else 1.
inline int Refused(const std::string& command, const grpc::Status& s, std::ostream& err) {
  err << command << ": " << s.error_message() << "\n";
  return s.error_code() == grpc::StatusCode::UNAVAILABLE ? 2 : 1;
}

// argv[0] is "project" / "namespace", argv[1] the verb.
int RunProjectCommand(int argc, char** argv, std::ostream& out, std::ostream& err);
int RunNamespaceCommand(int argc, char** argv, std::ostream& out, std::ostream& err);

}  // namespace optimus::cli
