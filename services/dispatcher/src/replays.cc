// Replays of native jobs (see replays.h).
#include "optimus/dispatcher/replays.h"

#include <algorithm>
#include <deque>
#include <set>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "google/protobuf/util/time_util.h"
#include "nlohmann/json.hpp"
#include "optimus/bus/cloudevents.h"
#include "optimus/dispatcher/schedule_rules.h"
#include "optimus/pipeline/pipeline.h"
#include "optimus/rpc/timestamps.h"
#include "optimus/schedule/time_util.h"
#include "optimus/spec/loaders.h"
#include "optimus/spec/stored_spec.h"

namespace optimus::dispatcher {
namespace {

using google::protobuf::util::TimeUtil;

constexpr size_t kMaxRuns = 10000;
constexpr char kReplayColumns[] =
    "id, project, namespace, job, start_ms, end_ms, parallel, downstream, description, "
    "job_config, state, message, created_ms, updated_ms";

std::string Day(absl::Time t) { return schedule::FormatDate(t, absl::UTCTimeZone()); }
std::string Rfc3339(absl::Time t) { return schedule::FormatRfc3339(t, absl::UTCTimeZone()); }

// A replay run's status in Optimus's words ("pending" until it starts).
std::string RunStatusText(const std::string& stored) {
  auto s = ParseRunStatus(stored);
  return s ? std::string(OptimusRunStateName(*s)) : stored;
}

// A job of a native project as replays need it.
struct PlanJobRow {
  std::string key;
  std::string name;
  std::string namespace_name;
  std::shared_ptr<const spec::JobSpec> spec;
  std::vector<std::string> upstreams;
};

}  // namespace

absl::StatusOr<std::map<std::string, std::string>> ParseJobConfig(const std::string& text) {
  std::map<std::string, std::string> out;
  for (absl::string_view pair : absl::StrSplit(text, ',', absl::SkipWhitespace())) {
    const size_t eq = pair.find('=');
    std::string key(absl::StripAsciiWhitespace(pair.substr(0, eq)));
    if (eq == absl::string_view::npos || key.empty()) {
      return absl::InvalidArgumentError("job config \"" + std::string(pair) +
                                        "\" is not KEY=VALUE (pairs are separated by commas)");
    }
    absl::AsciiStrToUpper(&key);
    out[key] = std::string(pair.substr(eq + 1));
  }
  return out;
}

struct Replays::Planned {
  std::string project;
  std::string namespace_name;
  std::string job;
  int64_t start_ms = 0;
  int64_t end_ms = 0;
  std::map<std::string, std::string> job_config;
  std::vector<std::pair<std::string, int64_t>> runs;  // job key, tick; in replay order
  std::string scheduler = "native";                   // or airflow
  std::vector<int64_t> logical_ms;                    // airflow: each run's logical date
};

Replays::Replays(store::Database& db, std::function<int64_t()> now_ms)
    : db_(db), now_ms_(std::move(now_ms)) {}

absl::StatusOr<Replays::Planned> Replays::Plan(store::Transaction& tx,
                                               const replay_api::ReplayRequest& request) {
  Planned out;
  out.project = request.project_name();
  out.job = request.job_name();
  if (out.project.empty() || out.job.empty()) {
    return absl::InvalidArgumentError("a replay needs a project and a job name");
  }
  if (!request.has_start_time()) return absl::InvalidArgumentError("a replay needs a start time");
  if (absl::Status s = rpc::CheckTimestamps(request); !s.ok()) return s;
  out.start_ms = TimeUtil::TimestampToMilliseconds(request.start_time());
  out.end_ms =
      request.has_end_time() ? TimeUtil::TimestampToMilliseconds(request.end_time()) : out.start_ms;
  if (out.end_ms < out.start_ms) {
    return absl::InvalidArgumentError(
        "the replay ends (" + Rfc3339(absl::FromUnixMillis(out.end_ms)) + ") before it starts (" +
        Rfc3339(absl::FromUnixMillis(out.start_ms)) + ")");
  }
  auto config = ParseJobConfig(request.job_config());
  if (!config.ok()) return config.status();
  out.job_config = *std::move(config);

  auto project = tx.Execute(
      "SELECT mode, presets, scheduler_host FROM sched_projects WHERE name = $1", {out.project});
  if (!project.ok()) return project.status();
  if (project->rows.empty()) {
    return absl::NotFoundError("no project " + out.project + " registered on this server");
  }
  if (project->rows[0].Text(0) != "native") {
    return PlanOnAirflow(tx, request, project->rows[0], std::move(out));
  }
  std::map<std::string, spec::Preset> presets;
  if (!project->rows[0].Text(1).empty()) {
    spec::Diagnostics ignored;
    presets = spec::LoadPresets("presets.yaml", project->rows[0].Text(1), ignored);
  }
  // Every job of the project's native siblings (downstream jobs may live in other native
  // projects too).
  auto native = tx.Execute("SELECT name, presets FROM sched_projects WHERE mode = 'native'");
  if (!native.ok()) return native.status();
  std::map<std::string, std::map<std::string, spec::Preset>> native_presets;
  for (const store::Row& row : native->rows) {
    spec::Diagnostics ignored;
    native_presets[row.Text(0)] = row.Text(1).empty()
                                      ? std::map<std::string, spec::Preset>{}
                                      : spec::LoadPresets("presets.yaml", row.Text(1), ignored);
  }
  const std::string root_key = pipeline::JobKey(out.project, out.job);
  auto rows = tx.Execute("SELECT job_key, namespace, spec_yaml, upstreams FROM plan_jobs");
  if (!rows.ok()) return rows.status();
  std::map<std::string, PlanJobRow> jobs;
  for (const store::Row& row : rows->rows) {
    const std::string& key = row.Text(0);
    const std::string project_of = key.substr(0, key.find('/'));
    if (native_presets.count(project_of) == 0) continue;
    if (key != root_key && !request.include_downstream()) continue;
    spec::Diagnostics diagnostics;
    auto spec = spec::LoadStoredJobSpec(key + "/job.yaml", row.Text(2), diagnostics);
    if (spec == nullptr) continue;
    PlanJobRow j{.key = key, .name = spec->name, .namespace_name = row.Text(1), .spec = spec};
    for (absl::string_view u : absl::StrSplit(row.Text(3), '\n', absl::SkipEmpty()))
      j.upstreams.emplace_back(u);
    jobs.emplace(key, std::move(j));
  }
  auto root = jobs.find(root_key);
  if (root == jobs.end()) {
    return absl::NotFoundError("no job " + out.job + " in project " + out.project +
                               " (never deployed, or deleted)");
  }
  out.namespace_name = root->second.namespace_name;
  if (!request.namespace_name().empty() && request.namespace_name() != out.namespace_name) {
    return absl::InvalidArgumentError("job " + out.job + " is in namespace " + out.namespace_name +
                                      ", not " + request.namespace_name());
  }
  const auto native_of = [&](const PlanJobRow& j) -> absl::StatusOr<NativeJob> {
    return NativeJobOf(j.key.substr(0, j.key.find('/')), j.namespace_name, *j.spec,
                       native_presets[j.key.substr(0, j.key.find('/'))], j.upstreams);
  };
  auto root_job = native_of(root->second);
  if (!root_job.ok()) {
    return absl::FailedPreconditionError(
        "job " + out.job + " cannot be replayed: " + std::string(root_job.status().message()));
  }
  const absl::Time now = absl::FromUnixMillis(now_ms_());
  auto ticks = CheckedTicks(root_job->timeline, *root->second.spec, out);
  if (!ticks.ok()) return ticks.status();
  // The jobs downstream of the replayed one, in dependency order (Kahn over the reachable part
  // of the graph), each with the ticks that read a replayed run.
  std::map<std::string, std::vector<std::string>> downstream_of;
  for (const auto& [key, j] : jobs) {
    for (const std::string& u : j.upstreams) downstream_of[u].push_back(key);
  }
  std::set<std::string> reachable{root_key};
  std::deque<std::string> todo{root_key};
  while (!todo.empty()) {
    const std::string k = todo.front();
    todo.pop_front();
    for (const std::string& d : downstream_of[k]) {
      if (reachable.insert(d).second) todo.push_back(d);
    }
  }
  std::map<std::string, int> indegree;
  for (const std::string& k : reachable) {
    indegree[k];
    for (const std::string& u : jobs.at(k).upstreams) {
      if (reachable.count(u) != 0 && k != root_key) ++indegree[k];
    }
  }
  std::vector<std::string> order;
  for (const auto& [k, n] : indegree) {
    if (n == 0) todo.push_back(k);
  }
  while (!todo.empty()) {
    const std::string k = todo.front();
    todo.pop_front();
    order.push_back(k);
    for (const std::string& d : downstream_of[k]) {
      if (reachable.count(d) != 0 && d != root_key && --indegree[d] == 0) todo.push_back(d);
    }
  }
  std::map<std::string, std::vector<absl::Time>> replayed{{root_key, *ticks}};
  std::map<std::string, NativeJob> natives;
  natives.emplace(root_key, *root_job);
  std::map<std::string, size_t> depth;
  for (size_t i = 0; i < order.size(); ++i) {
    const std::string& k = order[i];
    depth[k] = i;
    if (k == root_key) continue;
    auto job = native_of(jobs.at(k));
    if (!job.ok()) continue;  // unscheduled downstream jobs have no runs to replay
    std::set<absl::Time> mine;
    for (const std::string& u : job->upstreams) {
      auto up = replayed.find(u);
      if (up == replayed.end() || up->second.empty()) continue;
      auto hits = DependentTicks(*job, natives.at(u).timeline, up->second);
      if (!hits.ok()) return hits.status();
      for (absl::Time t : *hits) {
        if (t <= now && job->timeline.Contains(t)) mine.insert(t);
      }
    }
    replayed[k].assign(mine.begin(), mine.end());
    natives.emplace(k, *std::move(job));
  }
  for (const auto& [k, list] : replayed) {
    for (absl::Time t : list) out.runs.push_back({k, absl::ToUnixMillis(t)});
  }
  if (out.runs.size() > kMaxRuns) {
    return absl::InvalidArgumentError(absl::StrCat("the replay would run ", out.runs.size(),
                                                   " runs; at most ", kMaxRuns, " at once"));
  }
  // Window order; within a window, upstreams first.
  std::sort(out.runs.begin(), out.runs.end(), [&](const auto& a, const auto& b) {
    if (a.second != b.second) return a.second < b.second;
    return depth[a.first] < depth[b.first];
  });
  return out;
}

absl::StatusOr<Replays::Planned> Replays::PlanOnAirflow(store::Transaction& tx,
                                                        const replay_api::ReplayRequest& request,
                                                        const store::Row& project, Planned out) {
  out.scheduler = "airflow";
  if (project.Text(2).empty()) {
    return absl::FailedPreconditionError("project " + out.project +
                                         " is scheduled by Airflow but has no scheduler_host to "
                                         "replay through");
  }
  if (request.include_downstream()) {
    return absl::InvalidArgumentError(
        "replays with downstream jobs are for native projects; on Airflow, replay each job "
        "(as Optimus does)");
  }
  const std::string key = pipeline::JobKey(out.project, out.job);
  auto rows = tx.Execute("SELECT namespace, spec_yaml FROM plan_jobs WHERE job_key = $1", {key});
  if (!rows.ok()) return rows.status();
  if (rows->rows.empty()) {
    return absl::NotFoundError("no job " + out.job + " in project " + out.project +
                               " (never deployed, or deleted)");
  }
  out.namespace_name = rows->rows[0].Text(0);
  if (!request.namespace_name().empty() && request.namespace_name() != out.namespace_name) {
    return absl::InvalidArgumentError("job " + out.job + " is in namespace " + out.namespace_name +
                                      ", not " + request.namespace_name());
  }
  spec::Diagnostics diagnostics;
  auto spec = spec::LoadStoredJobSpec(key + "/job.yaml", rows->rows[0].Text(1), diagnostics);
  if (spec == nullptr) {
    return absl::FailedPreconditionError("the stored spec of " + out.job + " does not load");
  }
  auto timeline = TimelineOf(*spec);
  if (!timeline.ok()) return absl::FailedPreconditionError(timeline.status().message());
  auto ticks = CheckedTicks(*timeline, *spec, out);
  if (!ticks.ok()) return ticks.status();
  const absl::TimeZone zone = timeline->cron.zone() ? *timeline->cron.zone() : absl::UTCTimeZone();
  for (absl::Time t : *ticks) {
    // Airflow's logical date of the run scheduled at t: the start of its data interval.
    std::optional<absl::Time> logical = timeline->cron.is_every()
                                            ? std::optional<absl::Time>(t - timeline->cron.every())
                                            : timeline->cron.Prev(t, zone);
    out.runs.push_back({key, absl::ToUnixMillis(t)});
    out.logical_ms.push_back(absl::ToUnixMillis(logical.value_or(t)));
  }
  return out;
}

absl::StatusOr<std::vector<absl::Time>> Replays::CheckedTicks(const JobTimeline& timeline,
                                                              const spec::JobSpec& spec,
                                                              const Planned& out) {
  const absl::Time start = absl::FromUnixMillis(out.start_ms);
  const absl::Time end = absl::FromUnixMillis(out.end_ms);
  const absl::Time now = absl::FromUnixMillis(now_ms_());
  if (start < timeline.start) {
    return absl::InvalidArgumentError("the replay starts at " + Rfc3339(start) +
                                      ", before the start date of " + out.job + " (" +
                                      Day(timeline.start) + ")");
  }
  if (end > now) {
    return absl::InvalidArgumentError("the replay ends at " + Rfc3339(end) +
                                      ", in the future: only past runs can be replayed");
  }
  auto ticks = timeline.TicksIn(start, end, kMaxRuns);
  if (!ticks.ok()) return absl::InvalidArgumentError(ticks.status().message());
  if (ticks->empty()) {
    return absl::InvalidArgumentError("job " + out.job + " (schedule \"" + spec.schedule.interval +
                                      "\") has no run from " + Rfc3339(start) + " to " +
                                      Rfc3339(end));
  }
  return ticks;
}

absl::StatusOr<std::string> Replays::Create(const replay_api::ReplayRequest& request,
                                            const std::string& requested_by) {
  const std::string id = bus::NewEventId();
  absl::Status s = db_.InTransaction([&](store::Transaction& tx) -> absl::Status {
    auto plan = Plan(tx, request);
    if (!plan.ok()) return plan.status();
    auto busy = tx.Execute(
        "SELECT id FROM replays WHERE project = $1 AND job = $2 AND state IN ('created', 'in "
        "progress') AND start_ms <= $4 AND end_ms >= $3",
        {plan->project, plan->job, plan->start_ms, plan->end_ms});
    if (!busy.ok()) return busy.status();
    if (!busy->rows.empty()) {
      return absl::FailedPreconditionError("replay " + busy->rows[0].Text(0) + " of " + plan->job +
                                           " over an overlapping range is still going; cancel "
                                           "it or wait for it");
    }
    nlohmann::json config = plan->job_config;
    const int64_t now = now_ms_();
    auto inserted = tx.Execute(
        "INSERT INTO replays (id, project, namespace, job, start_ms, end_ms, parallel, "
        "downstream, description, job_config, state, message, requested_by, created_ms, "
        "updated_ms, scheduler) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, 'created', '', "
        "$11, $12, $12, $13)",
        {id, plan->project, plan->namespace_name, plan->job, plan->start_ms, plan->end_ms,
         int64_t{request.parallel() ? 1 : 0}, int64_t{request.include_downstream() ? 1 : 0},
         request.description(), config.dump(), requested_by, now, plan->scheduler});
    if (!inserted.ok()) return inserted.status();
    std::vector<std::vector<store::Value>> runs;
    for (size_t i = 0; i < plan->runs.size(); ++i) {
      runs.push_back({id, plan->runs[i].first, plan->runs[i].second, static_cast<int64_t>(i),
                      std::string("pending"),
                      i < plan->logical_ms.size() ? plan->logical_ms[i] : int64_t{0}});
    }
    return store::ExecuteValues(
        tx, "INSERT INTO replay_runs (replay_id, job_key, scheduled_at, ord, state, logical_ms)",
        runs);
  });
  if (!s.ok()) return s;
  return id;
}

absl::StatusOr<replay_api::ReplayDryRunResponse> Replays::DryRun(
    const replay_api::ReplayRequest& request) {
  replay_api::ReplayDryRunResponse out;
  absl::Status s = db_.InReadTransaction([&](store::Transaction& tx) -> absl::Status {
    auto plan = Plan(tx, request);
    if (!plan.ok()) return plan.status();
    for (const auto& [key, tick] : plan->runs) {
      auto* run = out.add_replay_runs();
      *run->mutable_scheduled_at() = TimeUtil::MillisecondsToTimestamp(tick);
      run->set_status("pending");
      run->set_project_name(key.substr(0, key.find('/')));
      run->set_job_name(key.substr(key.find('/') + 1));
    }
    out.mutable_job_config()->insert(plan->job_config.begin(), plan->job_config.end());
    return absl::OkStatus();
  });
  if (!s.ok()) return s;
  return out;
}

absl::StatusOr<replay_api::GetReplayResponse> Replays::Load(store::Transaction& tx,
                                                            const store::Row& row, bool with_runs) {
  replay_api::GetReplayResponse out;
  out.set_id(row.Text(0));
  out.set_namespace_name(row.Text(2));
  out.set_job_name(row.Text(3));
  auto* config = out.mutable_replay_config();
  *config->mutable_start_time() = TimeUtil::MillisecondsToTimestamp(row.Int(4));
  *config->mutable_end_time() = TimeUtil::MillisecondsToTimestamp(row.Int(5));
  config->set_parallel(row.Int(6) != 0);
  out.set_include_downstream(row.Int(7) != 0);
  config->set_description(row.Text(8));
  auto job_config = nlohmann::json::parse(row.Text(9), nullptr, false);
  if (job_config.is_object()) {
    for (auto& [k, v] : job_config.items()) {
      if (v.is_string()) (*config->mutable_job_config())[k] = v.get<std::string>();
    }
  }
  out.set_status(row.Text(10));
  out.set_message(row.Text(11));
  *out.mutable_created_at() = TimeUtil::MillisecondsToTimestamp(row.Int(12));
  *out.mutable_updated_at() = TimeUtil::MillisecondsToTimestamp(row.Int(13));
  if (with_runs) {
    auto runs = tx.Execute(
        "SELECT job_key, scheduled_at, state FROM replay_runs WHERE replay_id = $1 ORDER BY ord",
        {out.id()});
    if (!runs.ok()) return runs.status();
    for (const store::Row& r : runs->rows) {
      auto* run = out.add_replay_runs();
      *run->mutable_scheduled_at() = TimeUtil::MillisecondsToTimestamp(r.Int(1));
      run->set_status(RunStatusText(r.Text(2)));
      run->set_project_name(r.Text(0).substr(0, r.Text(0).find('/')));
      run->set_job_name(r.Text(0).substr(r.Text(0).find('/') + 1));
    }
  }
  return out;
}

absl::StatusOr<replay_api::ListReplayResponse> Replays::List(const std::string& project) {
  replay_api::ListReplayResponse out;
  absl::Status s = db_.InReadTransaction([&](store::Transaction& tx) -> absl::Status {
    auto rows = tx.Execute(absl::StrCat("SELECT ", kReplayColumns,
                                        " FROM replays WHERE project = $1 ORDER BY created_ms "
                                        "DESC LIMIT 500"),
                           {project});
    if (!rows.ok()) return rows.status();
    for (const store::Row& row : rows->rows) {
      auto r = Load(tx, row, false);
      if (!r.ok()) return r.status();
      *out.add_replays() = *std::move(r);
    }
    return absl::OkStatus();
  });
  if (!s.ok()) return s;
  return out;
}

absl::StatusOr<replay_api::GetReplayResponse> Replays::Get(const std::string& project,
                                                           const std::string& id) {
  replay_api::GetReplayResponse out;
  absl::Status s = db_.InReadTransaction([&](store::Transaction& tx) -> absl::Status {
    auto rows = tx.Execute(
        absl::StrCat("SELECT ", kReplayColumns, " FROM replays WHERE id = $1 AND project = $2"),
        {id, project});
    if (!rows.ok()) return rows.status();
    if (rows->rows.empty())
      return absl::NotFoundError("no replay " + id + " in project " + project);
    auto r = Load(tx, rows->rows[0], true);
    if (!r.ok()) return r.status();
    out = *std::move(r);
    return absl::OkStatus();
  });
  if (!s.ok()) return s;
  return out;
}

absl::StatusOr<replay_api::CancelReplayResponse> Replays::Cancel(const std::string& project,
                                                                 const std::string& id) {
  absl::Status s = db_.InTransaction([&](store::Transaction& tx) -> absl::Status {
    auto rows =
        tx.Execute("SELECT state FROM replays WHERE id = $1 AND project = $2", {id, project});
    if (!rows.ok()) return rows.status();
    if (rows->rows.empty())
      return absl::NotFoundError("no replay " + id + " in project " + project);
    const std::string state = rows->rows[0].Text(0);
    if (state != "created" && state != "in progress") {
      return absl::FailedPreconditionError("replay " + id + " has ended already (" + state + ")");
    }
    return tx
        .Execute(
            "UPDATE replays SET state = 'cancelled', message = 'cancelled on request', "
            "updated_ms = $2 WHERE id = $1",
            {id, now_ms_()})
        .status();
  });
  if (!s.ok()) return s;
  auto replay = Get(project, id);
  if (!replay.ok()) return replay.status();
  replay_api::CancelReplayResponse out;
  out.set_job_name(replay->job_name());
  *out.mutable_replay_runs() = replay->replay_runs();
  return out;
}

absl::StatusOr<replay_api::GetReplayDetailsResponse> Replays::Details(
    const replay_api::GetReplayDetailsRequest& request) {
  static const std::set<std::string> kStates = {"created", "in progress", "success", "failed",
                                                "cancelled"};
  if (!request.status().empty() && kStates.count(request.status()) == 0) {
    return absl::InvalidArgumentError("replay status \"" + request.status() +
                                      "\" is not one of created, in progress, success, failed, "
                                      "cancelled");
  }
  replay_api::GetReplayDetailsResponse out;
  absl::Status s = db_.InReadTransaction([&](store::Transaction& tx) -> absl::Status {
    std::string sql = absl::StrCat("SELECT ", kReplayColumns, " FROM replays WHERE project = $1");
    std::vector<store::Value> params{request.project_name()};
    const auto add = [&](const std::string& clause, store::Value v) {
      params.push_back(std::move(v));
      absl::StrAppend(&sql, " AND ", clause, " $", params.size());
    };
    if (!request.replay_id().empty()) add("id =", request.replay_id());
    if (!request.status().empty()) add("state =", request.status());
    if (absl::Status s = rpc::CheckTimestamps(request); !s.ok()) return s;
    if (request.has_scheduled_at()) {
      add("start_ms <=", TimeUtil::TimestampToMilliseconds(request.scheduled_at()));
      add("end_ms >=", TimeUtil::TimestampToMilliseconds(request.scheduled_at()));
    }
    absl::StrAppend(&sql, " ORDER BY created_ms DESC LIMIT 500");
    auto rows = tx.Execute(sql, params);
    if (!rows.ok()) return rows.status();
    const std::set<std::string> names(request.job_names().begin(), request.job_names().end());
    for (const store::Row& row : rows->rows) {
      if (!names.empty() && names.count(row.Text(3)) == 0) continue;
      auto r = Load(tx, row, true);
      if (!r.ok()) return r.status();
      *out.add_replays() = *std::move(r);
    }
    return absl::OkStatus();
  });
  if (!s.ok()) return s;
  return out;
}

}  // namespace optimus::dispatcher
