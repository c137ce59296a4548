// The commands that send jobs to the server: deploy, job replace-all, job deploy, job delete;
// and what the other server commands share with them.
#pragma once

#include <grpcpp/grpcpp.h>

#include <filesystem>
#include <memory>
#include <ostream>
#include <string>

#include "optimus/core/v1/deploy.pb.h"
#include "optimus/spec/model.h"

namespace optimus::cli {

enum class DeployMode {
  kDeploy,      // `optimus deploy`: every namespace, replace-all
  kReplaceAll,  // `optimus job replace-all`
  kUpsert,      // `optimus job deploy`: add and update, never delete
};

int RunDeployCommand(int argc, char** argv, DeployMode mode, std::ostream& out, std::ostream& err);
int RunJobDeleteCommand(int argc, char** argv, std::ostream& out, std::ostream& err);

// Opens a channel and checks the server answers within 10 s: null after telling `err` (a clear
// error instead of a hang later).
std::shared_ptr<grpc::Channel> Connect(const std::string& host, const std::string& command,
                                       std::ostream& err);

// The registration of optimus.yaml's project (its presets file read from `dir`), with its
// namespaces when `with_namespaces`.
core::v1::RegisterProjectRequest ProjectRequest(const spec::ClientConfig& config,
                                                const std::filesystem::path& dir,
                                                bool with_namespaces);
core::v1::Namespace NamespaceMessage(const spec::NamespaceConfig& ns);

}  // namespace optimus::cli
