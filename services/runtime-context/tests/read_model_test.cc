// The read model on a real SQLite database: records of the compacted topics build it, a run
// input comes from it, a restart loads the same, and deletes remove jobs.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <httplib.h>
#include <prometheus/registry.h>

#include <nlohmann/json.hpp>

#include "google/protobuf/util/message_differencer.h"
#include "google/protobuf/util/time_util.h"
#include "optimus/pipeline/pipeline.h"
#include "optimus/runtime_context/job_runs.h"
#include "optimus/runtime_context/runtime_context_service.h"
#include "optimus/store/migrations.h"
#include "optimus/store/sqlite_database.h"
#include "optimus/testing/testing.h"

namespace optimus::runtime_context {
namespace {

class ReadModelTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto db = store::OpenDatabase("sqlite:" + dir_.File("rc.db"), "runtime_context");
    ASSERT_TRUE(db.ok()) << db.status();
    db_ = *std::move(db);
    ASSERT_TRUE(store::ApplyMigrations(*db_, "store", store::CoreMigrations()).ok());
    ASSERT_TRUE(
        store::ApplyMigrations(*db_, "runtime-context", RuntimeContextService().Migrations()).ok());
  }

  absl::Status Feed(const bus::Message& m) {
    return db_->InTransaction([&](store::Transaction& tx) { return model_.Apply(tx, m); });
  }

  static bus::Message Spec(const std::string& name, const std::string& sql, int64_t version = 1) {
    events::v1::JobSpecRecord r;
    r.set_project("acme");
    r.set_namespace_("finance");
    r.set_name(name);
    r.set_version(version);
    r.set_spec_yaml("version: 3\nname: " + name +
                    "\nowner: o@acme.com\nschedule:\n  start_date: \"2024-01-01\"\n  interval: "
                    "\"0 2 * * *\"\ntask:\n  name: bq2bq\n  config:\n    PROJECT: "
                    "\"{{.GLOBAL__GCP_PROJECT}}\"\n  window:\n    preset: yesterday\n");
    auto* a = r.add_assets();
    a->set_name("query.sql");
    a->set_inline_(sql);
    return bus::Message{pipeline::kJobSpecsTopic, "acme/" + name, r.SerializeAsString()};
  }

  static bus::Message Project() {
    events::v1::ProjectRecord p;
    p.set_name("acme");
    (*p.mutable_config())["GCP_PROJECT"] = "acme-prod";
    p.add_namespaces()->set_name("finance");
    p.set_presets_yaml(
        "presets:\n  yesterday:\n    description: the day before\n    window:\n      size: 1d\n"
        "      shift_by: -1d\n");
    return bus::Message{pipeline::kProjectsTopic, "acme", p.SerializeAsString()};
  }

  static bus::Message Resolution(const std::string& name, const std::string& destination) {
    events::v1::JobResolution r;
    r.set_project("acme");
    r.set_name(name);
    r.set_destination(destination);
    return bus::Message{pipeline::kResolutionsTopic, "acme/" + name, r.SerializeAsString()};
  }

  static core::v1::JobRunInputRequest Request(const std::string& job) {
    core::v1::JobRunInputRequest r;
    r.set_project_name("acme");
    r.set_job_name(job);
    *r.mutable_scheduled_at() =
        google::protobuf::util::TimeUtil::SecondsToTimestamp(1678154400);  // 2023-03-07T02:00:00Z
    r.set_instance_name("bq2bq");
    r.set_instance_type(core::v1::JobRunInputRequest::TYPE_TASK);
    return r;
  }

  testing::TempDir dir_;
  std::unique_ptr<store::Database> db_;
  ReadModel model_;
};

TEST_F(ReadModelTest, RecordsBuildTheRunInputAndARestartLoadsTheSame) {
  ASSERT_TRUE(Feed(Project()).ok());
  ASSERT_TRUE(Feed(Spec("revenue", "select '{{.DSTART}}'")).ok());
  ASSERT_TRUE(Feed(Resolution("revenue", "bigquery://acme-prod:fin.revenue")).ok());
  auto in = model_.RunInput(Request("revenue"));
  ASSERT_TRUE(in.ok()) << in.status();
  // The project's preset: the day before yesterday to yesterday.
  EXPECT_EQ(in->envs().at("DSTART"), "2023-03-05T00:00:00Z");
  EXPECT_EQ(in->envs().at("DEND"), "2023-03-06T00:00:00Z");
  EXPECT_EQ(in->envs().at("PROJECT"), "acme-prod");
  EXPECT_EQ(in->envs().at("JOB_DESTINATION"), "bigquery://acme-prod:fin.revenue");
  EXPECT_EQ(in->files().at("query.sql"), "select '2023-03-05T00:00:00Z'");

  ReadModel restarted;
  ASSERT_TRUE(restarted.Load(*db_).ok());
  auto again = restarted.RunInput(Request("revenue"));
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_TRUE(google::protobuf::util::MessageDifferencer::Equals(*again, *in));
}

TEST_F(ReadModelTest, NewerVersionsWinDeletesRemoveAndUnknownsAreNamed) {
  ASSERT_TRUE(Feed(Project()).ok());
  ASSERT_TRUE(Feed(Spec("revenue", "v2", 2)).ok());
  ASSERT_TRUE(Feed(Spec("revenue", "v1", 1)).ok());  // late and older: ignored
  EXPECT_EQ(model_.RunInput(Request("revenue"))->files().at("query.sql"), "v2");
  bus::Message gone{pipeline::kJobSpecsTopic, "acme/revenue", ""};
  gone.tombstone = true;
  ASSERT_TRUE(Feed(gone).ok());
  auto in = model_.RunInput(Request("revenue"));
  EXPECT_EQ(in.status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(in.status().message(), "no job revenue in project acme");
  ReadModel restarted;
  ASSERT_TRUE(restarted.Load(*db_).ok());
  EXPECT_EQ(restarted.jobs(), 0u);

  ASSERT_TRUE(Feed(Spec("revenue", "v3", 3)).ok());
  auto no_time = Request("revenue");
  no_time.clear_scheduled_at();
  EXPECT_EQ(model_.RunInput(no_time).status().code(), absl::StatusCode::kInvalidArgument);
  auto hook = Request("revenue");
  hook.set_instance_type(core::v1::JobRunInputRequest::TYPE_HOOK);
  hook.set_instance_name("transporter");
  EXPECT_EQ(model_.RunInput(hook).status().message(),
            "job revenue has no hook \"transporter\" (it has none)");
}

TEST_F(ReadModelTest, IntervalAndWindowRoutesAnswerAsOptimus) {
  ASSERT_TRUE(Feed(Project()).ok());
  ASSERT_TRUE(Feed(Spec("revenue", "select 1")).ok());
  prometheus::Registry registry;
  rpc::HttpServer server(
      rpc::HttpServerOptions{.host = "127.0.0.1", .port = 0, .threads = 2, .metrics = &registry});
  AddWindowRoutes(server, model_);
  ASSERT_TRUE(server.Start().ok());
  httplib::Client client("127.0.0.1", server.port());
  auto get = [&](const std::string& path) {
    auto r = client.Get(path);
    EXPECT_TRUE(r) << path;
    return r ? std::make_pair(r->status, r->body) : std::make_pair(0, std::string());
  };
  // The project's preset "yesterday": size 1d, shift_by -1d.
  EXPECT_EQ(
      get("/api/v1beta1/project/acme/job/revenue/interval?reference_time=2023-03-07T02:00:00Z"),
      std::make_pair(
          200,
          std::string(R"({"startTime":"2023-03-05T00:00:00Z","endTime":"2023-03-06T00:00:00Z"})")));
  auto [code, body] =
      get("/api/v1beta1/project/acme/job/nope/interval?reference_time=2023-03-07T02:00:00Z");
  EXPECT_EQ(code, 404);
  EXPECT_THAT(body, ::testing::HasSubstr("no job nope in project acme"));
  std::tie(code, body) = get("/api/v1beta1/project/acme/job/revenue/interval?reference_time=soon");
  EXPECT_EQ(code, 400);
  EXPECT_THAT(body, ::testing::HasSubstr("reference_time must be an RFC 3339 time"));
  // The older GetWindow: v1 by default (size 24h, truncated to the day), v3 when asked.
  EXPECT_EQ(
      get("/api/v1beta1/window?scheduled_at=2023-03-07T02:00:00Z&size=24h&truncate_to=d"),
      std::make_pair(
          200, std::string(R"({"start":"2023-03-06T00:00:00Z","end":"2023-03-07T00:00:00Z"})")));
  EXPECT_EQ(
      get("/api/v1beta1/window?scheduled_at=2023-03-07T02:00:00Z&size=1M&version=3"),
      std::make_pair(
          200, std::string(R"({"start":"2023-02-01T00:00:00Z","end":"2023-03-01T00:00:00Z"})")));
  std::tie(code, body) = get("/api/v1beta1/window?scheduled_at=2023-03-07T02:00:00Z&version=4");
  EXPECT_EQ(code, 400);
  EXPECT_THAT(body, ::testing::HasSubstr("version is 1, 2 or 3"));
  EXPECT_TRUE(server.Stop(std::chrono::seconds(5)).ok());
}

TEST_F(ReadModelTest, ThirdPartySensorAnswersFromTheRunsOfTheResourcesWriter) {
  ASSERT_TRUE(Feed(Project()).ok());
  ASSERT_TRUE(Feed(Spec("acme.fin.daily", "select 1")).ok());
  ASSERT_TRUE(Feed(Spec("acme.fin.report", "select 2")).ok());
  ASSERT_TRUE(Feed(Resolution("acme.fin.daily", "bigquery://acme:fin.daily")).ok());
  prometheus::Registry registry;
  rpc::HttpServer server(
      rpc::HttpServerOptions{.host = "127.0.0.1", .port = 0, .threads = 2, .metrics = &registry});
  AddThirdPartySensorRoute(server, model_, *db_);
  ASSERT_TRUE(server.Start().ok());
  httplib::Client client("127.0.0.1", server.port());
  const std::string path = "/api/v1beta1/project/acme/job/acme.fin.report/third-party-sensor";
  auto put = [&](const nlohmann::json& body) {
    auto r = client.Put(path, body.dump(), "application/json");
    EXPECT_TRUE(r);
    return r ? std::make_pair(r->status, r->body) : std::make_pair(0, std::string());
  };
  // As Optimus's helper sends it; the report's window at 03-07T02:00 is [03-05, 03-06) (preset
  // yesterday), where the daily writer has one run, scheduled 03-05T02:00.
  const nlohmann::json ask = {
      {"scheduled_at", "2024-03-07T02:00:00Z"},
      {"third_party_type", "dex"},
      {"dex_sensor_request", {{"resource_urn", "bigquery://acme:fin.daily"}}}};
  EXPECT_EQ(put(ask), std::make_pair(200, std::string(R"({"dexSensorResponse":{"isComplete":false,)"
                                                      R"("log":[{"date":"2024-03-05T02:00:00Z",)"
                                                      R"("isComplete":false}]}})")));
  store::Outbox outbox("optimus/runtime-context");
  for (const char* type : {"TYPE_TASK_START", "TYPE_JOB_SUCCESS"}) {
    auto event = ParseJobEvent({{"event",
                                 {{"type", type},
                                  {"value",
                                   {{"status", "success"},
                                    {"event_time", 1709604000.5},
                                    {"task_id", "bq2bq"},
                                    {"scheduled_at", "2024-03-05T02:00:00Z"}}}}}});
    ASSERT_TRUE(event.ok()) << event.status();
    event->set_project("acme");
    event->set_namespace_("finance");
    event->set_job("acme.fin.daily");
    ASSERT_TRUE(RecordJobEvent(*db_, outbox, *event).ok());
  }
  auto [code, body] = put({{"scheduledAt", "2024-03-07T02:00:00Z"},  // grpc-gateway's names too
                           {"thirdPartyType", "dex"},
                           {"dexSensorRequest", {{"resourceUrn", "bigquery://acme:fin.daily"}}}});
  EXPECT_EQ(code, 200);
  EXPECT_TRUE(nlohmann::json::parse(body)["dexSensorResponse"]["isComplete"].get<bool>()) << body;

  // Data no job of the project writes: 503, which the sensor's SOFT_5XX mode treats as an outage.
  auto elsewhere = ask;
  elsewhere["dex_sensor_request"]["resource_urn"] = "bigquery://vendor:fx.rates";
  std::tie(code, body) = put(elsewhere);
  EXPECT_EQ(code, 503);
  EXPECT_THAT(body,
              ::testing::HasSubstr("no data-completeness source for bigquery://vendor:fx.rates"));
  // Bad requests name what is wrong.
  auto other_type = ask;
  other_type["third_party_type"] = "hive";
  EXPECT_THAT(put(other_type).second, ::testing::HasSubstr("invalid third party type \\\"hive"));
  auto no_dex = ask;
  no_dex.erase("dex_sensor_request");
  EXPECT_EQ(put(no_dex).first, 400);
  auto bad_urn = ask;
  bad_urn["dex_sensor_request"]["resource_urn"] = "fin.daily";
  EXPECT_THAT(put(bad_urn).second, ::testing::HasSubstr("must be a resource URN"));
  auto bad_time = ask;
  bad_time["scheduled_at"] = "yesterday";
  EXPECT_THAT(put(bad_time).second, ::testing::HasSubstr("scheduled_at must be an RFC 3339 time"));
  EXPECT_EQ(client
                .Put("/api/v1beta1/project/acme/job/nope/third-party-sensor", ask.dump(),
                     "application/json")
                ->status,
            404);
  EXPECT_EQ(client.Put(path, "{", "application/json")->status, 400);
  EXPECT_TRUE(server.Stop(std::chrono::seconds(5)).ok());
}

bus::Message Secret(const secrets::SecretBox& box, const std::string& name,
                    const std::string& value, const std::string& ns = "") {
  events::v1::SecretRecord r;
  r.set_project("acme");
  r.set_namespace_(ns);
  r.set_name(name);
  r.set_sealed(*box.Seal(value));
  r.set_digest(secrets::Digest(r.sealed()));
  return bus::Message{pipeline::kSecretsTopic, "acme/" + name, r.SerializeAsString()};
}

TEST_F(ReadModelTest, JobSpecRoutesAnswerTheSensorsOnTheRuntimeHost) {
  ASSERT_TRUE(Feed(Project()).ok());
  ASSERT_TRUE(Feed(Spec("acme.fin.daily", "select 1")).ok());
  ASSERT_TRUE(Feed(Spec("acme.fin.weekly", "select 2")).ok());
  ASSERT_TRUE(Feed(Resolution("acme.fin.daily", "bigquery://acme:fin.daily")).ok());
  prometheus::Registry registry;
  rpc::HttpServer server(
      rpc::HttpServerOptions{.host = "127.0.0.1", .port = 0, .threads = 2, .metrics = &registry});
  AddJobSpecRoutes(server, model_);
  ASSERT_TRUE(server.Start().ok());
  httplib::Client client("127.0.0.1", server.port());

  auto one = client.Get("/api/v1beta1/project/acme/namespace/finance/job/acme.fin.daily");
  ASSERT_EQ(one->status, 200) << one->body;
  auto spec = nlohmann::json::parse(one->body)["spec"];
  EXPECT_EQ(spec["name"], "acme.fin.daily");
  EXPECT_EQ(spec["interval"], "0 2 * * *") << "what upstream sensors read";
  EXPECT_EQ(spec["destination"], "bigquery://acme:fin.daily");
  EXPECT_EQ(spec["assets"]["query.sql"], "select 1");
  EXPECT_EQ(client.Get("/api/v1beta1/project/acme/namespace/other/job/acme.fin.daily")->status,
            404);
  EXPECT_EQ(client.Get("/api/v1beta1/project/acme/namespace/finance/job/nope")->status, 404);

  auto all = client.Get("/api/v1beta1/jobs?project_name=acme&ignore_assets=true");
  ASSERT_EQ(all->status, 200) << all->body;
  auto responses = nlohmann::json::parse(all->body)["jobSpecificationResponses"];
  ASSERT_EQ(responses.size(), 2u);
  EXPECT_EQ(responses[0]["namespaceName"], "finance");
  EXPECT_EQ(responses[1]["job"]["name"], "acme.fin.weekly");
  EXPECT_TRUE(responses[1]["job"]["assets"].empty());
  auto named = client.Get("/api/v1beta1/jobs?project_name=acme&job_name=acme.fin.weekly");
  EXPECT_EQ(nlohmann::json::parse(named->body)["jobSpecificationResponses"].size(), 1u);
  EXPECT_EQ(client.Get("/api/v1beta1/jobs")->status, 400);

  rpc::HttpServer shared(
      rpc::HttpServerOptions{.host = "127.0.0.1", .port = 0, .metrics = &registry});
  shared.Get("/api/v1beta1/jobs",
             [](const rpc::HttpRequest&) { return rpc::HttpResponse::Json("{}"); });
  AddJobSpecRoutes(shared, model_);  // a path served already is left alone (no abort)
  EXPECT_TRUE(shared.Has(
      "GET", "/api/v1beta1/project/{project_name}/namespace/{namespace_name}/job/{job_name}"));
  server.Stop(std::chrono::seconds(1)).IgnoreError();
}

TEST_F(ReadModelTest, SecretsOfTheProjectAndTheJobsNamespaceReachTheRunInput) {
  const auto box = *secrets::SecretBox::FromAppKey("0123456789abcdef0123456789abcdef");
  ReadModel model(nullptr, box);
  auto feed = [&](const bus::Message& m) {
    return db_->InTransaction([&](store::Transaction& tx) { return model.Apply(tx, m); });
  };
  ASSERT_TRUE(feed(Project()).ok());
  bus::Message spec = Spec("revenue", "select 1");
  events::v1::JobSpecRecord r;
  r.ParseFromString(spec.payload);
  std::string yaml = r.spec_yaml();
  yaml.insert(yaml.find("  window:"),
              "    SA: \"{{.secret.BQ_SA}}\"\n    OTHER: \"{{.secret.SALES_ONLY}}\"\n");
  r.set_spec_yaml(yaml);
  spec.payload = r.SerializeAsString();
  ASSERT_TRUE(feed(spec).ok());
  ASSERT_TRUE(feed(Secret(box, "BQ_SA", "it's {secret}")).ok());
  ASSERT_TRUE(feed(Secret(box, "SALES_ONLY", "not for finance", "sales")).ok());
  auto in = model.RunInput(Request("revenue"));
  ASSERT_TRUE(in.ok()) << in.status();
  EXPECT_EQ(in->secrets().at("SA"), "it's {secret}");
  EXPECT_EQ(in->secrets().at("OTHER"), "<no value>");  // another namespace's secret
  EXPECT_EQ(in->envs().count("SA"), 0u);
  // A restart opens the same; a server with another app key says why it cannot.
  ReadModel restarted(nullptr, box);
  ASSERT_TRUE(restarted.Load(*db_).ok());
  EXPECT_EQ(restarted.RunInput(Request("revenue"))->secrets().at("SA"), "it's {secret}");
  ReadModel other(nullptr, *secrets::SecretBox::FromAppKey("ffffffffffffffffffffffffffffffff"));
  ASSERT_TRUE(other.Load(*db_).ok());
  auto refused = other.RunInput(Request("revenue"));
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(std::string(refused.status().message()),
              ::testing::HasSubstr("secret BQ_SA of project acme does not open"));
  // Deleted: gone from the next run input.
  bus::Message gone{pipeline::kSecretsTopic, "acme/BQ_SA", ""};
  gone.tombstone = true;
  ASSERT_TRUE(feed(gone).ok());
  EXPECT_EQ(model.RunInput(Request("revenue"))->secrets().at("SA"), "<no value>");
}

}  // namespace
}  // namespace optimus::runtime_context
