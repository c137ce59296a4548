// `optimus project register` and `optimus namespace register|list`.
#pragma once

#include <grpcpp/grpcpp.h>

#include <filesystem>
#include <memory>
#include <optional>
#include <ostream>
#include <string>

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

// argv[0] is "project" / "namespace", argv[1] the verb.
int RunProjectCommand(int argc, char** argv, std::ostream& out, std::ostream& err);
int RunNamespaceCommand(int argc, char** argv, std::ostream& out, std::ostream& err);

}  // namespace optimus::cli
