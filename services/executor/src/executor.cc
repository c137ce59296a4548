// The executor's loops: heartbeat, claim, and one thread per running execution (see
// executor.h).
#include "optimus/executor/executor.h"

#include <grpcpp/grpcpp.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <optional>
#include <set>

#include "absl/strings/str_cat.h"
#include "google/protobuf/util/time_util.h"
#include "optimus/executor/kubernetes_runner.h"
#include "optimus/executor/log_shipper.h"
#include "optimus/executor/process.h"
#include "optimus/executor/reporter.h"
#include "optimus/executor/work_dirs.h"
#include "optimus/telemetry/log.h"
#include "run_input_command.h"

namespace optimus::executor {
namespace {

namespace fs = std::filesystem;
using google::protobuf::util::TimeUtil;
using Step = core::v1::ExecutionStep;

bool Transient(const grpc::Status& s) {
  return s.error_code() == grpc::StatusCode::UNAVAILABLE ||
         s.error_code() == grpc::StatusCode::DEADLINE_EXCEEDED ||
         s.error_code() == grpc::StatusCode::RESOURCE_EXHAUSTED ||
         s.error_code() == grpc::StatusCode::ABORTED ||
         s.error_code() == grpc::StatusCode::INTERNAL;
}

absl::Status ToAbsl(const grpc::Status& s) {
  return absl::Status(static_cast<absl::StatusCode>(s.error_code()), s.error_message());
}

// How one step ended, for the run's outcome.
struct StepEnd {
  bool ok = false;
  std::string state = "failed";  // when not ok: failed, timed_out, cancelled
  std::optional<int32_t> exit_code;
  std::string message;
};

std::string KindName(Step::Kind kind) {
  switch (kind) {
    case Step::KIND_HOOK_PRE:
      return "pre hook";
    case Step::KIND_HOOK_POST:
      return "post hook";
    case Step::KIND_HOOK_FAIL:
      return "fail hook";
    default:
      return "task";
  }
}

}  // namespace

Executor::Executor(ExecutorOptions options, std::shared_ptr<grpc::Channel> channel)
    : options_(std::move(options)),
      stub_(core::v1::ExecutorService::NewStub(channel)),
      reporter_(std::make_unique<Reporter>(
          [this](const core::v1::ReportRequest& request, core::v1::ReportResponse* response) {
            grpc::ClientContext context;
            Context(context, std::chrono::seconds(30));
            return stub_->Report(&context, request, response);
          })) {}

Executor::~Executor() = default;

void Executor::Context(grpc::ClientContext& context, std::chrono::milliseconds deadline) const {
  context.set_deadline(std::chrono::system_clock::now() + deadline);
  context.AddMetadata("authorization", "Bearer " + options_.credential);
}

std::vector<Reporter::Answer> Executor::Report(const std::vector<core::v1::ReportItem>& items) {
  if (!single_calls_.load()) {
    std::vector<Reporter::Answer> answers = reporter_->Call(items);
    if (answers.front().status.error_code() != grpc::StatusCode::UNIMPLEMENTED) return answers;
    if (!single_calls_.exchange(true)) {
      LOG_INFO("the dispatcher has no batched reports; reporting one call at a time", {});
    }
  }
  // In the order the dispatcher does a report's items: log chunks, starts and finishes, inputs.
  std::vector<Reporter::Answer> answers(items.size());
  for (int round = 0; round < 3; ++round) {
    for (size_t i = 0; i < items.size(); ++i) {
      const core::v1::ReportItem& item = items[i];
      const int item_round = item.has_log() ? 0 : item.has_run_input() ? 2 : 1;
      if (item_round != round) continue;
      grpc::ClientContext context;
      Context(context, std::chrono::seconds(10));
      Reporter::Answer& a = answers[i];
      switch (item.item_case()) {
        case core::v1::ReportItem::kStart: {
          core::v1::StartExecutionResponse ignored;
          a.status = stub_->StartExecution(&context, item.start(), &ignored);
          break;
        }
        case core::v1::ReportItem::kLog: {
          core::v1::AppendLogResponse ignored;
          a.status = stub_->AppendLog(&context, item.log(), &ignored);
          break;
        }
        case core::v1::ReportItem::kFinish: {
          core::v1::FinishExecutionResponse ignored;
          a.status = stub_->FinishExecution(&context, item.finish(), &ignored);
          break;
        }
        case core::v1::ReportItem::kRunInput:
          a.status = stub_->RunInput(&context, item.run_input(), &a.run_input);
          break;
        default:
          a.status = grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "an empty report item");
      }
    }
  }
  return answers;
}

void Executor::Refused(const grpc::Status& status) {
  if (status.error_code() != grpc::StatusCode::PERMISSION_DENIED &&
      status.error_code() != grpc::StatusCode::UNAUTHENTICATED) {
    return;
  }
  std::lock_guard lock(mu_);
  if (!refused_) {
    refusal_ = status;
    refused_ = true;
  }
  slot_free_.notify_all();
}

int Executor::FreeSlot() const {
  std::set<int> used;
  for (const auto& [id, r] : running_) used.insert(r->slot);
  int slot = 0;
  while (used.contains(slot)) ++slot;
  return slot;
}

void Executor::Forget(const std::string& id) {
  std::lock_guard lock(mu_);
  auto it = running_.find(id);
  if (it == running_.end()) return;
  done_.push_back(std::move(it->second->thread));  // joined by the claim loop
  running_.erase(it);
  ++finished_;
  slot_free_.notify_all();
}

void Executor::HeartbeatLoop(std::stop_token stop) {
  auto interval = options_.heartbeat;
  auto lease = options_.lease;
  while (!stop.stop_requested() && !refused_) {
    core::v1::HeartbeatRequest request;
    const auto sent = std::chrono::steady_clock::now();
    {
      std::lock_guard lock(mu_);
      for (const auto& [id, r] : running_) {
        auto* held = request.add_running();
        held->set_execution_id(id);
        held->set_epoch(r->epoch);
      }
    }
    grpc::ClientContext context;
    Context(context, std::max(interval, std::chrono::milliseconds(1000)));
    core::v1::HeartbeatResponse response;
    grpc::Status s = stub_->Heartbeat(&context, request, &response);
    {
      std::lock_guard lock(mu_);
      if (s.ok()) {
        const auto stop_it = [&](const std::string& id, bool cancelled) {
          auto it = running_.find(id);
          if (it == running_.end()) return;
          (cancelled ? it->second->cancelled : it->second->lost) = true;
          it->second->stop = cancelled ? Stop::kGracefully : Stop::kNow;
        };
        for (const auto& id : response.renewed()) {
          // The dispatcher's expiry is at least a lease after the request was sent.
          if (auto it = running_.find(id); it != running_.end()) it->second->renewed = sent;
        }
        for (const auto& id : response.cancel()) stop_it(id, true);
        for (const auto& id : response.lost()) stop_it(id, false);
        if (response.lease_ms() > 0) {
          lease = std::chrono::milliseconds(response.lease_ms());
          // Three heartbeats per lease at least, whatever was asked.
          interval = std::min(options_.heartbeat, lease / 3);
        }
      } else {
        LOG_WARN("heartbeat failed", {{"error", s.error_message()}});
      }
      // Self-fencing: a lease not renewed for most of its length may be another executor's
      // soon; stop the run now rather than run it twice at once.
      const auto now = std::chrono::steady_clock::now();
      for (auto& [id, r] : running_) {
        if (!r->lost && now - r->renewed > lease * 4 / 5) {
          LOG_WARN("lease not renewed in time; stopping the run", {{"execution", id}});
          r->lost = true;
          r->stop = Stop::kNow;
        }
      }
    }  // not held while waiting for the next beat
    if (!s.ok()) Refused(s);
    std::mutex m;
    std::unique_lock wait(m);
    std::condition_variable_any().wait_for(wait, stop, interval, [] { return false; });
  }
}

absl::Status Executor::Run(std::stop_token stop) {
  std::error_code ec;
  fs::create_directories(options_.work_root, ec);
  if (ec) {
    return absl::FailedPreconditionError("cannot create the work directory " + options_.work_root +
                                         ": " + ec.message());
  }
  // Steps run in their own directories: JOB_DIR must not depend on the executor's.
  options_.work_root = fs::absolute(options_.work_root, ec).lexically_normal().string();
  std::jthread heartbeat([this](std::stop_token s) { HeartbeatLoop(s); });
  std::stop_callback wake(stop, [this] {
    std::lock_guard lock(mu_);
    slot_free_.notify_all();
  });
  int backoff_ms = 200;
  while (!stop.stop_requested() && !refused_) {
    std::vector<std::thread> finished;
    int free = 0;
    {
      std::unique_lock lock(mu_);
      slot_free_.wait(lock, [&] {
        return stop.stop_requested() || refused_ ||
               static_cast<int>(running_.size()) < options_.capacity || !done_.empty();
      });
      finished.swap(done_);
      free = options_.capacity - static_cast<int>(running_.size());
    }
    for (auto& t : finished) {
      if (t.joinable()) t.join();
    }
    if (stop.stop_requested() || refused_ || free <= 0) continue;
    core::v1::ClaimRequest request;
    request.set_max(free);
    request.set_wait_ms(options_.claim_wait.count());
    core::v1::ClaimResponse response;
    grpc::ClientContext context;
    Context(context, options_.claim_wait + std::chrono::seconds(10));
    grpc::Status s = stub_->Claim(&context, request, &response);
    // The claim waited for work; its lease began just before this answer left the dispatcher.
    const auto claimed_at = std::chrono::steady_clock::now();
    if (!s.ok()) {
      Refused(s);
      if (refused_) break;
      LOG_WARN("claim failed; trying again",
               {{"error", s.error_message()}, {"retry_ms", static_cast<int64_t>(backoff_ms)}});
      std::mutex m;
      std::unique_lock lock(m);
      std::condition_variable_any().wait_for(lock, stop, std::chrono::milliseconds(backoff_ms),
                                             [] { return false; });
      backoff_ms = std::min(backoff_ms * 2, 5000);
      continue;
    }
    backoff_ms = 200;
    for (const auto& lease : response.leases()) {
      auto running = std::make_shared<Running>();
      running->id = lease.execution().id();
      running->epoch = lease.execution().epoch();
      std::lock_guard lock(mu_);
      running->slot = FreeSlot();
      running->renewed = claimed_at;
      running_[running->id] = running;
      running->thread = std::thread([this, lease, running] { Execute(lease, running); });
    }
  }
  // Draining: running executions may finish; past the drain time they are stopped unreported.
  const auto until = std::chrono::steady_clock::now() + options_.drain;
  {
    std::unique_lock lock(mu_);
    if (!running_.empty()) {
      LOG_INFO("draining", {{"running", static_cast<int64_t>(running_.size())}});
    }
    slot_free_.wait_until(lock, until, [&] { return running_.empty(); });
    for (auto& [id, r] : running_) {
      r->lost = true;
      r->stop = Stop::kNow;
    }
    slot_free_.wait(lock, [&] { return running_.empty(); });
  }
  for (auto& t : done_) {
    if (t.joinable()) t.join();
  }
  done_.clear();
  heartbeat.request_stop();
  if (refused_) return ToAbsl(refusal_);
  return absl::OkStatus();
}

void Executor::Execute(const core::v1::Lease& lease, std::shared_ptr<Running> running) {
  const core::v1::Execution& e = lease.execution();
  const auto lease_wait = std::chrono::seconds(30);
  // Reports retried while the dispatcher cannot be reached: a group of items goes together in
  // one call and is sent again whole while an answer is transient (every item is safe to
  // repeat). The answers of the last try.
  const auto report_all = [&](const std::vector<core::v1::ReportItem>& items, const char* what) {
    const auto until = std::chrono::steady_clock::now() + lease_wait;
    for (int attempt = 0;; ++attempt) {
      std::vector<Reporter::Answer> answers = Report(items);
      const auto transient = std::find_if(answers.begin(), answers.end(), [](const auto& a) {
        return !a.status.ok() && Transient(a.status);
      });
      if (transient == answers.end() || std::chrono::steady_clock::now() > until || running->lost) {
        for (const Reporter::Answer& a : answers) {
          if (a.status.ok()) continue;
          LOG_WARN("report refused",
                   {{"execution", e.id()}, {"report", what}, {"error", a.status.error_message()}});
          break;
        }
        return answers;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(200 << std::min(attempt, 4)));
    }
  };
  const auto report = [&](const core::v1::ReportItem& item, const char* what,
                          core::v1::JobRunInputResponse* input = nullptr) -> grpc::Status {
    Reporter::Answer answer = std::move(report_all({item}, what).front());
    if (input != nullptr && answer.status.ok()) *input = std::move(answer.run_input);
    return answer.status;
  };
  const auto run_input_item = [&](const Step& step) {
    core::v1::ReportItem item;
    core::v1::ExecutorRunInputRequest& ask = *item.mutable_run_input();
    ask.set_execution_id(e.id());
    ask.set_epoch(e.epoch());
    ask.set_run_token(lease.run_token());
    ask.set_instance_type(step.instance_type());
    ask.set_instance_name(step.name());
    return item;
  };

  // The start goes with the run inputs of the steps that run here (fetched again at their step
  // if this answer was not good): one round trip before the first step.
  std::vector<core::v1::ReportItem> opening(1);
  opening[0].mutable_start()->set_execution_id(e.id());
  opening[0].mutable_start()->set_epoch(e.epoch());
  std::map<int, size_t> prefetched;  // step index -> its item in `opening`
  for (int i = 0; i < e.plan().steps_size() && options_.kubernetes == nullptr; ++i) {
    if (e.plan().steps(i).instance_type().empty()) continue;
    prefetched[i] = opening.size();
    opening.push_back(run_input_item(e.plan().steps(i)));
  }
  std::vector<Reporter::Answer> opened = report_all(opening, "start");
  if (!opened.front().status.ok()) {
    Forget(e.id());
    return;
  }
  LogShipper shipper([&](int64_t chunk, const std::string& data) {
    core::v1::ReportItem log;
    core::v1::AppendLogRequest& r = *log.mutable_log();
    r.set_execution_id(e.id());
    r.set_epoch(e.epoch());
    r.set_chunk(chunk);
    r.set_data(data);
    return ToAbsl(Report({log}).front().status);
  });
  std::vector<std::string> step_dirs;
  for (int i = 0; i < e.plan().steps_size(); ++i) {
    step_dirs.push_back(absl::StrCat(i, "-", e.plan().steps(i).name()));
  }
  // Slots are this executor's own: several executors may share a work directory (the default
  // one), so slots live under the executor's id, the credential's part before the dot.
  const std::string owner = options_.credential.substr(0, options_.credential.find('.'));
  const WorkDirs work_dirs(options_.keep_work_dirs || owner.empty()
                               ? fs::path(options_.work_root)
                               : fs::path(options_.work_root) / owner,
                           options_.keep_work_dirs);
  const absl::StatusOr<fs::path> opened_dir =
      work_dirs.Open(running->slot, e.id(), e.attempt(), step_dirs);
  const fs::path work = opened_dir.ok() ? *opened_dir : fs::path(options_.work_root);
  std::error_code ec;
  const auto deadline =
      e.plan().timeout_seconds() > 0
          ? std::chrono::steady_clock::now() + std::chrono::seconds(e.plan().timeout_seconds())
          : std::chrono::steady_clock::time_point::max();
  const std::string scheduled =
      e.has_scheduled_at() ? TimeUtil::ToString(e.scheduled_at()) : std::string();
  shipper.Write(absl::StrCat("optimus-executor ", options_.name, ": execution ", e.id(),
                             ", attempt ", e.attempt(), ", ", e.kind(), " ", e.project(), "/",
                             e.name(), scheduled.empty() ? "" : " scheduled at " + scheduled,
                             "\n"));

  // How a step ended, from how its process (or Job) did.
  const auto ended = [&](const Step& step, const ProcessResult& result) -> StepEnd {
    StepEnd end;
    switch (result.end) {
      case ProcessResult::End::kNotStarted:
        end.message = result.error;
        shipper.Write(result.error + "\n");
        return end;
      case ProcessResult::End::kTimedOut:
        end.state = "timed_out";
        end.message =
            absl::StrCat("stopped after the run's timeout of ", e.plan().timeout_seconds(), " s");
        return end;
      case ProcessResult::End::kCancelled:
        end.state = "cancelled";
        end.message = running->cancelled ? "cancelled on request" : "lease lost";
        return end;
      default:
        end.exit_code = result.exit_code;
        end.ok = result.end == ProcessResult::End::kExited && result.exit_code == 0;
        if (!end.ok) {
          end.message =
              absl::StrCat(KindName(step.kind()), " ", step.name(), " exited with ",
                           result.exit_code, result.exit_code == 127 ? " (command not found)" : "");
        }
        return end;
    }
  };
  const auto run_step = [&](int index) -> StepEnd {
    const Step& step = e.plan().steps(index);
    StepEnd end;
    if (options_.kubernetes != nullptr) {
      shipper.Write("--- " + KindName(step.kind()) + " " + step.name() + " ---\n");
      return ended(step, options_.kubernetes->Run(
                             e, index, lease.run_token(), deadline,
                             [&](std::string_view out) { shipper.Write(out); }, running->stop));
    }
    const fs::path dir = work / step_dirs[index];
    if (!opened_dir.ok()) {
      end.message = std::string(opened_dir.status().message());
      shipper.Write(end.message + "\n");
      return end;
    }
    std::set<std::string> written;  // in in/, by the run input
    std::map<std::string, std::string> env = {
        {"PATH", "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"},
        {"HOME", dir.string()},
        {"LANG", "C.UTF-8"}};
    env.insert(step.env().begin(), step.env().end());
    if (!step.instance_type().empty()) {
      core::v1::JobRunInputResponse input;
      grpc::Status got;
      if (auto it = prefetched.find(index);
          it != prefetched.end() && opened[it->second].status.ok()) {
        input = std::move(opened[it->second].run_input);
      } else {
        got = report(run_input_item(step), "run input", &input);
      }
      if (!got.ok()) {
        end.message =
            "the run input of " + step.name() + " could not be fetched: " + got.error_message();
        shipper.Write(end.message + "\n");
        return end;
      }
      const std::map<std::string, std::string> envs(input.envs().begin(), input.envs().end());
      const std::map<std::string, std::string> files(input.files().begin(), input.files().end());
      const std::map<std::string, std::string> secrets(input.secrets().begin(),
                                                       input.secrets().end());
      if (absl::Status s = cli::WriteRunInput(dir, envs, files, secrets); !s.ok()) {
        end.message = "cannot write the run input: " + std::string(s.message());
        return end;
      }
      written = {".env", ".secret"};
      for (const auto& [name, content] : files) {
        written.insert(fs::path(name).lexically_normal().string());
      }
      // As the task container does: export in/.env, then in/.secret, then run.
      for (const auto& [k, v] : envs) env[k] = v;
      for (const auto& [k, v] : secrets) env[k] = v;
    }
    WorkDirs::Prune(dir / "in", written);  // what a previous run in this slot left there
    env["JOB_DIR"] = dir.string();
    env["EXECUTION_ID"] = e.id();
    env["EXECUTION_ATTEMPT"] = std::to_string(e.attempt());
    if (!scheduled.empty()) env["SCHEDULED_AT"] = scheduled;
    shipper.Write("--- " + KindName(step.kind()) + " " + step.name() + " ---\n");
    ProcessSpec spec{.shell = step.shell().empty() ? "/bin/sh" : step.shell(),
                     .script = step.script(),
                     .env = std::move(env),
                     .work_dir = dir.string(),
                     .deadline = deadline};
    return ended(step, RunProcess(
                           spec, [&](std::string_view out) { shipper.Write(out); }, running->stop));
  };

  StepEnd outcome{.ok = true, .state = "succeeded"};
  const auto fold = [&](const StepEnd& end) {
    if (outcome.ok && !end.ok) outcome = end;
  };
  const int steps = e.plan().steps_size();
  for (int i = 0; i < steps; ++i) {
    if (e.plan().steps(i).kind() == Step::KIND_HOOK_PRE && outcome.ok) fold(run_step(i));
  }
  bool task_ok = false;
  for (int i = 0; i < steps; ++i) {
    if (e.plan().steps(i).kind() != Step::KIND_TASK || !outcome.ok) continue;
    StepEnd end = run_step(i);
    task_ok = end.ok;
    if (end.ok) outcome.exit_code = end.exit_code;
    fold(end);
  }
  for (int i = 0; i < steps; ++i) {
    if (running->stop != Stop::kNo) break;
    const Step::Kind kind = e.plan().steps(i).kind();
    if ((kind == Step::KIND_HOOK_POST && task_ok && outcome.ok) ||
        (kind == Step::KIND_HOOK_FAIL && !task_ok)) {
      fold(run_step(i));
    }
  }
  if (outcome.ok) outcome.state = "succeeded";
  shipper.Write(absl::StrCat("--- ", outcome.state,
                             outcome.message.empty() ? "" : ": " + outcome.message, " ---\n"));
  // The last log chunks go with the finish: one round trip after the last step.
  std::vector<core::v1::ReportItem> closing;
  for (auto& [chunk, data] : shipper.TakeRest()) {
    core::v1::AppendLogRequest& log = *closing.emplace_back().mutable_log();
    log.set_execution_id(e.id());
    log.set_epoch(e.epoch());
    log.set_chunk(chunk);
    log.set_data(std::move(data));
  }
  if (opened_dir.ok()) work_dirs.Close(work);
  if (running->lost || shipper.lease_lost()) {
    LOG_INFO("lease lost; not reporting", {{"execution", e.id()}});
    Forget(e.id());
    return;
  }
  core::v1::FinishExecutionRequest& finish = *closing.emplace_back().mutable_finish();
  finish.set_execution_id(e.id());
  finish.set_epoch(e.epoch());
  finish.set_state(outcome.state);
  if (outcome.exit_code) {
    finish.set_has_exit_code(true);
    finish.set_exit_code(*outcome.exit_code);
  }
  finish.set_message(outcome.message);
  report_all(closing, "finish");
  LOG_INFO("execution ended", {{"execution", e.id()}, {"state", outcome.state}});
  Forget(e.id());
}

}  // namespace optimus::executor
