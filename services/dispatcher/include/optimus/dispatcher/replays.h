// Replays of native jobs (Optimus's ReplayService): a replay runs a job again for the cron ticks
// between a start and an end (inclusive), and with `include_downstream` also the runs of its
// downstream jobs that read the replayed ones, in dependency order. This class checks and stores
// requests and answers questions about them; the scheduler (scheduler.h) runs them: in window
// order one run at a time, or all at once with `parallel` (the upstream gate still orders a
// downstream run after the runs it reads).
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "optimus/dispatcher/schedule_rules.h"
#include "optimus/integration/v1beta1/replay.pb.h"
#include "optimus/store/database.h"

namespace optimus::dispatcher {

namespace replay_api = gotocompany::optimus::core::v1beta1;

// "K=V,K2=V2" -> {K: V, K2: V2}, keys trimmed and upper-cased (Optimus's --job-config).
absl::StatusOr<std::map<std::string, std::string>> ParseJobConfig(const std::string& text);

class Replays {
 public:
  Replays(store::Database& db, std::function<int64_t()> now_ms);

  // Checks `request` and stores the replay; returns its id. InvalidArgument for a range before
  // the job's start date, after now, holding no run, or too large; NotFound for a job not
  // deployed (or deleted); FailedPrecondition for a project on Airflow or a replay of the same
  // job over an overlapping range still going.
  absl::StatusOr<std::string> Create(const replay_api::ReplayRequest& request,
                                     const std::string& requested_by);
  // The runs Create would store, without storing them.
  absl::StatusOr<replay_api::ReplayDryRunResponse> DryRun(const replay_api::ReplayRequest& request);

  absl::StatusOr<replay_api::ListReplayResponse> List(const std::string& project);
  absl::StatusOr<replay_api::GetReplayResponse> Get(const std::string& project,
                                                    const std::string& id);
  // Stops a replay: runs not started stay as they were, waiting ones are cancelled, running
  // ones are stopped. FailedPrecondition when it has ended already.
  absl::StatusOr<replay_api::CancelReplayResponse> Cancel(const std::string& project,
                                                          const std::string& id);
  // Replays matching the filters (Optimus's helper asks for those "in progress" over a
  // scheduled time, to read their job config).
  absl::StatusOr<replay_api::GetReplayDetailsResponse> Details(
      const replay_api::GetReplayDetailsRequest& request);

 private:
  struct Planned;
  absl::StatusOr<Planned> Plan(store::Transaction& tx, const replay_api::ReplayRequest& request);
  absl::StatusOr<Planned> PlanOnAirflow(store::Transaction& tx,
                                        const replay_api::ReplayRequest& request,
                                        const store::Row& project, Planned out);
  // The job's ticks in the request's range: InvalidArgument before its start date, in the
  // future, or when the range holds none.
  absl::StatusOr<std::vector<absl::Time>> CheckedTicks(const JobTimeline& timeline,
                                                       const spec::JobSpec& spec,
                                                       const Planned& out);
  absl::StatusOr<replay_api::GetReplayResponse> Load(store::Transaction& tx, const store::Row& row,
                                                     bool with_runs);

  store::Database& db_;
  std::function<int64_t()> now_ms_;
};

}  // namespace optimus::dispatcher
