// The dispatcher's REST routes (docs/execution.md), answered in grpc-gateway's JSON shape from
// the same Dispatcher the gRPC services use. The HTTP server has checked the caller already.
#include "absl/strings/numbers.h"
#include "apis.h"
#include "google/protobuf/util/time_util.h"
#include "optimus/dispatcher/scheduler.h"
#include "optimus/rpc/proto_json.h"

namespace optimus::dispatcher {
namespace {

using rpc::HttpRequest;
using rpc::HttpResponse;

template <typename T>
HttpResponse Reply(const absl::StatusOr<T>& result) {
  if (!result.ok()) return HttpResponse::Error(result.status());
  return rpc::ProtoResponse(*result);
}

absl::StatusOr<int64_t> IntQuery(const HttpRequest& request, const std::string& name) {
  const std::string text = request.Query(name);
  int64_t value = 0;
  if (text.empty()) return 0;
  if (!absl::SimpleAtoi(text, &value)) {
    return absl::InvalidArgumentError(name + " must be a whole number, got \"" + text + "\"");
  }
  return value;
}

}  // namespace

void AddRestRoutes(rpc::HttpServer& http, Dispatcher& d) {
  constexpr char kProject[] = "/api/v1beta1/project/{project_name}";
  const std::string project(kProject);
  http.Post(project + "/job/{job_name}/execute", [&d](const HttpRequest& request) {
    auto body = rpc::ParseJsonBody<core::v1::ExecuteJobRequest>(request.body());
    if (!body.ok()) return HttpResponse::Error(body.status());
    body->set_project_name(request.PathParam("project_name"));
    body->set_job_name(request.PathParam("job_name"));
    return Reply(d.ExecuteJob(*body, "rest"));
  });
  http.Get(project + "/executions", [&d](const HttpRequest& request) {
    auto limit = IntQuery(request, "limit");
    if (!limit.ok()) return HttpResponse::Error(limit.status());
    ListFilter filter{.project = request.PathParam("project_name"),
                      .name = request.Query("name"),
                      .states = request.QueryAll("state"),
                      .limit = static_cast<int32_t>(*limit),
                      .before_id = request.Query("before_id")};
    auto list = d.executions().List(filter);
    if (!list.ok()) return HttpResponse::Error(list.status());
    core::v1::ListExecutionsResponse out;
    for (auto& e : *list) *out.add_executions() = std::move(e);
    return rpc::ProtoResponse(out);
  });
  http.Get(project + "/scheduled-runs", [&d](const HttpRequest& request) {
    auto limit = IntQuery(request, "limit");
    if (!limit.ok()) return HttpResponse::Error(limit.status());
    core::v1::ListScheduledRunsRequest req;
    req.set_project_name(request.PathParam("project_name"));
    req.set_job_name(request.Query("job_name"));
    req.set_state(request.Query("state"));
    req.set_limit(static_cast<int32_t>(*limit));
    return Reply(ListScheduledRuns(d.db(), req));
  });
  http.Get(project + "/executions/{id}", [&d](const HttpRequest& request) {
    return Reply(d.executions().Get(request.PathParam("project_name"), request.PathParam("id")));
  });
  http.Post(project + "/executions/{id}/cancel", [&d](const HttpRequest& request) {
    return Reply(
        d.executions().Cancel(request.PathParam("project_name"), request.PathParam("id"), d.Now()));
  });
  http.Get(project + "/executions/{id}/logs", [&d](const HttpRequest& request) {
    auto attempt = IntQuery(request, "attempt");
    if (!attempt.ok()) return HttpResponse::Error(attempt.status());
    auto after = IntQuery(request, "after_chunk");
    if (!after.ok()) return HttpResponse::Error(after.status());
    core::v1::ReadLogsRequest ask;
    ask.set_project_name(request.PathParam("project_name"));
    ask.set_id(request.PathParam("id"));
    ask.set_attempt(static_cast<int32_t>(*attempt));
    ask.set_after_chunk(*after);
    auto read = d.ReadLogs(ask);
    if (!read.ok()) return HttpResponse::Error(read.status());
    // Plain text for people and curl; where the next read starts and the state in headers.
    HttpResponse out = HttpResponse::Text(read->data());
    out.headers.emplace_back("X-Optimus-Last-Chunk", std::to_string(read->last_chunk()));
    out.headers.emplace_back("X-Optimus-Attempt", std::to_string(read->attempt()));
    out.headers.emplace_back("X-Optimus-State", read->state());
    return out;
  });
  http.Post(project + "/catalog/tasks/{task_name}/execute", [&d](const HttpRequest& request) {
    auto body = rpc::ParseJsonBody<core::v1::ExecuteTaskRequest>(request.body());
    if (!body.ok()) return HttpResponse::Error(body.status());
    body->set_project_name(request.PathParam("project_name"));
    body->set_task_name(request.PathParam("task_name"));
    return Reply(d.ExecuteTask(*body, "rest"));
  });
  http.Get("/api/v1beta1/catalog/tasks", [&d](const HttpRequest&) {
    auto tasks = d.catalog().List();
    if (!tasks.ok()) return HttpResponse::Error(tasks.status());
    core::v1::ListTasksResponse out;
    for (auto& t : *tasks) *out.add_tasks() = std::move(t);
    return rpc::ProtoResponse(out);
  });
  http.Get("/api/v1beta1/catalog/tasks/{task_name}", [&d](const HttpRequest& request) {
    return Reply(d.catalog().Get(request.PathParam("task_name")));
  });
  http.Post("/api/v1beta1/catalog/tasks", [&d](const HttpRequest& request) {
    auto body = rpc::ParseJsonBody<core::v1::CreateTaskRequest>(request.body());
    if (!body.ok()) return HttpResponse::Error(body.status());
    return Reply(d.catalog().Create(body->task(), body->replace(), d.Now()));
  });
  http.Get("/api/v1beta1/executors", [&d](const HttpRequest&) { return Reply(ExecutorsOf(d)); });
  http.Post("/api/v1beta1/executors/registration_tokens", [&d](const HttpRequest& request) {
    auto body = rpc::ParseJsonBody<core::v1::CreateRegistrationTokenRequest>(request.body());
    if (!body.ok()) return HttpResponse::Error(body.status());
    if (body->valid_seconds() < 0) {
      return HttpResponse::Error(absl::InvalidArgumentError("validSeconds is negative"));
    }
    auto token = d.executors().CreateRegistrationToken(body->valid_seconds() > 0
                                                           ? body->valid_seconds() * 1000
                                                           : d.options().registration_token_ms,
                                                       body->description(), d.Now());
    if (!token.ok()) return HttpResponse::Error(token.status());
    core::v1::CreateRegistrationTokenResponse out;
    out.set_token(token->token);
    *out.mutable_expires_at() =
        google::protobuf::util::TimeUtil::MillisecondsToTimestamp(token->expires_ms);
    return rpc::ProtoResponse(out);
  });
  http.Post("/api/v1beta1/executors/{id}/revoke", [&d](const HttpRequest& request) {
    auto revoked = d.executors().Revoke(request.PathParam("id"), d.Now());
    if (!revoked.ok()) return HttpResponse::Error(revoked.status());
    core::v1::RevokeExecutorResponse out;
    *out.mutable_executor() = ExecutorProto(*revoked, 0);
    return rpc::ProtoResponse(out);
  });
}

void AddReplayRoutes(rpc::HttpServer& http, Replays& replays) {
  const std::string project = "/api/v1beta1/project/{project_name}";
  const auto body = [](const HttpRequest& request) {
    auto parsed = rpc::ParseJsonBody<replay_api::ReplayRequest>(request.body());
    if (parsed.ok()) parsed->set_project_name(request.PathParam("project_name"));
    return parsed;
  };
  http.Post(project + "/replay", [&replays, body](const HttpRequest& request) {
    auto req = body(request);
    if (!req.ok()) return HttpResponse::Error(req.status());
    auto id = replays.Create(*req, "rest");
    if (!id.ok()) return HttpResponse::Error(id.status());
    replay_api::ReplayResponse out;
    out.set_id(*id);
    return rpc::ProtoResponse(out);
  });
  http.Post(project + "/replay-dry-run", [&replays, body](const HttpRequest& request) {
    auto req = body(request);
    if (!req.ok()) return HttpResponse::Error(req.status());
    return Reply(replays.DryRun(*req));
  });
  http.Get(project + "/replay", [&replays](const HttpRequest& request) {
    return Reply(replays.List(request.PathParam("project_name")));
  });
  http.Get(project + "/replay/{replay_id}", [&replays](const HttpRequest& request) {
    return Reply(replays.Get(request.PathParam("project_name"), request.PathParam("replay_id")));
  });
  http.Put(project + "/replay/{replay_id}/cancel", [&replays](const HttpRequest& request) {
    return Reply(replays.Cancel(request.PathParam("project_name"), request.PathParam("replay_id")));
  });
  // Optimus's DAG helper asks this on every sensor poke (snake_case query names; the gateway
  // also takes lowerCamelCase ones).
  http.Get(project + "/replay-details", [&replays](const HttpRequest& request) {
    replay_api::GetReplayDetailsRequest req;
    req.set_project_name(request.PathParam("project_name"));
    const auto either = [&](const char* snake, const char* camel) {
      std::string v = request.Query(snake);
      return v.empty() ? request.Query(camel) : v;
    };
    req.set_replay_id(either("replay_id", "replayId"));
    req.set_status(either("status", "status"));
    for (const char* name : {"job_names", "jobNames"}) {
      for (const std::string& j : request.QueryAll(name)) {
        if (!j.empty()) req.add_job_names(j);
      }
    }
    const std::string at = either("scheduled_at", "scheduledAt");
    if (!at.empty()) {
      google::protobuf::Timestamp ts;
      if (!google::protobuf::util::TimeUtil::FromString(at, &ts)) {
        return HttpResponse::Error(absl::InvalidArgumentError(
            "scheduled_at \"" + at + "\" is not an RFC 3339 time like 2024-01-01T00:00:00Z"));
      }
      *req.mutable_scheduled_at() = ts;
    }
    return Reply(replays.Details(req));
  });
}

}  // namespace optimus::dispatcher
