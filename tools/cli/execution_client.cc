// What the execution plane's commands share (see execution_client.h).
#include "execution_client.h"

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <thread>

#include "absl/time/time.h"
#include "google/protobuf/util/time_util.h"
#include "optimus/schedule/time_util.h"
#include "optimus/spec/loaders.h"
#include "optimus/spec/project_reader.h"

namespace optimus::cli {

using google::protobuf::util::TimeUtil;

const char kTargetFlags[] =
    "  -d, --dir DIR          project folder (default: .)\n"
    "  -c, --config FILE      client config inside it (default: optimus.yaml)\n"
    "      --host HOST:PORT   the server (default: host in optimus.yaml)\n"
    "  -p, --project NAME     the project (default: the one in optimus.yaml)\n";

void Target::Declare(Flags& flags) {
  flags.String("dir", 'd', &dir);
  flags.String("config", 'c', &config);
  flags.String("host", 0, &host);
  flags.String("project", 'p', &project);
}

bool Target::Resolve(const std::string& command, std::ostream& err, bool need_project) {
  if (!host.empty() && (!project.empty() || !need_project)) return true;
  spec::Diagnostics d;
  const auto path = std::filesystem::path(dir) / config;
  auto text = spec::ReadFile(path, config, d);
  auto client = text ? spec::LoadClientConfig(config, *text, d) : std::nullopt;
  if (!client) {
    err << command << ": cannot read " << path.string() << " (or give --host"
        << (need_project ? " and -p" : "") << "):\n"
        << d.ToString();
    return false;
  }
  if (host.empty()) host = client->host;
  if (project.empty()) project = client->project_name;
  if (host.empty()) {
    err << command << ": " << path.string() << " names no host; give --host\n";
    return false;
  }
  return true;
}

std::unique_ptr<grpc::ClientContext> Call(int seconds) {
  auto context = std::make_unique<grpc::ClientContext>();
  context->set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(seconds));
  return context;
}

int Failed(const std::string& command, const std::string& host, const grpc::Status& s,
           std::ostream& err) {
  const bool unreachable = s.error_code() == grpc::StatusCode::UNAVAILABLE ||
                           s.error_code() == grpc::StatusCode::DEADLINE_EXCEEDED;
  if (unreachable) {
    err << command << ": cannot ask the server at " << host << ": " << s.error_message() << "\n";
    return 2;
  }
  if (s.error_code() == grpc::StatusCode::UNIMPLEMENTED) {
    err << command << ": the server at " << host
        << " runs no dispatcher (optimus serve has one; in distributed mode point --host at "
           "optimus-dispatcher)\n";
    return 2;
  }
  err << command << ": " << s.error_message() << "\n";
  return 1;
}

std::string Time(const google::protobuf::Timestamp& t, bool set) {
  if (!set) return "-";
  return schedule::FormatRfc3339(absl::FromUnixMillis(TimeUtil::TimestampToMilliseconds(t)),
                                 absl::UTCTimeZone());
}

bool Terminal(const std::string& state) {
  return state == "succeeded" || state == "failed" || state == "cancelled" || state == "timed_out";
}

bool Pairs(const std::string& command, const std::string& flag,
           const std::vector<std::string>& items,
           google::protobuf::Map<std::string, std::string>* out, std::ostream& err) {
  for (const std::string& item : items) {
    const size_t eq = item.find('=');
    if (eq == std::string::npos || eq == 0) {
      err << command << ": --" << flag << " takes KEY=VALUE, got \"" << item << "\"\n";
      return false;
    }
    (*out)[item.substr(0, eq)] = item.substr(eq + 1);
  }
  return true;
}

int Logs(core::v1::ExecutionService::Stub& stub, const std::string& command,
         const std::string& host, const std::string& project, const std::string& id,
         int32_t attempt, bool follow, std::ostream& out, std::ostream& err) {
  int32_t following = attempt;  // 0 until the first answer says which attempt is current
  int64_t after = 0;
  const auto started = std::chrono::steady_clock::now();
  bool hinted = false;
  for (;;) {
    core::v1::ReadLogsRequest request;
    request.set_project_name(project);
    request.set_id(id);
    request.set_attempt(following);
    request.set_after_chunk(after);
    core::v1::ReadLogsResponse response;
    auto context = Call();
    grpc::Status s = stub.ReadLogs(context.get(), request, &response);
    if (!s.ok()) return Failed(command, host, s, err);
    if (following == 0) following = response.attempt();
    out << response.data();
    out.flush();
    const bool more = response.last_chunk() != after;
    after = response.last_chunk();
    if (!follow) return 0;
    if (more) continue;
    // An expired lease queued it again: its new attempt logs afresh.
    if (attempt == 0 && response.current_attempt() > following) {
      err << command << ": attempt " << following << " was given up (" << response.state()
          << "); following attempt " << response.current_attempt() << "\n";
      following = response.current_attempt();
      after = 0;
      continue;
    }
    if (Terminal(response.state())) return response.state() == "succeeded" ? 0 : 1;
    if (!hinted && response.state() == "queued" &&
        std::chrono::steady_clock::now() - started > std::chrono::seconds(10)) {
      hinted = true;
      core::v1::GetExecutionRequest get;
      get.set_project_name(project);
      get.set_id(id);
      core::v1::Execution e;
      auto c = Call();
      if (stub.GetExecution(c.get(), get, &e).ok()) {
        err << command << ": still queued after 10 s; it waits for "
            << (e.pool().empty()
                    ? std::string("a free executor")
                    : "an executor serving pool " + e.pool() + " (label pool=" + e.pool() + ")")
            << ": see `optimus executor list`\n";
      }
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
  }
}

std::string Help(const char* text) {
  char buffer[4096];
  std::snprintf(buffer, sizeof buffer, text, kTargetFlags);
  return buffer;
}

std::optional<int> Verb(int argc, char** argv, const std::string& help, std::ostream& out,
                        std::ostream& err, std::string& verb) {
  verb = argc >= 2 ? argv[1] : "";
  if (verb.empty()) {
    err << help;
    return 2;
  }
  if (verb == "-h" || verb == "--help") {
    out << help;
    return 0;
  }
  return std::nullopt;
}

}  // namespace optimus::cli
