// The REST routes over loopback, against a DeploymentService that records what it is asked:
// Optimus's JSON in both spellings becomes the right calls, answers come back in Optimus's
// shape, and bad bodies get a 400 that names the field.
#include "optimus/ingest/rest.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <httplib.h>
#include <prometheus/registry.h>

#include <map>
#include <nlohmann/json.hpp>

#include "optimus/ingest/deployments.h"
#include "optimus/ingest/ingest_service.h"
#include "optimus/store/migrations.h"
#include "optimus/testing/testing.h"

namespace optimus::ingest {
namespace {

using nlohmann::json;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

class RecordingService final : public core::v1::DeploymentService::Service {
 public:
  grpc::Status RegisterProject(grpc::ServerContext*, const core::v1::RegisterProjectRequest* req,
                               core::v1::RegisterProjectResponse* resp) override {
    projects.push_back(*req);
    resp->set_deployment_id("dp");
    return grpc::Status::OK;
  }
  grpc::Status RegisterNamespace(grpc::ServerContext*,
                                 const core::v1::RegisterNamespaceRequest* req,
                                 core::v1::RegisterNamespaceResponse* resp) override {
    namespaces.push_back(*req);
    resp->set_deployment_id("dn");
    return grpc::Status::OK;
  }
  grpc::Status ListProjects(grpc::ServerContext*, const core::v1::ListProjectsRequest*,
                            core::v1::ListProjectsResponse* resp) override {
    *resp->add_projects() = held;
    return grpc::Status::OK;
  }
  grpc::Status GetProject(grpc::ServerContext*, const core::v1::GetProjectRequest* req,
                          core::v1::ProjectInfo* resp) override {
    if (req->name() != held.name()) {
      return grpc::Status(grpc::StatusCode::NOT_FOUND, "project " + req->name() + " is unknown");
    }
    *resp = held;
    return grpc::Status::OK;
  }
  grpc::Status Deploy(grpc::ServerContext*, const core::v1::DeployRequest* req,
                      core::v1::DeployResponse* resp) override {
    deploys.push_back(*req);
    resp->set_deployment_id(next_id);
    for (const auto& j : req->jobs()) {
      if (j.name() == "refused") {
        auto* r = resp->add_rejected();
        r->set_job(j.name());
        r->set_error("invalid cron");
      }
    }
    return grpc::Status::OK;
  }

  grpc::Status Validate(grpc::ServerContext*, const core::v1::ValidateRequest* req,
                        core::v1::ValidateResponse* resp) override {
    validations.push_back(*req);
    for (const auto& j : req->jobs()) {
      auto* v = resp->add_jobs();
      v->set_job(j.name());
      auto* ok = v->add_stages();
      ok->set_name("tenant validation");
      ok->set_success(true);
      auto* bad = v->add_stages();
      bad->set_name("plugin validation");
      bad->add_messages("unknown task plugin");
    }
    return grpc::Status::OK;
  }

  core::v1::ProjectInfo held;
  std::string next_id = "dd";
  std::vector<core::v1::RegisterProjectRequest> projects;
  std::vector<core::v1::RegisterNamespaceRequest> namespaces;
  std::vector<core::v1::DeployRequest> deploys;
  std::vector<core::v1::ValidateRequest> validations;
};

class RestTest : public ::testing::Test {
 protected:
  void SetUp() override {
    db_ = *store::OpenDatabase("sqlite:" + dir_.File("ingest.db"), "ingest");
    ASSERT_TRUE(store::ApplyMigrations(*db_, "ingest", IngestService().Migrations()).ok());
    service_.held.set_name("p");
    (*service_.held.mutable_config())["STORAGE_PATH"] = "file:///dags";
    service_.held.add_namespaces()->set_name("ns1");
    server_ = std::make_unique<rpc::HttpServer>(rpc::HttpServerOptions{
        .host = "127.0.0.1", .port = 0, .threads = 2, .metrics = &registry_});
    AddRestRoutes(
        *server_, service_, *db_,
        [this](const core::v1::ListJobSpecsRequest& r) {
          asked_.push_back(r);
          core::v1::ListJobSpecsResponse out;
          for (const auto& j : stored_.jobs()) {
            if ((r.project().empty() || j.project() == r.project()) &&
                (r.namespace_().empty() || j.namespace_() == r.namespace_()) &&
                (r.job().empty() || j.name() == r.job())) {
              *out.add_jobs() = j;
            }
          }
          return out;
        },
        [this](
            const core::v1::GetLineageRequest& r) -> absl::StatusOr<core::v1::GetLineageResponse> {
          auto l = lineages_.find(r.project() + "/" + r.job());
          if (l == lineages_.end()) return absl::NotFoundError("no job " + r.job());
          return l->second;
        });
    ASSERT_TRUE(server_->Start().ok());
    client_ = std::make_unique<httplib::Client>("127.0.0.1", server_->port());
  }

  // Status and parsed body of a request.
  std::pair<int, json> Call(const std::string& method, const std::string& path,
                            const std::string& body = "") {
    httplib::Result r = method == "GET"      ? client_->Get(path)
                        : method == "DELETE" ? client_->Delete(path)
                        : method == "PUT"    ? client_->Put(path, body, "application/json")
                                             : client_->Post(path, body, "application/json");
    EXPECT_TRUE(r) << method << " " << path;
    if (!r) return {0, json()};
    return {r->status, json::parse(r->body, nullptr, false)};
  }

  testing::TempDir dir_;
  std::unique_ptr<store::Database> db_;
  prometheus::Registry registry_;
  RecordingService service_;
  core::v1::ListJobSpecsResponse stored_;  // what the resolver holds
  std::vector<core::v1::ListJobSpecsRequest> asked_;
  std::map<std::string, core::v1::GetLineageResponse> lineages_;  // by project/job
  std::unique_ptr<rpc::HttpServer> server_;
  std::unique_ptr<httplib::Client> client_;
};

TEST_F(RestTest, JobsReadBackAsOptimusJobSpecifications) {
  auto* a = stored_.add_jobs();
  a->set_project("p");
  a->set_namespace_("ns1");
  a->set_name("a");
  a->set_spec_yaml(
      "version: 1\nname: a\nowner: o@x\nschedule:\n  start_date: \"2024-01-01\"\n  interval: "
      "\"0 2 * * *\"\ntask:\n  name: bq2bq\n  config:\n    TABLE: t\n  window:\n    size: 24h\n");
  (*a->mutable_assets())["query.sql"] = "select 1";
  a->set_destination("bigquery://p:d.t");
  a->add_sources("bigquery://p:d.s");
  *stored_.add_jobs() = *a;
  stored_.mutable_jobs(1)->set_name("b");
  stored_.mutable_jobs(1)->set_namespace_("ns2");
  stored_.mutable_jobs(1)->set_spec_yaml("name: b\n");

  auto [code, body] = Call("GET", "/api/v1beta1/project/p/namespace/ns1/job/a");
  ASSERT_EQ(code, 200) << body;
  const json& spec = body["spec"];
  EXPECT_EQ(spec["name"], "a");
  EXPECT_EQ(spec["version"], 1);
  EXPECT_EQ(spec["startDate"], "2024-01-01");
  EXPECT_EQ(spec["interval"], "0 2 * * *");
  EXPECT_EQ(spec["taskName"], "bq2bq");
  EXPECT_EQ(spec["windowSize"], "24h");
  EXPECT_EQ(spec["config"][0]["name"], "TABLE");
  EXPECT_EQ(spec["assets"]["query.sql"], "select 1");
  EXPECT_EQ(spec["destination"], "bigquery://p:d.t");
  EXPECT_THAT(spec["sources"], ElementsAre("bigquery://p:d.s"));
  EXPECT_EQ(spec["dependsOnPast"], false);  // defaults printed, as grpc-gateway does

  std::tie(code, body) = Call("GET", "/api/v1beta1/project/p/namespace/ns2/job/a");
  EXPECT_EQ(code, 404);
  EXPECT_EQ(body["message"], "no job a in namespace ns2 of project p");

  std::tie(code, body) = Call("GET", "/api/v1beta1/project/p/namespace/ns1/job?ignore_assets=true");
  ASSERT_EQ(code, 200) << body;
  ASSERT_EQ(body["jobs"].size(), 1u);
  EXPECT_EQ(body["jobs"][0]["name"], "a");
  EXPECT_TRUE(body["jobs"][0]["assets"].empty());

  std::tie(code, body) = Call("GET", "/api/v1beta1/jobs?project_name=p");
  ASSERT_EQ(code, 200) << body;
  const json& found = body["jobSpecificationResponses"];
  ASSERT_EQ(found.size(), 2u);
  EXPECT_EQ(found[1]["namespaceName"], "ns2");
  EXPECT_EQ(found[1]["job"]["name"], "b");
  EXPECT_EQ(asked_.back().project(), "p");
  EXPECT_EQ(asked_.back().job(), "");
}

TEST_F(RestTest, AJobIsInspectedInOptimusShape) {
  auto* a = stored_.add_jobs();
  a->set_project("p");
  a->set_namespace_("ns1");
  a->set_name("a");
  a->set_spec_yaml(
      "version: 1\nname: a\nowner: o@x\nschedule:\n  start_date: \"2024-01-01\"\n  interval: "
      "\"0 2 * * *\"\ntask:\n  name: bq2bq\n  config:\n    TABLE: t\n  window:\n    size: 24h\n"
      "dependencies:\n- http:\n    name: feed\n    url: https://feed.example/ready\n");
  core::v1::GetLineageResponse& l = lineages_["p/a"];
  l.set_namespace_("ns1");
  l.set_destination("bigquery://p:d.a");
  l.add_sources("bigquery://p:d.up");
  l.add_sources("bigquery://raw:e.events");
  auto* up = l.add_upstreams();
  up->set_project("p");
  up->set_namespace_("ns2");
  up->set_name("up");
  up->set_via("bigquery://p:d.up");
  auto* down = l.add_downstreams();
  down->set_project("q");
  down->set_namespace_("n");
  down->set_name("reader");
  l.add_unknown_sources("bigquery://raw:e.events");
  l.add_unknown_upstreams("p/gone");
  l.add_shared_destination("p/other");

  auto [code, body] =
      Call("POST", "/api/v1beta1/project/p/namespace/ns1/job/inspect", R"({"jobName": "a"})");
  ASSERT_EQ(code, 200) << body;
  const json& basic = body["basicInfo"];
  EXPECT_EQ(basic["job"]["name"], "a");
  EXPECT_EQ(basic["destination"], "bigquery://p:d.a");
  EXPECT_THAT(basic["source"], ElementsAre("bigquery://p:d.up", "bigquery://raw:e.events"));
  ASSERT_EQ(basic["notice"].size(), 1u);
  EXPECT_EQ(basic["notice"][0]["level"], "LEVEL_WARNING");
  EXPECT_EQ(basic["notice"][0]["message"],
            "bigquery://p:d.a is also written by p/other; jobs reading it depend on all of its "
            "writers");
  const json& ups = body["upstreams"];
  ASSERT_EQ(ups["internalDependency"].size(), 1u);
  EXPECT_EQ(ups["internalDependency"][0],
            json({{"name", "up"}, {"projectName", "p"}, {"namespaceName", "ns2"}}));
  EXPECT_TRUE(ups["externalDependency"].empty());
  ASSERT_EQ(ups["httpDependency"].size(), 1u);
  EXPECT_EQ(ups["httpDependency"][0]["url"], "https://feed.example/ready");
  EXPECT_EQ(ups["unknownDependencies"],
            json::parse(R"([{"resourceDestination": "bigquery://raw:e.events"},
                            {"jobName": "gone", "projectName": "p"}])"));
  EXPECT_EQ(body["downstreams"]["downstreamJobs"][0],
            json({{"name", "reader"}, {"projectName", "q"}, {"namespaceName", "n"}}));

  // A spec in the body is named, not resolved: the answer says whose lineage it is.
  std::tie(code, body) = Call("POST", "/api/v1beta1/project/p/namespace/ns1/job/inspect",
                              R"({"spec": {"name": "a", "taskName": "bq2bq"}})");
  ASSERT_EQ(code, 200) << body;
  EXPECT_EQ(body["basicInfo"]["notice"][0]["level"], "LEVEL_WARNING");
  EXPECT_THAT(body["basicInfo"]["notice"][0]["message"].get<std::string>(),
              ::testing::HasSubstr("lineage of a as deployed"));

  std::tie(code, body) =
      Call("POST", "/api/v1beta1/project/p/namespace/ns2/job/inspect", R"({"job_name": "a"})");
  EXPECT_EQ(code, 404);
  EXPECT_EQ(body["message"], "no job a in namespace ns2 of project p");
  std::tie(code, body) = Call("POST", "/api/v1beta1/project/p/namespace/ns1/job/inspect", "{}");
  EXPECT_EQ(code, 400);
  EXPECT_EQ(body["message"], "jobName: expected the job to inspect");
}

TEST_F(RestTest, ValidateTakesSpecsOrStoredNamesAndAnswersStageByStage) {
  auto [code, body] = Call("POST", "/api/v1beta1/project/p/namespace/ns1/job/validate",
                           R"({"fromOutside": {"jobs": [{"version": 1, "name": "a",
                               "owner": "o@x", "startDate": "2024-01-01",
                               "interval": "0 3 * * *", "taskName": "bq9"}]}})");
  ASSERT_EQ(code, 200) << body;
  ASSERT_EQ(service_.validations.size(), 1u);
  const auto& sent = service_.validations[0];
  EXPECT_EQ(sent.project(), "p");
  EXPECT_EQ(sent.namespace_(), "ns1");
  ASSERT_EQ(sent.jobs_size(), 1);
  EXPECT_EQ(sent.jobs(0).name(), "a");
  EXPECT_THAT(sent.jobs(0).spec_yaml(), HasSubstr("name: bq9"));
  EXPECT_EQ(sent.jobs(0).source_path(), "REST fromOutside.jobs[0] (a)");
  EXPECT_EQ(body, json::parse(R"({"resultsByJobName": {"a": {"results": [
      {"name": "tenant validation", "messages": [], "success": true},
      {"name": "plugin validation", "messages": ["unknown task plugin"], "success": false}]}}})"));

  std::tie(code, body) =
      Call("POST", "/api/v1beta1/project/p/namespace/ns1/job/validate",
           R"({"from_server": {"job_names": ["a", "b"], "deletion_mode": true}})");
  ASSERT_EQ(code, 200) << body;
  ASSERT_EQ(service_.validations.size(), 2u);
  EXPECT_THAT(service_.validations[1].job_names(), ElementsAre("a", "b"));
  EXPECT_TRUE(service_.validations[1].deletion());

  std::tie(code, body) = Call("POST", "/api/v1beta1/project/p/namespace/ns1/job/validate", "{}");
  EXPECT_EQ(code, 400);
  EXPECT_EQ(body["message"],
            "expected one of fromOutside {jobs} and fromServer {jobNames, deletionMode}");
  std::tie(code, body) = Call("POST", "/api/v1beta1/project/p/namespace/ns1/job/validate",
                              R"({"fromServer": {"jobNames": "a"}})");
  EXPECT_EQ(code, 400);
  EXPECT_EQ(body["message"], "fromServer.jobNames: expected a list");
}

TEST_F(RestTest, ProjectsAndNamespacesInOptimusShape) {
  auto [code, body] = Call("POST", "/api/v1beta1/project",
                           R"({"project": {"name": "p", "config": {"storage_path": "file:///d",
                               "retries": 3}, "variables": {"k": "v"}, "unknown": 1}})");
  EXPECT_EQ(code, 200) << body;
  EXPECT_EQ(body["success"], true);
  EXPECT_EQ(body["deploymentId"], "dp");
  ASSERT_EQ(service_.projects.size(), 1u);
  EXPECT_EQ(service_.projects[0].name(), "p");
  EXPECT_EQ(service_.projects[0].config().at("retries"), "3");
  EXPECT_EQ(service_.projects[0].variables().at("k"), "v");
  // The body has no presets: registering again keeps the project's.
  EXPECT_TRUE(service_.projects[0].keep_presets());
  EXPECT_FALSE(service_.projects[0].keep_config());
  EXPECT_FALSE(service_.projects[0].keep_variables());
  std::tie(code, body) = Call("POST", "/api/v1beta1/project", R"({"project": {"name": "p"}})");
  EXPECT_EQ(code, 200) << body;
  ASSERT_EQ(service_.projects.size(), 2u);
  EXPECT_TRUE(service_.projects[1].keep_config());  // nothing said: nothing dropped
  EXPECT_TRUE(service_.projects[1].keep_variables());
  EXPECT_TRUE(service_.projects[1].keep_presets());

  std::tie(code, body) = Call("GET", "/api/v1beta1/project");
  EXPECT_EQ(code, 200);
  EXPECT_EQ(body["projects"][0]["name"], "p");
  EXPECT_EQ(body["projects"][0]["config"]["STORAGE_PATH"], "file:///dags");
  std::tie(code, body) = Call("GET", "/api/v1beta1/project/p");
  EXPECT_EQ(body["project"]["name"], "p");
  std::tie(code, body) = Call("GET", "/api/v1beta1/project/q");
  EXPECT_EQ(code, 404);
  EXPECT_EQ(body["message"], "project q is unknown");

  std::tie(code, body) = Call("POST", "/api/v1beta1/project/p/namespace",
                              R"({"namespace": {"name": "ns2", "config": {"a": "b"}}})");
  EXPECT_EQ(code, 200) << body;
  ASSERT_EQ(service_.namespaces.size(), 1u);
  EXPECT_EQ(service_.namespaces[0].project(), "p");
  EXPECT_EQ(service_.namespaces[0].namespace_().config().at("a"), "b");
  std::tie(code, body) = Call("GET", "/api/v1beta1/project/p/namespace");
  EXPECT_EQ(body["namespaces"][0]["name"], "ns1");
  std::tie(code, body) = Call("GET", "/api/v1beta1/project/p/namespace/ns1");
  EXPECT_EQ(body["namespace"]["name"], "ns1");
  std::tie(code, body) = Call("GET", "/api/v1beta1/project/p/namespace/nope");
  EXPECT_EQ(code, 404);
  EXPECT_THAT(body["message"].get<std::string>(), HasSubstr("namespace nope is not registered"));
}

TEST_F(RestTest, BadBodiesNameTheField) {
  auto [code, body] = Call("POST", "/api/v1beta1/project", "{not json");
  EXPECT_EQ(code, 400);
  EXPECT_EQ(body["message"], "the body is not valid JSON");
  std::tie(code, body) = Call("POST", "/api/v1beta1/project", R"({"project": {"name": 7}})");
  EXPECT_EQ(code, 400);
  EXPECT_EQ(body["message"], "project.name: expected a string");
  std::tie(code, body) =
      Call("POST", "/api/v1beta1/project/p/namespace", R"({"namespace": {"name": "n",
           "config": {"a": {"b": 1}}}})");
  EXPECT_EQ(code, 400);
  EXPECT_EQ(body["message"], "namespace.config.a: expected a string");
  std::tie(code, body) = Call("POST", "/api/v1beta1/project/p/namespace/ns1/jobs", R"({})");
  EXPECT_EQ(code, 400);
  EXPECT_TRUE(service_.projects.empty() && service_.namespaces.empty() && service_.deploys.empty());
}

TEST_F(RestTest, JobSpecificationsBecomeAnUpsertDeployment) {
  const std::string specs = R"({"specs": [
      {"version": 1, "name": "daily", "owner": "o", "startDate": "2024-01-01",
       "interval": "0 2 * * *", "taskName": "bq2bq",
       "config": [{"name": "TABLE", "value": "t"}], "windowSize": "24h",
       "assets": {"query.sql": "select 1"}},
      {"version": 1, "name": "refused", "owner": "o", "start_date": "2024-01-01",
       "interval": "0 2 * * *", "task_name": "bq2bq"}]})";
  for (const std::string route : {"POST /jobs", "PUT /jobs", "POST /jobs-upsert"}) {
    const std::string method = route.substr(0, route.find(' '));
    auto [code, body] = Call(
        method, "/api/v1beta1/project/p/namespace/ns1" + route.substr(route.find(' ') + 1), specs);
    EXPECT_EQ(code, 200) << route << ": " << body;
    EXPECT_THAT(body["successfulJobNames"].get<std::vector<std::string>>(), ElementsAre("daily"));
    EXPECT_THAT(body["failedJobNames"].get<std::vector<std::string>>(), ElementsAre("refused"));
    EXPECT_EQ(body["log"], "refused: invalid cron\n");
    EXPECT_EQ(body["deploymentId"], "dd");
  }
  ASSERT_EQ(service_.deploys.size(), 3u);
  const auto& d = service_.deploys[0];
  EXPECT_EQ(d.project(), "p");
  EXPECT_EQ(d.namespace_(), "ns1");
  EXPECT_EQ(d.mode(), events::v1::DEPLOY_MODE_UPSERT);
  ASSERT_EQ(d.jobs_size(), 2);
  EXPECT_THAT(d.jobs(0).spec_yaml(), HasSubstr("name: daily"));
  ASSERT_EQ(d.jobs(0).assets_size(), 1);
  EXPECT_EQ(d.jobs(0).assets(0).name(), "query.sql");
  EXPECT_EQ(d.jobs(0).assets(0).inline_(), "select 1");

  auto [code, body] = Call("POST", "/api/v1beta1/project/p/namespace/ns1/jobs",
                           R"({"specs": [{"name": "x", "config": "no"}]})");
  EXPECT_EQ(code, 400);
  EXPECT_THAT(body["message"].get<std::string>(), HasSubstr("specs[0].config"));
}

TEST_F(RestTest, DeleteAndFollowADeployment) {
  std::vector<core::v1::JobProgress> jobs(1);
  jobs[0].set_job("daily");
  jobs[0].set_stage(events::v1::STAGE_ACCEPTED);
  ASSERT_TRUE(db_->InTransaction([&](store::Transaction& tx) {
                   return RecordDeployment(tx, "dd", "p", "ns1", jobs);
                 })
                  .ok());
  auto [code, body] = Call("DELETE", "/api/v1beta1/project/p/namespace/ns1/job/daily?force=true");
  EXPECT_EQ(code, 200) << body;
  EXPECT_THAT(body["message"].get<std::string>(), HasSubstr("/api/v1beta1/deployment/dd"));
  ASSERT_EQ(service_.deploys.size(), 1u);
  EXPECT_EQ(service_.deploys[0].mode(), events::v1::DEPLOY_MODE_DELETE);
  EXPECT_THAT(service_.deploys[0].delete_jobs(), ElementsAre("daily"));
  EXPECT_TRUE(service_.deploys[0].force());

  std::tie(code, body) = Call("GET", "/api/v1beta1/deployment/dd");
  EXPECT_EQ(code, 200) << body;
  EXPECT_EQ(body["deploymentId"], "dd");
  EXPECT_EQ(body["accepted"], 1);
  EXPECT_EQ(body["done"], false);
  EXPECT_EQ(body["changes"][0]["job"], "daily");
  std::tie(code, body) = Call("GET", "/api/v1beta1/deployment/nope");
  EXPECT_EQ(code, 404);

  // A job others still read: refused at once, with the reason.
  jobs[0].set_stage(events::v1::STAGE_FAILED);
  jobs[0].set_error("not deleted: still read by p/r");
  ASSERT_TRUE(db_->InTransaction([&](store::Transaction& tx) {
                   return RecordDeployment(tx, "d2", "p", "ns1", jobs);
                 })
                  .ok());
  service_.next_id = "d2";
  std::tie(code, body) = Call("DELETE", "/api/v1beta1/project/p/namespace/ns1/job/daily");
  EXPECT_EQ(code, 400) << body;
  EXPECT_EQ(body["message"], "daily: not deleted: still read by p/r");
}

}  // namespace
}  // namespace optimus::ingest
