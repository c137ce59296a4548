// What the execution plane's commands share (job execute, execution, task, executor): where
// the server is, calls with deadlines, errors as exit codes, and following a run's logs.
#pragma once

#include <grpcpp/grpcpp.h>

#include <memory>
#include <optional>
#include <ostream>
#include <string>
#include <vector>

#include "flags.h"
#include "google/protobuf/map.h"
#include "optimus/core/v1/dispatch.grpc.pb.h"

namespace optimus::cli {

// The flags naming the server and the project, for the help texts.
extern const char kTargetFlags[];

// Where a command goes: the server and the project, from flags or optimus.yaml.
struct Target {
  std::string dir = ".", config = "optimus.yaml", host, project;

  void Declare(Flags& flags);
  // Fills what flags left empty from optimus.yaml; false (after saying why) when it cannot.
  bool Resolve(const std::string& command, std::ostream& err, bool need_project = true);
};

// A client context with a deadline.
std::unique_ptr<grpc::ClientContext> Call(int seconds = 15);

// The exit status for a refused call, after saying why: 1 when the server refused, 2 when it
// could not be asked (or runs no dispatcher).
int Failed(const std::string& command, const std::string& host, const grpc::Status& s,
           std::ostream& err);

// RFC 3339 in UTC, or "-" when unset.
std::string Time(const google::protobuf::Timestamp& t, bool set);
bool Terminal(const std::string& state);

// KEY=VALUE flags into a map; false after saying which one is malformed.
bool Pairs(const std::string& command, const std::string& flag,
           const std::vector<std::string>& items,
           google::protobuf::Map<std::string, std::string>* out, std::ostream& err);

// A help text with the target flags put in for its %s.
std::string Help(const char* text);

// For `optimus NOUN VERB`: the verb in `verb`, or the exit code when there is none (the help on
// err, 2) or help was asked (the help on out, 0).
std::optional<int> Verb(int argc, char** argv, const std::string& help, std::ostream& out,
                        std::ostream& err, std::string& verb);

// Prints the logs of execution `id` from its start; with `follow` until it ends. Returns the
// exit status: 0 when it succeeded (or when not following), 1 when it did not, 2 when the
// server could not be asked.
int Logs(core::v1::ExecutionService::Stub& stub, const std::string& command,
         const std::string& host, const std::string& project, const std::string& id,
         int32_t attempt, bool follow, std::ostream& out, std::ostream& err);

}  // namespace optimus::cli
