// Optimus's third-party (Dex) sensor route, answered from the runs of the job that writes the
// resource. Optimus asks an external data-completeness service; this server knows the data its own
// jobs produce, and says plainly that it cannot vouch for anything else.
#include <string>

#include "absl/strings/str_cat.h"
#include "nlohmann/json.hpp"
#include "optimus/rpc/http_server.h"
#include "optimus/rpc/timestamps.h"
#include "optimus/runtime_context/job_runs.h"
#include "optimus/runtime_context/runtime_context_service.h"
#include "optimus/schedule/time_util.h"

namespace optimus::runtime_context {
namespace {

// A field of the body under its proto name or grpc-gateway's JSON name; "" when absent.
const nlohmann::json* Field(const nlohmann::json& body, const char* proto_name,
                            const char* json_name) {
  if (!body.is_object()) return nullptr;
  for (const char* name : {proto_name, json_name}) {
    if (auto it = body.find(name); it != body.end() && !it->is_null()) return &*it;
  }
  return nullptr;
}

absl::StatusOr<std::string> StringField(const nlohmann::json& body, const char* proto_name,
                                        const char* json_name) {
  const nlohmann::json* value = Field(body, proto_name, json_name);
  if (value == nullptr) return std::string();
  if (!value->is_string())
    return absl::InvalidArgumentError(std::string(proto_name) + " must be a string");
  return value->get<std::string>();
}

struct SensorRequest {
  absl::Time scheduled_at;
  std::string resource_urn;
};

absl::StatusOr<SensorRequest> ParseSensorRequest(const std::string& text) {
  auto body = nlohmann::json::parse(text, nullptr, false);
  if (body.is_discarded() || !body.is_object()) {
    return absl::InvalidArgumentError("the body is not a JSON object");
  }
  auto type = StringField(body, "third_party_type", "thirdPartyType");
  if (!type.ok()) return type.status();
  if (*type != "dex") {
    return absl::InvalidArgumentError("invalid third party type \"" + *type +
                                      "\": this server knows \"dex\"");
  }
  auto when = StringField(body, "scheduled_at", "scheduledAt");
  if (!when.ok()) return when.status();
  SensorRequest request;
  auto at = schedule::ParseRfc3339(*when);
  if (!at.ok()) {
    return absl::InvalidArgumentError(
        "scheduled_at must be an RFC 3339 time (e.g. 2024-03-07T02:00:00Z), got \"" + *when + "\"");
  }
  if (absl::Status s = rpc::CheckTime(*at, "scheduled_at"); !s.ok()) return s;
  request.scheduled_at = *at;
  const nlohmann::json* dex = Field(body, "dex_sensor_request", "dexSensorRequest");
  if (dex == nullptr || !dex->is_object()) {
    return absl::InvalidArgumentError("dex_sensor_request is required for third party type dex");
  }
  auto urn = StringField(*dex, "resource_urn", "resourceUrn");
  if (!urn.ok()) return urn.status();
  if (urn->find("://") == std::string::npos || urn->ends_with("://")) {
    return absl::InvalidArgumentError(
        "dex_sensor_request.resource_urn must be a resource URN such as "
        "bigquery://project:dataset.table, got \"" +
        *urn + "\"");
  }
  request.resource_urn = *std::move(urn);
  return request;
}

}  // namespace

void AddThirdPartySensorRoute(rpc::HttpServer& http, const ReadModel& model, store::Database& db) {
  http.Put(
      "/api/v1beta1/project/{project_name}/job/{job_name}/third-party-sensor",
      [&model, &db](const rpc::HttpRequest& request) {
        const std::string& project = request.PathParam("project_name");
        auto parsed = ParseSensorRequest(request.body());
        if (!parsed.ok()) return rpc::HttpResponse::Error(parsed.status());
        // The window the data must cover: the asking job's, at the run's scheduled time.
        auto window = model.Interval(project, request.PathParam("job_name"), parsed->scheduled_at);
        if (!window.ok()) return rpc::HttpResponse::Error(window.status());
        auto writer = model.WriterOf(project, parsed->resource_urn);
        if (writer.status().code() == absl::StatusCode::kNotFound) {
          return rpc::HttpResponse::Error(absl::UnavailableError(absl::StrCat(
              "no data-completeness source for ", parsed->resource_urn, ": no job of project ",
              project,
              " writes it, and this server does not know the completeness of data produced "
              "elsewhere")));
        }
        if (!writer.ok()) return rpc::HttpResponse::Error(writer.status());
        auto runs = JobRuns(db, project, *writer->second, window->start, window->end);
        if (!runs.ok()) return rpc::HttpResponse::Error(runs.status());
        bool complete = true;
        nlohmann::json log = nlohmann::json::array();
        for (const ExpectedRun& run : *runs) {
          const bool done = run.state == "success";
          complete = complete && done;
          log.push_back({{"date", schedule::FormatRfc3339(run.scheduled_at, absl::UTCTimeZone())},
                         {"isComplete", done}});
        }
        return rpc::HttpResponse::Json(
            nlohmann::json{{"dexSensorResponse", {{"isComplete", complete}, {"log", log}}}}.dump());
      });
}

}  // namespace optimus::runtime_context
