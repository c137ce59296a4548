// Replays of projects that Airflow runs (`scheduler: airflow`), as Optimus does them: through
// Airflow's stable REST API at the project's `scheduler_host`, a replayed run whose DAG run
// exists is cleared (Airflow runs it again); one that Airflow never ran is created with run id
// `replayed__<logical date>`. Runs go one at a time in window order, or all at once with
// `parallel`; the replay ends when every DAG run has ended. Airflow 2 (API v1, basic auth) and
// Airflow 3 (API v2, a token from /auth/token) are told apart by `scheduler_version`.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "optimus/bus/message.h"
#include "optimus/secrets/secret_box.h"
#include "optimus/store/database.h"
#include "optimus/store/migrations.h"

namespace optimus::dispatcher {

// One Airflow webserver's DAG runs.
class AirflowApi {
 public:
  // `base_url`: the webserver (http://host:8080); `auth`: "user:password"; `major`: 2 or 3.
  AirflowApi(std::string base_url, std::string auth, int major);

  struct DagRun {
    std::string id;
    std::string state;  // queued, running, success, failed
  };
  // The DAG run of `dag` with logical date `logical_ms`, if there is one.
  absl::StatusOr<std::optional<DagRun>> Find(const std::string& dag, int64_t logical_ms);
  // Clears every task of the run, so that Airflow runs it again.
  absl::Status Clear(const std::string& dag, const std::string& run_id);
  absl::StatusOr<DagRun> Create(const std::string& dag, const std::string& run_id,
                                int64_t logical_ms);
  absl::StatusOr<DagRun> Get(const std::string& dag, const std::string& run_id);

 private:
  absl::StatusOr<std::string> Call(const std::string& method, const std::string& path,
                                   const std::string& body, long* status);
  absl::Status Login();

  std::string base_;
  std::string auth_;
  int major_;
  std::string token_;  // Airflow 3
};

class AirflowReplays {
 public:
  // `auth`: "user:password" for the Airflow of a project without its own (scheduler.airflow_auth).
  // A project's own is its SCHEDULER_AUTH secret, as in Optimus, opened with `box` (none: the
  // secrets are off, and `auth` serves every project).
  AirflowReplays(store::Database& db, std::string auth, std::optional<secrets::SecretBox> box,
                 std::function<int64_t()> now_ms);

  // A record of optimus.secrets: keeps (sealed) or forgets a project's SCHEDULER_AUTH; any other
  // secret is not the dispatcher's business.
  static absl::Status ApplySecret(store::Transaction& tx, const bus::Message& m);
  static store::Migration Migration(int version);

  // One pass over the Airflow replays going on: starts the runs whose turn it is, follows the
  // DAG runs started, ends replays whose runs all ended. A replay whose Airflow cannot be
  // asked fails, saying why.
  absl::Status Advance();

 private:
  // The credentials for `project`'s Airflow; an error when its secret does not open.
  absl::StatusOr<std::string> AuthOf(const store::Row& replay, size_t sealed_column) const;

  store::Database& db_;
  std::string auth_;
  std::optional<secrets::SecretBox> box_;
  std::function<int64_t()> now_ms_;
};

}  // namespace optimus::dispatcher
