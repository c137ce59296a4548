// `optimus job run-input`: what the init container of every task pod runs. It asks
// runtime-context (gRPC JobRunService) for the run input, retrying while the server cannot be
// reached, and writes the files the main container sources.
#include "run_input_command.h"

#include <fcntl.h>
#include <grpcpp/grpcpp.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <thread>

#include "absl/time/time.h"
#include "channel.h"
#include "flags.h"
#include "google/protobuf/util/time_util.h"
#include "optimus/core/v1/job_run.grpc.pb.h"
#include "optimus/schedule/time_util.h"

namespace optimus::cli {
namespace {

namespace fs = std::filesystem;

constexpr char kHelp[] =
    "Usage: optimus job run-input JOB --project-name P --scheduled-at TIME [flags]\n\n"
    "Fetches the run input of one task or hook of JOB for a scheduled time from the server\n"
    "(runtime-context) and writes it under --output-dir:\n"
    "  in/<asset>     each asset file, rendered for the run\n"
    "  in/.env        the compiled config, DSTART/DEND and the other run values\n"
    "  in/.secret     config values that name secrets\n"
    "Both files hold KEY='value' lines, safe to `source` whatever the value. A server that\n"
    "cannot be reached is asked again, with backoff, until --timeout.\n\n"
    "Flags:\n"
    "      --project-name P     the job's project (required)\n"
    "      --scheduled-at TIME  the run's scheduled time, RFC 3339 (required)\n"
    "      --output-dir DIR     where to write in/ (default: the current folder)\n"
    "      --type TYPE          task (default) or hook\n"
    "      --name NAME          the task plugin or the hook's name\n"
    "      --host HOST          the server's gRPC address (default: $OPTIMUS_HOST, else\n"
    "                           localhost:9100)\n"
    "      --dag-run-id ID      the Airflow DAG run (passed on to the server)\n"
    "      --jobrun-id ID       the job run (passed on to the server)\n"
    "      --timeout SECONDS    how long to keep trying (default 120)\n\n"
    "Exit status: 0 written, 1 refused by the server (unknown job or hook, a template that\n"
    "does not compile), 2 bad flags, an unreachable server or a file that cannot be written.\n";

// Worth asking again. An answer over the message limit never fits, however often it is asked.
bool Transient(const grpc::Status& status) {
  const grpc::StatusCode code = status.error_code();
  if (code == grpc::StatusCode::RESOURCE_EXHAUSTED) {
    return status.error_message().find("larger than max") == std::string::npos;
  }
  return code == grpc::StatusCode::UNAVAILABLE || code == grpc::StatusCode::DEADLINE_EXCEEDED ||
         code == grpc::StatusCode::ABORTED;
}

}  // namespace

std::string ShellAssignments(const std::map<std::string, std::string>& values) {
  std::string out;
  for (const auto& [key, value] : values) {
    out += key;
    out += "='";
    for (char c : value) {
      if (c == '\'') {
        out += "'\\''";
      } else {
        out += c;
      }
    }
    out += "'\n";
  }
  return out;
}

namespace {

// Writes `content` to `path` (made with 0644 less the umask, or exactly 0600 when `secret`), in
// place when the file exists (an executor reuses its
// run directories): a file that already holds exactly `content` is not touched, and an existing
// one is overwritten and cut to length rather than truncated first (truncating to zero makes
// ext4 flush the rewritten file to disk when it is closed). A link is replaced, never followed.
absl::Status WriteInPlace(const fs::path& path, std::string_view content, bool secret) {
  const mode_t mode = secret ? 0600 : 0644;
  const auto failed = [&](const char* what) {
    return absl::InternalError(std::string("cannot ") + what + " " + path.string() + ": " +
                               std::strerror(errno));
  };
  int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, mode);
  if (fd < 0 && errno == ELOOP) {
    ::unlink(path.c_str());
    fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, mode);
  }
  if (fd < 0) return failed("write");
  struct stat st;
  bool ok = ::fstat(fd, &st) == 0 && S_ISREG(st.st_mode);
  if (ok && secret && (st.st_mode & 07777) != mode) ok = ::fchmod(fd, mode) == 0;
  bool same = false;
  if (ok && static_cast<size_t>(st.st_size) == content.size() && content.size() <= (1 << 20)) {
    std::string old(content.size(), '\0');
    same = ::pread(fd, old.data(), old.size(), 0) == static_cast<ssize_t>(old.size()) &&
           old == content;
  }
  for (size_t done = 0; ok && !same && done < content.size();) {
    const ssize_t n =
        ::pwrite(fd, content.data() + done, content.size() - done, static_cast<off_t>(done));
    if (n < 0 && errno == EINTR) continue;
    ok = n > 0;
    if (ok) done += static_cast<size_t>(n);
  }
  if (ok && !same && static_cast<size_t>(st.st_size) > content.size()) {
    ok = ::ftruncate(fd, static_cast<off_t>(content.size())) == 0;
  }
  const int error = errno;
  if (::close(fd) != 0 || !ok) {
    errno = error;
    return failed("write");
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status WriteRunInput(const fs::path& dir, const std::map<std::string, std::string>& envs,
                           const std::map<std::string, std::string>& files,
                           const std::map<std::string, std::string>& secrets) {
  const fs::path in = dir / "in";
  auto write = [](const fs::path& path, const std::string& content,
                  bool secret = false) -> absl::Status {
    std::error_code ec;
    fs::create_directories(path.parent_path(), ec);
    if (ec)
      return absl::InternalError("cannot create " + path.parent_path().string() + ": " +
                                 ec.message());
    return WriteInPlace(path, content, secret);
  };
  for (const auto& [name, content] : files) {
    const fs::path relative = fs::path(name).lexically_normal();
    if (name.empty() || relative.is_absolute() || *relative.begin() == "..") {
      return absl::InvalidArgumentError("the asset name \"" + name + "\" leaves in/");
    }
    if (absl::Status s = write(in / relative, content); !s.ok()) return s;
  }
  if (absl::Status s = write(in / ".env", ShellAssignments(envs)); !s.ok()) return s;
  // Secrets are readable by the owner only, from the moment the file exists.
  return write(in / ".secret", ShellAssignments(secrets), true);
}

int RunJobRunInputCommand(int argc, char** argv, std::ostream& out, std::ostream& err) {
  const std::string command = "optimus job run-input";
  std::string project, scheduled, output_dir = ".", type = "task", name, host, dag_run, job_run;
  std::string timeout_text = "120";
  Flags flags(command);
  flags.String("project-name", 0, &project);
  flags.String("scheduled-at", 0, &scheduled);
  flags.String("output-dir", 0, &output_dir);
  flags.String("type", 0, &type);
  flags.String("name", 0, &name);
  flags.String("host", 0, &host);
  flags.String("dag-run-id", 0, &dag_run);
  flags.String("jobrun-id", 0, &job_run);
  flags.String("timeout", 0, &timeout_text);
  if (auto code = flags.ParseCommand(argc, argv, kHelp, out, err, 1)) return *code;
  if (flags.positional().size() != 1 || project.empty() || scheduled.empty()) {
    err << command << ": give the job, --project-name and --scheduled-at (see --help)\n";
    return 2;
  }
  auto at = schedule::ParseRfc3339(scheduled);
  if (!at.ok()) {
    err << command << ": --scheduled-at \"" << scheduled
        << "\" is not an RFC 3339 time (e.g. 2024-03-07T02:00:00Z)\n";
    return 2;
  }
  if (type != "task" && type != "hook") {
    err << command << ": --type is task or hook, not \"" << type << "\"\n";
    return 2;
  }
  int timeout = 0;
  try {
    timeout = std::stoi(timeout_text);
  } catch (const std::exception&) {
    err << command << ": --timeout takes whole seconds\n";
    return 2;
  }
  if (host.empty()) {
    const char* env = std::getenv("OPTIMUS_HOST");
    host = env != nullptr && *env != '\0' ? env : "localhost:9100";
  }

  core::v1::JobRunInputRequest request;
  request.set_project_name(project);
  request.set_job_name(flags.positional()[0]);
  *request.mutable_scheduled_at() =
      google::protobuf::util::TimeUtil::NanosecondsToTimestamp(absl::ToUnixNanos(*at));
  request.set_instance_name(name);
  request.set_instance_type(type == "hook" ? core::v1::JobRunInputRequest::TYPE_HOOK
                                           : core::v1::JobRunInputRequest::TYPE_TASK);
  request.set_dag_run_id(dag_run);
  request.set_jobrun_id(job_run);

  auto stub = core::v1::JobRunService::NewStub(Dial(host));
  const auto deadline = std::chrono::system_clock::now() + std::chrono::seconds(timeout);
  core::v1::JobRunInputResponse response;
  grpc::Status status;
  for (int attempt = 0;; ++attempt) {
    grpc::ClientContext context;
    context.set_deadline(
        std::min(deadline, std::chrono::system_clock::now() + std::chrono::seconds(30)));
    context.set_wait_for_ready(true);
    response.Clear();
    status = stub->JobRunInput(&context, request, &response);
    if (status.ok() || !Transient(status) || std::chrono::system_clock::now() >= deadline) {
      break;
    }
    err << command << ": " << host << " did not answer (" << status.error_message()
        << "); asking again\n";
    const auto pause = std::chrono::milliseconds(200 << std::min(attempt, 5));
    std::this_thread::sleep_for(std::min<std::chrono::system_clock::duration>(
        pause, deadline - std::chrono::system_clock::now()));
  }
  if (!status.ok()) {
    err << command << ": " << status.error_message() << "\n";
    return Transient(status) ? 2 : 1;
  }
  const std::map<std::string, std::string> envs(response.envs().begin(), response.envs().end());
  const std::map<std::string, std::string> files(response.files().begin(), response.files().end());
  const std::map<std::string, std::string> secrets(response.secrets().begin(),
                                                   response.secrets().end());
  if (absl::Status s = WriteRunInput(output_dir, envs, files, secrets); !s.ok()) {
    err << command << ": " << s.message() << "\n";
    return 2;
  }
  // A key no template value reached renders as <no value>: worth a look, not an error.
  for (const auto& values : {&envs, &secrets}) {
    for (const auto& [key, value] : *values) {
      if (value.find("<no value>") != std::string::npos) {
        err << command << ": warning: " << key << " contains <no value> (a missing template key)\n";
      }
    }
  }
  out << "run input of " << request.job_name() << " at " << scheduled << ": " << envs.size()
      << " env values, " << secrets.size() << " secrets, " << files.size() << " files in "
      << (fs::path(output_dir) / "in").string() << "\n";
  return 0;
}

}  // namespace optimus::cli
