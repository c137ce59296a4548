// Replays of projects on Airflow (see airflow_replays.h).
#include "optimus/dispatcher/airflow_replays.h"

#include <curl/curl.h>

#include <memory>
#include <vector>

#include "absl/strings/str_cat.h"
#include "nlohmann/json.hpp"
#include "optimus/events/v1/secrets.pb.h"
#include "optimus/pipeline/pipeline.h"
#include "optimus/schedule/time_util.h"
#include "optimus/telemetry/log.h"

namespace optimus::dispatcher {
namespace {

// Airflow's own spelling of a logical date in run ids: 2024-01-01T02:00:00+00:00.
std::string AirflowTime(int64_t ms) {
  return absl::FormatTime("%Y-%m-%dT%H:%M:%S+00:00", absl::FromUnixMillis(ms), absl::UTCTimeZone());
}

std::string Escape(CURL* curl, const std::string& s) {
  char* e = curl_easy_escape(curl, s.data(), static_cast<int>(s.size()));
  std::string out = e != nullptr ? e : s;
  curl_free(e);
  return out;
}

}  // namespace

AirflowApi::AirflowApi(std::string base_url, std::string auth, int major)
    : base_(std::move(base_url)), auth_(std::move(auth)), major_(major) {
  while (!base_.empty() && base_.back() == '/') base_.pop_back();
}

absl::StatusOr<std::string> AirflowApi::Call(const std::string& method, const std::string& path,
                                             const std::string& body, long* status) {
  std::unique_ptr<CURL, void (*)(CURL*)> curl(curl_easy_init(), curl_easy_cleanup);
  if (!curl) return absl::InternalError("cannot make an HTTP client");
  std::string out;
  curl_slist* headers = curl_slist_append(nullptr, "Content-Type: application/json");
  if (major_ >= 3 && !token_.empty()) {
    headers = curl_slist_append(headers, ("Authorization: Bearer " + token_).c_str());
  } else if (major_ < 3 && !auth_.empty()) {
    curl_easy_setopt(curl.get(), CURLOPT_USERPWD, auth_.c_str());
  }
  const std::string url = base_ + path;
  curl_easy_setopt(curl.get(), CURLOPT_URL, url.c_str());
  curl_easy_setopt(curl.get(), CURLOPT_CUSTOMREQUEST, method.c_str());
  if (method != "GET") curl_easy_setopt(curl.get(), CURLOPT_POSTFIELDS, body.c_str());
  curl_easy_setopt(curl.get(), CURLOPT_HTTPHEADER, headers);
  curl_easy_setopt(curl.get(), CURLOPT_TIMEOUT_MS, 15000L);
  curl_easy_setopt(curl.get(), CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(curl.get(), CURLOPT_WRITEDATA, &out);
  curl_easy_setopt(
      curl.get(), CURLOPT_WRITEFUNCTION, +[](char* p, size_t size, size_t n, void* s) -> size_t {
        static_cast<std::string*>(s)->append(p, size * n);
        return size * n;
      });
  const CURLcode rc = curl_easy_perform(curl.get());
  curl_slist_free_all(headers);
  if (rc != CURLE_OK) {
    return absl::UnavailableError(
        absl::StrCat("Airflow at ", base_, " cannot be asked: ", curl_easy_strerror(rc)));
  }
  curl_easy_getinfo(curl.get(), CURLINFO_RESPONSE_CODE, status);
  return out;
}

absl::Status AirflowApi::Login() {
  if (major_ < 3 || !token_.empty()) return absl::OkStatus();
  const size_t colon = auth_.find(':');
  nlohmann::json body = {{"username", auth_.substr(0, colon)},
                         {"password", colon == std::string::npos ? "" : auth_.substr(colon + 1)}};
  long status = 0;
  auto answer = Call("POST", "/auth/token", body.dump(), &status);
  if (!answer.ok()) return answer.status();
  auto json = nlohmann::json::parse(*answer, nullptr, false);
  if (status / 100 != 2 || !json.is_object() || !json.contains("access_token")) {
    return absl::PermissionDeniedError(
        absl::StrCat("Airflow at ", base_, " refused the login (HTTP ", status, ")"));
  }
  token_ = json["access_token"].get<std::string>();
  return absl::OkStatus();
}

namespace {

absl::StatusOr<nlohmann::json> Answer(const absl::StatusOr<std::string>& body, long status,
                                      const std::string& what) {
  if (!body.ok()) return body.status();
  auto json = nlohmann::json::parse(*body, nullptr, false);
  if (status / 100 != 2) {
    std::string detail = json.is_object() && json.contains("detail") && json["detail"].is_string()
                             ? json["detail"].get<std::string>()
                             : body->substr(0, 200);
    return absl::FailedPreconditionError(absl::StrCat(what, ": HTTP ", status, ": ", detail));
  }
  if (json.is_discarded()) return absl::InternalError(what + ": the answer is not JSON");
  return json;
}

AirflowApi::DagRun RunOf(const nlohmann::json& j) {
  return {j.value("dag_run_id", std::string()), j.value("state", std::string())};
}

}  // namespace

absl::StatusOr<std::optional<AirflowApi::DagRun>> AirflowApi::Find(const std::string& dag,
                                                                   int64_t logical_ms) {
  if (auto s = Login(); !s.ok()) return s;
  std::unique_ptr<CURL, void (*)(CURL*)> curl(curl_easy_init(), curl_easy_cleanup);
  const std::string at = Escape(curl.get(), AirflowTime(logical_ms));
  const std::string field = major_ >= 3 ? "logical_date" : "execution_date";
  long status = 0;
  auto body =
      Call("GET",
           absl::StrCat(major_ >= 3 ? "/api/v2" : "/api/v1", "/dags/", Escape(curl.get(), dag),
                        "/dagRuns?", field, "_gte=", at, "&", field, "_lte=", at),
           "", &status);
  auto json = Answer(body, status, "listing the DAG runs of " + dag);
  if (!json.ok()) return json.status();
  const auto& runs = (*json)["dag_runs"];
  if (!runs.is_array() || runs.empty()) return std::optional<DagRun>();
  return std::optional<DagRun>(RunOf(runs[0]));
}

absl::Status AirflowApi::Clear(const std::string& dag, const std::string& run_id) {
  if (auto s = Login(); !s.ok()) return s;
  std::unique_ptr<CURL, void (*)(CURL*)> curl(curl_easy_init(), curl_easy_cleanup);
  long status = 0;
  auto body =
      Call("POST",
           absl::StrCat(major_ >= 3 ? "/api/v2" : "/api/v1", "/dags/", Escape(curl.get(), dag),
                        "/dagRuns/", Escape(curl.get(), run_id), "/clear"),
           R"({"dry_run": false})", &status);
  return Answer(body, status, "clearing DAG run " + run_id + " of " + dag).status();
}

absl::StatusOr<AirflowApi::DagRun> AirflowApi::Create(const std::string& dag,
                                                      const std::string& run_id,
                                                      int64_t logical_ms) {
  if (auto s = Login(); !s.ok()) return s;
  std::unique_ptr<CURL, void (*)(CURL*)> curl(curl_easy_init(), curl_easy_cleanup);
  nlohmann::json request = {{"dag_run_id", run_id}, {"logical_date", AirflowTime(logical_ms)}};
  long status = 0;
  auto body = Call("POST",
                   absl::StrCat(major_ >= 3 ? "/api/v2" : "/api/v1", "/dags/",
                                Escape(curl.get(), dag), "/dagRuns"),
                   request.dump(), &status);
  auto json = Answer(body, status, "creating DAG run " + run_id + " of " + dag);
  if (!json.ok()) return json.status();
  return RunOf(*json);
}

absl::StatusOr<AirflowApi::DagRun> AirflowApi::Get(const std::string& dag,
                                                   const std::string& run_id) {
  if (auto s = Login(); !s.ok()) return s;
  std::unique_ptr<CURL, void (*)(CURL*)> curl(curl_easy_init(), curl_easy_cleanup);
  long status = 0;
  auto body = Call("GET",
                   absl::StrCat(major_ >= 3 ? "/api/v2" : "/api/v1", "/dags/",
                                Escape(curl.get(), dag), "/dagRuns/", Escape(curl.get(), run_id)),
                   "", &status);
  auto json = Answer(body, status, "reading DAG run " + run_id + " of " + dag);
  if (!json.ok()) return json.status();
  return RunOf(*json);
}

AirflowReplays::AirflowReplays(store::Database& db, std::string auth,
                               std::optional<secrets::SecretBox> box,
                               std::function<int64_t()> now_ms)
    : db_(db), auth_(std::move(auth)), box_(std::move(box)), now_ms_(std::move(now_ms)) {}

store::Migration AirflowReplays::Migration(int version) {
  return {version, "Airflow credentials of projects",
          "CREATE TABLE scheduler_auths (secret_key TEXT PRIMARY KEY, project TEXT NOT NULL, "
          "sealed ${BLOB} NOT NULL)"};
}

absl::Status AirflowReplays::ApplySecret(store::Transaction& tx, const bus::Message& m) {
  if (m.tombstone) {
    return tx.Execute("DELETE FROM scheduler_auths WHERE secret_key = $1", {m.key}).status();
  }
  auto record = pipeline::ParseRecord<events::v1::SecretRecord>(m);
  if (!record.ok()) return record.status();
  // Optimus reads SCHEDULER_AUTH of the project; a namespace's secret of that name is not it.
  if (record->name() != "SCHEDULER_AUTH" || !record->namespace_().empty()) {
    return tx.Execute("DELETE FROM scheduler_auths WHERE secret_key = $1", {m.key}).status();
  }
  return tx
      .Execute(
          "INSERT INTO scheduler_auths (secret_key, project, sealed) VALUES ($1, $2, $3) ON "
          "CONFLICT (secret_key) DO UPDATE SET project = excluded.project, sealed = "
          "excluded.sealed",
          {m.key, record->project(), store::Blob{record->sealed()}})
      .status();
}

absl::StatusOr<std::string> AirflowReplays::AuthOf(const store::Row& replay,
                                                   size_t sealed_column) const {
  if (replay.IsNull(sealed_column)) return auth_;
  if (!box_) {
    return absl::FailedPreconditionError(
        "the project's SCHEDULER_AUTH secret cannot be opened: secrets are off on the dispatcher "
        "(set secrets.app_key, the same as on ingest)");
  }
  auto opened = box_->Open(replay.Text(sealed_column));
  if (!opened.ok()) {
    return absl::FailedPreconditionError(
        absl::StrCat("the project's SCHEDULER_AUTH secret does not open with the dispatcher's app "
                     "key (is secrets.app_key the same as on ingest?): ",
                     opened.status().message()));
  }
  return *std::move(opened);
}

absl::Status AirflowReplays::Advance() {
  auto replays = db_.Execute(
      "SELECT r.id, r.job, r.parallel, p.scheduler_host, p.scheduler_version, a.sealed FROM "
      "replays r LEFT JOIN sched_projects p ON p.name = r.project LEFT JOIN scheduler_auths a ON "
      "a.project = r.project WHERE r.scheduler = 'airflow' AND r.state IN ('created', 'in "
      "progress') ORDER BY r.created_ms");
  if (!replays.ok()) return replays.status();
  for (const store::Row& replay : replays->rows) {
    const std::string id = replay.Text(0);
    const std::string dag = replay.Text(1);
    const bool parallel = replay.Int(2) != 0;
    const std::string host = replay.IsNull(3) ? "" : replay.Text(3);
    const std::string version = replay.IsNull(4) ? "" : replay.Text(4);
    const auto finish = [&](const std::string& state, const std::string& message) {
      return db_
          .Execute("UPDATE replays SET state = $2, message = $3, updated_ms = $4 WHERE id = $1",
                   {id, state, message, now_ms_()})
          .status();
    };
    if (host.empty()) {
      if (auto s = finish("failed", "the project has no scheduler_host to replay through");
          !s.ok()) {
        return s;
      }
      continue;
    }
    auto auth = AuthOf(replay, 5);
    if (!auth.ok()) {
      if (auto s = finish("failed", std::string(auth.status().message())); !s.ok()) return s;
      continue;
    }
    AirflowApi api(host, *std::move(auth), !version.empty() && version[0] == '3' ? 3 : 2);
    auto runs = db_.Execute(
        "SELECT scheduled_at, logical_ms, state, dag_run_id FROM replay_runs WHERE replay_id = $1 "
        "ORDER BY ord",
        {id});
    if (!runs.ok()) return runs.status();
    bool all_ended = true, any_failed = false;
    std::string problem;
    for (const store::Row& run : runs->rows) {
      const int64_t tick = run.Int(0);
      const int64_t logical = run.Int(1);
      std::string state = run.Text(2);
      std::string run_id = run.Text(3);
      const auto set = [&](const std::string& to, const std::string& dag_run) {
        return db_
            .Execute(
                "UPDATE replay_runs SET state = $3, dag_run_id = $4 WHERE replay_id = $1 AND "
                "scheduled_at = $2",
                {id, tick, to, dag_run})
            .status();
      };
      if (state == "pending") {
        auto found = api.Find(dag, logical);
        absl::Status started;
        if (!found.ok()) {
          started = found.status();
        } else if (*found) {
          run_id = (*found)->id;
          started = api.Clear(dag, run_id);
        } else {
          run_id = "replayed__" + AirflowTime(logical);
          started = api.Create(dag, run_id, logical).status();
        }
        if (!started.ok()) {
          problem = std::string(started.message());
          all_ended = false;
          break;
        }
        if (auto s = set("running", run_id); !s.ok()) return s;
        if (auto s = db_.Execute("UPDATE replays SET state = 'in progress', message = '', "
                                 "updated_ms = $2 WHERE id = $1",
                                 {id, now_ms_()});
            !s.ok()) {
          return s.status();
        }
        state = "running";
      }
      if (state == "running") {
        auto now = api.Get(dag, run_id);
        if (!now.ok()) {
          problem = std::string(now.status().message());
        } else if (now->state == "success") {
          if (auto s = set("succeeded", run_id); !s.ok()) return s;
          state = "succeeded";
        } else if (now->state == "failed") {
          if (auto s = set("failed", run_id); !s.ok()) return s;
          state = "failed";
        }
      }
      any_failed |= state == "failed";
      if (state != "succeeded" && state != "failed") {
        all_ended = false;
        if (!parallel) break;  // one at a time, in window order
      }
    }
    if (!problem.empty()) {
      // Airflow may be restarting: the replay waits and says why.
      LOG_WARN("a replay cannot reach Airflow; trying again", {{"replay", id}, {"error", problem}});
      auto s = db_.Execute("UPDATE replays SET message = $2 WHERE id = $1", {id, problem});
      if (!s.ok()) return s.status();
      continue;
    }
    if (all_ended) {
      if (auto s = finish(any_failed ? "failed" : "success",
                          any_failed ? "some DAG runs failed in Airflow" : "");
          !s.ok()) {
        return s;
      }
    }
  }
  return absl::OkStatus();
}

}  // namespace optimus::dispatcher
