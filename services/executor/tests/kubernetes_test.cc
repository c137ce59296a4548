// Kubernetes Jobs for execution steps: the manifest against golden files (validated against
// Kubernetes' schemas by kubernetes_manifests_test), kubeconfig reading, and the runner
// against a fake API server that plays a Job's life (the real one has not been run here).
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <httplib.h>

#include <fstream>
#include <mutex>
#include <sstream>
#include <thread>

#include "google/protobuf/util/time_util.h"
#include "kubernetes_sample.h"
#include "optimus/executor/kubernetes_api.h"
#include "optimus/executor/kubernetes_job.h"
#include "optimus/executor/kubernetes_runner.h"
#include "optimus/testing/testing.h"

namespace optimus::executor {
namespace {

using ::testing::HasSubstr;

std::string Golden(const std::string& name) {
  std::ifstream in(std::string(OPTIMUS_EXECUTOR_TESTDATA) + "/" + name);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

TEST(KubernetesJob, TheTaskStepMatchesItsGoldenFile) {
  const nlohmann::json job =
      StepJob(SampleExecution(), 1, "optrun_0123abcd", 3540, SampleOptions());
  EXPECT_EQ(job.dump(2) + "\n", Golden("kubernetes-task-job.json"))
      << "to review a change: build/release/tests/kube_manifests " << OPTIMUS_EXECUTOR_TESTDATA;
}

TEST(KubernetesJob, HooksGetTheirOwnJobAndNoDeadlineMeansNone) {
  const nlohmann::json job = StepJob(SampleExecution(), 2, "optrun_0123abcd", 0, SampleOptions());
  EXPECT_EQ(job.dump(2) + "\n", Golden("kubernetes-post-hook-job.json"));
  EXPECT_FALSE(job["spec"].contains("activeDeadlineSeconds"));
  EXPECT_EQ(job["metadata"]["name"], "opt-9c8e1f2a-a2-s2");
}

TEST(KubernetesJob, NamesAndLabelsAreWhatKubernetesAccepts) {
  EXPECT_EQ(LabelValue("sales data/€"), "sales-data");
  EXPECT_EQ(LabelValue(std::string(80, 'a') + "-z"), std::string(61, 'a') + "-z");
  EXPECT_EQ(LabelValue("--x--"), "x");
  core::v1::Execution e;
  e.set_id("ABCDEF01-2345");
  e.set_attempt(3);
  EXPECT_EQ(StepJobName(e, 0), "opt-abcdef01-a3-s0");
}

TEST(Kubeconfig, ReadsTheCurrentContextsClusterAndUser) {
  testing::TempDir dir;
  std::ofstream(dir.File("config")) << R"(apiVersion: v1
kind: Config
current-context: dev
clusters:
- name: dev-cluster
  cluster:
    server: https://10.0.0.1:6443
    certificate-authority-data: LS0tLS1CRUdJTg==
users:
- name: dev-user
  user:
    token: abc.def
- name: sso-user
  user:
    exec:
      command: kubelogin
contexts:
- name: dev
  context: {cluster: dev-cluster, user: dev-user, namespace: jobs}
- name: sso
  context: {cluster: dev-cluster, user: sso-user}
)";
  auto c = KubeconfigCluster(dir.File("config"));
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->server, "https://10.0.0.1:6443");
  EXPECT_EQ(c->token, "abc.def");
  EXPECT_EQ(c->ca_pem, "-----BEGIN");
  EXPECT_EQ(c->namespace_name, "jobs");
  EXPECT_THAT(KubeconfigCluster(dir.File("config"), "nope").status().message(),
              HasSubstr("no context \"nope\""));
  EXPECT_THAT(KubeconfigCluster(dir.File("config"), "sso").status().message(),
              HasSubstr("exec plugin"));
  EXPECT_FALSE(KubeconfigCluster(dir.File("missing")).ok());
}

// Just enough of the API server for one Job: created, running with a growing log, then ended
// as the test says.
class FakeApiServer {
 public:
  struct Ending {
    int polls_before_end = 2;
    std::string outcome = "succeeded";  // succeeded, failed, deadline, never
    int exit_code = 0;
  };
  explicit FakeApiServer(Ending ending) : ending_(ending) {
    server_.Post(R"(/apis/batch/v1/namespaces/([^/]+)/jobs)",
                 [this](const httplib::Request& req, httplib::Response& res) {
                   std::lock_guard lock(mu_);
                   created_ = nlohmann::json::parse(req.body);
                   auth_ = req.get_header_value("Authorization");
                   res.status = 201;
                   res.set_content(req.body, "application/json");
                 });
    server_.Get(R"(/apis/batch/v1/namespaces/([^/]+)/jobs/([^/]+))", [this](
                                                                         const httplib::Request&,
                                                                         httplib::Response& res) {
      std::lock_guard lock(mu_);
      if (deleted_) {
        res.status = 404;
        res.set_content(R"({"message": "jobs not found"})", "application/json");
        return;
      }
      ++polls_;
      nlohmann::json status = {{"active", 1}};
      if (polls_ > ending_.polls_before_end && ending_.outcome != "never") {
        if (ending_.outcome == "succeeded") status = {{"succeeded", 1}};
        if (ending_.outcome == "failed") status = {{"failed", 1}};
        if (ending_.outcome == "deadline") {
          status = {{"failed", 1},
                    {"conditions",
                     {{{"type", "Failed"}, {"status", "True"}, {"reason", "DeadlineExceeded"}}}}};
        }
      }
      res.set_content(nlohmann::json{{"status", status}}.dump(), "application/json");
    });
    server_.Get(R"(/api/v1/namespaces/([^/]+)/pods)", [this](const httplib::Request& req,
                                                             httplib::Response& res) {
      std::lock_guard lock(mu_);
      selector_ = req.get_param_value("labelSelector");
      nlohmann::json pod = {{"metadata", {{"name", "opt-pod-1"}}}};
      if (polls_ > ending_.polls_before_end && ending_.outcome == "failed") {
        pod["status"]["containerStatuses"] = {
            {{"name", "task"}, {"state", {{"terminated", {{"exitCode", ending_.exit_code}}}}}}};
      }
      res.set_content(nlohmann::json{{"items", {pod}}}.dump(), "application/json");
    });
    server_.Get(R"(/api/v1/namespaces/([^/]+)/pods/([^/]+)/log)",
                [this](const httplib::Request&, httplib::Response& res) {
                  std::lock_guard lock(mu_);
                  std::string log;
                  for (int i = 1; i <= polls_; ++i) log += "line " + std::to_string(i) + "\n";
                  res.set_content(log, "text/plain");
                });
    server_.Delete(R"(/apis/batch/v1/namespaces/([^/]+)/jobs/([^/]+))",
                   [this](const httplib::Request& req, httplib::Response& res) {
                     std::lock_guard lock(mu_);
                     deleted_ = true;
                     propagation_ = req.get_param_value("propagationPolicy");
                     res.set_content("{}", "application/json");
                   });
    port_ = server_.bind_to_any_port("127.0.0.1");
    thread_ = std::thread([this] { server_.listen_after_bind(); });
    while (!server_.is_running()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  ~FakeApiServer() {
    server_.stop();
    thread_.join();
  }
  KubernetesCluster Cluster() const {
    return {.server = "http://127.0.0.1:" + std::to_string(port_), .token = "t0ken"};
  }

  std::mutex mu_;
  nlohmann::json created_;
  std::string auth_, selector_, propagation_;
  bool deleted_ = false;
  int polls_ = 0;

 private:
  Ending ending_;
  httplib::Server server_;
  int port_ = 0;
  std::thread thread_;
};

struct Outcome {
  ProcessResult result;
  std::string output;
};

Outcome RunAgainst(
    FakeApiServer& server, const std::atomic<Stop>& stop,
    std::chrono::steady_clock::time_point deadline = std::chrono::steady_clock::time_point::max()) {
  KubernetesApi api(server.Cluster());
  KubernetesRunner runner(api, SampleOptions(), std::chrono::milliseconds(10));
  Outcome out;
  out.result = runner.Run(
      SampleExecution(), 1, "optrun_x", deadline, [&](std::string_view s) { out.output.append(s); },
      stop);
  return out;
}

TEST(KubernetesRunner, CreatesTheJobStreamsItsLogAndReportsSuccess) {
  FakeApiServer server({.polls_before_end = 3, .outcome = "succeeded"});
  std::atomic<Stop> stop{Stop::kNo};
  Outcome out = RunAgainst(server, stop);
  EXPECT_EQ(out.result.end, ProcessResult::End::kExited);
  EXPECT_EQ(out.result.exit_code, 0);
  EXPECT_THAT(out.output, HasSubstr("kubernetes: Job optimus-jobs/opt-9c8e1f2a-a2-s1\n"));
  EXPECT_THAT(out.output, HasSubstr("line 1\nline 2\nline 3\n"));  // each line once
  std::lock_guard lock(server.mu_);
  EXPECT_EQ(server.auth_, "Bearer t0ken");
  EXPECT_EQ(server.created_["spec"]["template"]["spec"]["containers"][0]["image"],
            "docker.io/goto/optimus-task-bq2bq-executor:0.3.6");
  EXPECT_EQ(server.selector_, "job-name=opt-9c8e1f2a-a2-s1");
}

TEST(KubernetesRunner, AFailedPodGivesItsExitCodeAndADeadlineATimeout) {
  {
    FakeApiServer server({.polls_before_end = 1, .outcome = "failed", .exit_code = 3});
    std::atomic<Stop> stop{Stop::kNo};
    Outcome out = RunAgainst(server, stop);
    EXPECT_EQ(out.result.end, ProcessResult::End::kExited);
    EXPECT_EQ(out.result.exit_code, 3);
  }
  FakeApiServer server({.polls_before_end = 1, .outcome = "deadline"});
  std::atomic<Stop> stop{Stop::kNo};
  Outcome out = RunAgainst(server, stop, std::chrono::steady_clock::now() + std::chrono::hours(1));
  EXPECT_EQ(out.result.end, ProcessResult::End::kTimedOut);
  std::lock_guard lock(server.mu_);
  EXPECT_EQ(server.created_["spec"]["activeDeadlineSeconds"], 3600);
}

TEST(KubernetesRunner, StoppingDeletesTheJob) {
  FakeApiServer server({.outcome = "never"});
  std::atomic<Stop> stop{Stop::kNo};
  std::thread stopper([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    stop = Stop::kNow;
  });
  Outcome out = RunAgainst(server, stop);
  stopper.join();
  EXPECT_EQ(out.result.end, ProcessResult::End::kCancelled);
  std::lock_guard lock(server.mu_);
  EXPECT_TRUE(server.deleted_);
  EXPECT_EQ(server.propagation_, "Background");
}

TEST(KubernetesRunner, AnUnreachableApiIsNotStartedWithTheReason) {
  KubernetesApi api({.server = "http://127.0.0.1:1", .token = "x"});
  KubernetesRunner runner(api, SampleOptions(), std::chrono::milliseconds(10));
  std::atomic<Stop> stop{Stop::kNo};
  ProcessResult r = runner.Run(
      SampleExecution(), 1, "t", std::chrono::steady_clock::time_point::max(),
      [](std::string_view) {}, stop);
  EXPECT_EQ(r.end, ProcessResult::End::kNotStarted);
  EXPECT_THAT(r.error, HasSubstr("cannot create Kubernetes Job opt-9c8e1f2a-a2-s1"));
  EXPECT_THAT(r.error, HasSubstr("unreachable"));
}

}  // namespace
}  // namespace optimus::executor
