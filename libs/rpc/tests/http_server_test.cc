// Tests of HttpServer over real loopback connections on an ephemeral port.
#include "optimus/rpc/http_server.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <httplib.h>
#include <netinet/in.h>
#include <poll.h>
#include <prometheus/registry.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <future>
#include <iostream>
#include <nlohmann/json.hpp>
#include <thread>

#include "optimus/telemetry/health.h"
#include "optimus/telemetry/log.h"
#include "optimus/telemetry/trace.h"

namespace optimus::rpc {
namespace {

using namespace std::chrono_literals;

constexpr char kRunInputRoute[] = "/api/v1beta1/project/{project}/job/{job}/run_input";

// A server on 127.0.0.1:0 with its own registry and health, so tests do not share state.
class HttpServerTest : public ::testing::Test {
 protected:
  std::unique_ptr<HttpServer> MakeServer(HttpServerOptions options = {}) {
    options.host = "127.0.0.1";
    options.port = 0;
    options.threads = 4;
    options.metrics = &registry_;
    options.health = &health_;
    return std::make_unique<HttpServer>(std::move(options));
  }

  static httplib::Client Client(const HttpServer& server) {
    httplib::Client client("127.0.0.1", server.port());
    client.set_connection_timeout(5);
    client.set_read_timeout(10);
    return client;
  }

  // The value of the sample line that starts with `series`, or -1 when absent.
  static double Sample(const std::string& metrics, const std::string& series) {
    size_t at = 0;
    while ((at = metrics.find(series + " ", at)) != std::string::npos) {
      if (at == 0 || metrics[at - 1] == '\n') return std::stod(metrics.substr(at + series.size()));
      at += series.size();
    }
    return -1;
  }

  // The /metrics text once `series` reads `value`, or after 5 s. A request is counted when the
  // server finishes it, which may be just after its client already has the response.
  static std::string ScrapeWhen(const HttpServer& server, const std::string& series, double value) {
    const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(5);
    std::string text;
    do {
      auto scrape = Client(server).Get("/metrics");
      text = scrape ? scrape->body : "";
      if (Sample(text, series) == value) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    } while (std::chrono::steady_clock::now() < until);
    return text;
  }

  prometheus::Registry registry_;
  telemetry::HealthRegistry health_;
};

TEST_F(HttpServerTest, RoutesWithPathParams) {
  auto server = MakeServer();
  server->Get(kRunInputRoute, [](const HttpRequest& request) {
    nlohmann::json body;
    body["project"] = request.PathParam("project");
    body["job"] = request.PathParam("job");
    body["route"] = request.route();
    body["scheduled_at"] = request.Query("scheduled_at");
    body["missing"] = request.PathParam("nope");
    return HttpResponse::Json(body.dump());
  });
  ASSERT_TRUE(server->Start().ok());
  ASSERT_GT(server->port(), 0);
  auto client = Client(*server);
  auto result =
      client.Get("/api/v1beta1/project/p-1/job/daily_sales/run_input?scheduled_at=2024-01-02");
  ASSERT_TRUE(result) << httplib::to_string(result.error());
  EXPECT_EQ(result->status, 200);
  EXPECT_EQ(result->get_header_value("Content-Type"), "application/json");
  EXPECT_TRUE(telemetry::IsValidTraceId(result->get_header_value("X-Trace-Id")));
  auto body = nlohmann::json::parse(result->body);
  EXPECT_EQ(body["project"], "p-1");
  EXPECT_EQ(body["job"], "daily_sales");
  EXPECT_EQ(body["route"], kRunInputRoute);
  EXPECT_EQ(body["scheduled_at"], "2024-01-02");
  EXPECT_EQ(body["missing"], "");
  EXPECT_TRUE(server->Stop(5s).ok());
}

TEST_F(HttpServerTest, LiteralSegmentsWinOverPlaceholders) {
  auto server = MakeServer();
  server->Get("/project/{project}/job/{job}",
              [](const HttpRequest& r) { return HttpResponse::Text("job " + r.PathParam("job")); });
  server->Get("/project/{project}/job/list", [](const HttpRequest& r) {
    return HttpResponse::Text("list " + r.PathParam("project"));
  });
  ASSERT_TRUE(server->Start().ok());
  auto client = Client(*server);
  EXPECT_EQ(client.Get("/project/a/job/list")->body, "list a");
  EXPECT_EQ(client.Get("/project/a/job/other")->body, "job other");
  EXPECT_EQ(client.Get("/project/a/job/")->status, 404) << "a placeholder needs a value";
}

TEST_F(HttpServerTest, UnknownRouteIs404AndWrongMethodIs405WithJsonBodies) {
  auto server = MakeServer();
  server->Post("/api/v1/things", [](const HttpRequest&) { return HttpResponse::Json("{}", 201); });
  ASSERT_TRUE(server->Start().ok());
  auto client = Client(*server);
  auto missing = client.Get("/api/v1/nothing/here");
  ASSERT_TRUE(missing);
  EXPECT_EQ(missing->status, 404);
  auto body = nlohmann::json::parse(missing->body);
  EXPECT_EQ(body["code"], 5);
  EXPECT_NE(body["message"].get<std::string>().find("/api/v1/nothing/here"), std::string::npos);

  auto wrong_method = client.Get("/api/v1/things");
  ASSERT_TRUE(wrong_method);
  EXPECT_EQ(wrong_method->status, 405);
  EXPECT_EQ(wrong_method->get_header_value("Allow"), "POST");
  EXPECT_EQ(nlohmann::json::parse(wrong_method->body)["code"], 12);
  EXPECT_EQ(client.Post("/api/v1/things", "{}", "application/json")->status, 201);
}

TEST_F(HttpServerTest, OversizedBodyIs413) {
  HttpServerOptions options;
  options.max_body_bytes = 1024;
  auto server = MakeServer(options);
  std::atomic<int> calls{0};
  server->Post("/upload/{name}", [&](const HttpRequest& r) {
    ++calls;
    return HttpResponse::Json(nlohmann::json{{"size", r.body().size()}}.dump());
  });
  ASSERT_TRUE(server->Start().ok());
  auto client = Client(*server);
  auto small = client.Post("/upload/a", std::string(1000, 'x'), "text/plain");
  ASSERT_TRUE(small);
  EXPECT_EQ(small->status, 200);
  auto big = client.Post("/upload/b", std::string(4096, 'x'), "text/plain");
  ASSERT_TRUE(big) << httplib::to_string(big.error());
  EXPECT_EQ(big->status, 413);
  auto body = nlohmann::json::parse(big->body);
  EXPECT_EQ(body["code"], 8);
  EXPECT_NE(body["message"].get<std::string>().find("1024"), std::string::npos) << big->body;
  EXPECT_EQ(calls, 1) << "the handler never sees an oversized body";

  const std::string series =
      R"(optimus_http_requests_total{code="413",method="POST",route="/upload/{name}"})";
  std::string metrics = ScrapeWhen(*server, series, 1);
  EXPECT_EQ(Sample(metrics, series), 1) << metrics;
}

TEST_F(HttpServerTest, MetricsEndpointCountsByRouteTemplate) {
  auto server = MakeServer();
  server->Get(kRunInputRoute, [](const HttpRequest&) { return HttpResponse::Json("{}"); });
  ASSERT_TRUE(server->Start().ok());
  auto client = Client(*server);
  for (const char* project : {"alpha", "beta", "gamma"}) {
    ASSERT_EQ(
        client.Get(std::string("/api/v1beta1/project/") + project + "/job/j/run_input")->status,
        200);
  }
  client.Get("/no/such/route");
  ScrapeWhen(*server,
             std::string(R"(optimus_http_request_duration_seconds_count{method="GET",route=")") +
                 kRunInputRoute + "\"}",
             3);
  ScrapeWhen(*server, R"(optimus_http_requests_total{code="404",method="GET",route="unmatched"})",
             1);
  auto scrape = client.Get("/metrics");
  ASSERT_TRUE(scrape);
  EXPECT_EQ(scrape->status, 200);
  EXPECT_EQ(scrape->get_header_value("Content-Type"), "text/plain; version=0.0.4; charset=utf-8");
  const std::string& text = scrape->body;
  EXPECT_EQ(
      Sample(text, std::string(R"(optimus_http_requests_total{code="200",method="GET",route=")") +
                       kRunInputRoute + "\"}"),
      3)
      << text;
  EXPECT_EQ(
      Sample(text,
             std::string(R"(optimus_http_request_duration_seconds_count{method="GET",route=")") +
                 kRunInputRoute + "\"}"),
      3);
  EXPECT_EQ(
      Sample(text, R"(optimus_http_requests_total{code="404",method="GET",route="unmatched"})"), 1);
  EXPECT_EQ(text.find("alpha"), std::string::npos) << "raw paths must not become labels";
  EXPECT_NE(text.find("# TYPE optimus_process_open_fds gauge"), std::string::npos);
  EXPECT_NE(text.find("# TYPE optimus_http_request_duration_seconds histogram"), std::string::npos);
  // Every non-comment line is "name{labels} value" with a numeric value.
  std::istringstream lines(text);
  std::string line;
  while (std::getline(lines, line)) {
    if (line.empty() || line[0] == '#') continue;
    size_t space = line.rfind(' ');
    ASSERT_NE(space, std::string::npos) << line;
    EXPECT_NO_THROW((void)std::stod(line.substr(space + 1))) << line;
  }
}

TEST_F(HttpServerTest, HealthAndReadinessEndpoints) {
  bool db_up = false;
  health_.AddReadinessCheck("postgres", [&] {
    return db_up ? absl::OkStatus() : absl::UnavailableError("postgres not reachable");
  });
  auto server = MakeServer();
  ASSERT_TRUE(server->Start().ok());
  auto client = Client(*server);
  EXPECT_EQ(client.Get("/healthz")->status, 200);
  auto not_ready = client.Get("/readyz");
  EXPECT_EQ(not_ready->status, 503);
  EXPECT_EQ(nlohmann::json::parse(not_ready->body)["checks"]["postgres"]["message"],
            "postgres not reachable");
  db_up = true;
  EXPECT_EQ(client.Get("/readyz")->status, 200);
  health_.SetShuttingDown();
  auto draining = client.Get("/readyz");
  EXPECT_EQ(draining->status, 503);
  EXPECT_EQ(nlohmann::json::parse(draining->body)["shutting_down"], true);
  EXPECT_EQ(client.Get("/healthz")->status, 200) << "draining is not a reason to restart";
  EXPECT_EQ(client.Get("/ping")->body, "pong");
}

TEST_F(HttpServerTest, BearerTokenAuth) {
  HttpServerOptions options;
  auto grants = ParseTokenGrants({"admin=t0ken", "project:p1=p1-token"});
  ASSERT_TRUE(grants.ok());
  options.authenticator = std::make_shared<Authenticator>(
      *grants, std::map<std::string, Access, std::less<>>{{"GET /open", Access::kPublic}});
  auto server = MakeServer(options);
  server->Get("/secret/{id}", [](const HttpRequest&) { return HttpResponse::Text("classified"); });
  server->Get("/open", [](const HttpRequest&) { return HttpResponse::Text("hello"); });
  server->Get("/project/{project_name}/run",
              [](const HttpRequest& r) { return HttpResponse::Text(r.PathParam("project_name")); });
  server->Get("/jobs",
              [](const HttpRequest& r) { return HttpResponse::Text(r.Query("project_name")); });
  ASSERT_TRUE(server->Start().ok());
  auto client = Client(*server);

  auto missing = client.Get("/secret/1");
  EXPECT_EQ(missing->status, 401);
  EXPECT_EQ(missing->get_header_value("WWW-Authenticate"), "Bearer realm=\"optimus\"");
  EXPECT_EQ(nlohmann::json::parse(missing->body)["code"], 16);

  auto wrong = client.Get("/secret/1", {{"Authorization", "Bearer nope"}});
  EXPECT_EQ(wrong->status, 403);
  EXPECT_EQ(nlohmann::json::parse(wrong->body)["code"], 7);

  auto right = client.Get("/secret/1", {{"Authorization", "Bearer t0ken"}});
  EXPECT_EQ(right->status, 200);
  EXPECT_EQ(right->body, "classified");

  EXPECT_EQ(client.Get("/open")->status, 200);
  const httplib::Headers p1 = {{"Authorization", "Bearer p1-token"}};
  EXPECT_EQ(client.Get("/project/p1/run", p1)->body, "p1") << "the path names the project";
  EXPECT_EQ(client.Get("/project/p2/run", p1)->status, 403);
  EXPECT_EQ(client.Get("/jobs?project_name=p1", p1)->body, "p1") << "or the query does";
  EXPECT_EQ(client.Get("/jobs?project_name=p2", p1)->status, 403);
  EXPECT_EQ(client.Get("/jobs", p1)->status, 403) << "naming no project is for admins";
  EXPECT_EQ(client.Get("/jobs", {{"Authorization", "Bearer t0ken"}})->status, 200);
  EXPECT_EQ(client.Get("/metrics")->status, 200) << "scrapers carry no token";
  EXPECT_EQ(client.Get("/readyz")->status, 200) << "probes carry no token";
}

TEST_F(HttpServerTest, HandlerErrorsBecomeJsonBodies) {
  auto server = MakeServer();
  server->Get("/fail/{kind}", [](const HttpRequest& r) {
    const std::string& kind = r.PathParam("kind");
    if (kind == "exists") return HttpResponse::Error(absl::AlreadyExistsError("job a exists"));
    if (kind == "precondition") {
      return HttpResponse::Error(absl::FailedPreconditionError("namespace is frozen"));
    }
    if (kind == "throw") throw std::runtime_error("bug in handler");
    return HttpResponse::Error(absl::NotFoundError("job " + kind + " not found"));
  });
  ASSERT_TRUE(server->Start().ok());
  auto client = Client(*server);
  auto not_found = client.Get("/fail/x");
  EXPECT_EQ(not_found->status, 404);
  auto body = nlohmann::json::parse(not_found->body);
  EXPECT_EQ(body["code"], 5);
  EXPECT_EQ(body["message"], "job x not found");
  EXPECT_EQ(client.Get("/fail/exists")->status, 409);
  EXPECT_EQ(client.Get("/fail/precondition")->status, 400);
  telemetry::LogCapture capture;
  auto thrown = client.Get("/fail/throw");
  EXPECT_EQ(thrown->status, 500);
  EXPECT_EQ(nlohmann::json::parse(thrown->body)["code"], 13);
  bool logged = false;
  for (const auto& line : capture.Lines()) {
    if (line.find("bug in handler") != std::string::npos) logged = true;
  }
  EXPECT_TRUE(logged) << "an exception from a handler is logged";
}

TEST_F(HttpServerTest, AccessLogCarriesTheTraceIdFromTraceparent) {
  auto server = MakeServer();
  server->Get("/traced/{id}", [](const HttpRequest& r) {
    LOG_INFO("inside handler", {{"id", r.PathParam("id")}});
    return HttpResponse::Text(r.trace_id());
  });
  ASSERT_TRUE(server->Start().ok());
  telemetry::LogCapture capture;
  auto client = Client(*server);
  const std::string trace = "4bf92f3577b34da6a3ce929d0e0e4736";
  auto result = client.Get("/traced/7", {{"traceparent", "00-" + trace + "-00f067aa0ba902b7-01"}});
  ASSERT_TRUE(result);
  EXPECT_EQ(result->body, trace);
  EXPECT_EQ(result->get_header_value("X-Trace-Id"), trace);
  ASSERT_TRUE(server->Stop(5s).ok());  // the access log line is written after the response

  bool handler_line = false;
  bool access_line = false;
  for (const auto& line : capture.Lines()) {
    auto json = nlohmann::json::parse(line);
    if (json["msg"] == "inside handler") {
      handler_line = true;
      EXPECT_EQ(json["trace_id"], trace);
    }
    if (json["msg"] == "http request" && json["path"] == "/traced/7") {
      access_line = true;
      EXPECT_EQ(json["trace_id"], trace);
      EXPECT_EQ(json["route"], "/traced/{id}");
      EXPECT_EQ(json["status"], 200);
      EXPECT_EQ(json["method"], "GET");
      EXPECT_TRUE(json["duration_seconds"].is_number());
    }
  }
  EXPECT_TRUE(handler_line);
  EXPECT_TRUE(access_line);
}

TEST_F(HttpServerTest, KeepAliveServesManyRequestsOnOneConnection) {
  auto server = MakeServer();
  std::atomic<int> count{0};
  server->Get("/n",
              [&](const HttpRequest&) { return HttpResponse::Text(std::to_string(++count)); });
  ASSERT_TRUE(server->Start().ok());
  auto client = Client(*server);
  client.set_keep_alive(true);
  for (int i = 1; i <= 5; ++i) EXPECT_EQ(client.Get("/n")->body, std::to_string(i));
  client.stop();
  EXPECT_TRUE(server->Stop(5s).ok());
}

TEST_F(HttpServerTest, GracefulStopLetsInFlightRequestsFinish) {
  auto server = MakeServer();
  std::promise<void> entered;
  server->Get("/slow", [&](const HttpRequest&) {
    entered.set_value();
    std::this_thread::sleep_for(500ms);
    return HttpResponse::Text("finished");
  });
  ASSERT_TRUE(server->Start().ok());
  int port = server->port();
  auto in_flight = std::async(std::launch::async, [port] {
    httplib::Client client("127.0.0.1", port);
    client.set_read_timeout(10);
    client.set_keep_alive(true);
    auto result = client.Get("/slow");
    return result ? std::make_tuple(result->status, result->body,
                                    result->get_header_value("Connection"))
                  : std::make_tuple(-1, std::string(), std::string());
  });
  entered.get_future().wait();
  auto start = std::chrono::steady_clock::now();
  absl::Status stopped = server->Stop(5s);
  EXPECT_TRUE(stopped.ok()) << stopped;
  EXPECT_LT(std::chrono::steady_clock::now() - start, 3s);
  auto [status, body, connection] = in_flight.get();
  EXPECT_EQ(status, 200);
  EXPECT_EQ(body, "finished");
  EXPECT_EQ(connection, "close") << "a keep-alive client is told not to reuse a draining server";
  httplib::Client after("127.0.0.1", port);
  after.set_connection_timeout(1);
  EXPECT_FALSE(after.Get("/slow")) << "no new connections after Stop";
}

TEST_F(HttpServerTest, StopReportsRequestsOutlivingTheDeadline) {
  auto server = MakeServer();
  std::promise<void> entered;
  server->Get("/stuck", [&](const HttpRequest&) {
    entered.set_value();
    std::this_thread::sleep_for(1500ms);
    return HttpResponse::Text("late");
  });
  ASSERT_TRUE(server->Start().ok());
  int port = server->port();
  auto in_flight = std::async(std::launch::async, [port] {
    httplib::Client client("127.0.0.1", port);
    client.set_read_timeout(10);
    auto result = client.Get("/stuck");
    return result ? result->status : -1;
  });
  entered.get_future().wait();
  absl::Status stopped = server->Stop(100ms);
  EXPECT_EQ(stopped.code(), absl::StatusCode::kDeadlineExceeded) << stopped;
  server.reset();  // waits for the handler
  EXPECT_EQ(in_flight.get(), 200);
}

TEST_F(HttpServerTest, BindingAPortInUseFails) {
  auto first = MakeServer();
  ASSERT_TRUE(first->Start().ok());
  HttpServerOptions options;
  options.host = "127.0.0.1";
  options.port = first->port();
  options.metrics = &registry_;
  HttpServer second(options);
  absl::Status status = second.Start();
  EXPECT_EQ(status.code(), absl::StatusCode::kUnavailable) << status;
  EXPECT_NE(status.message().find(std::to_string(first->port())), absl::string_view::npos);
}

// A raw client socket connected to the server, sending only what a test writes.
class RawClient {
 public:
  explicit RawClient(int port) : fd_(socket(AF_INET, SOCK_STREAM, 0)) {
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<uint16_t>(port));
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    connected_ = connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0;
  }
  ~RawClient() { close(fd_); }
  RawClient(const RawClient&) = delete;
  RawClient& operator=(const RawClient&) = delete;

  bool connected() const { return connected_; }
  bool Send(std::string_view data) {
    return send(fd_, data.data(), data.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(data.size());
  }
  // Whether the server closed the connection within `wait` (reads and drops what it sent).
  bool ClosedWithin(std::chrono::milliseconds wait) {
    const auto until = std::chrono::steady_clock::now() + wait;
    char buffer[4096];
    while (std::chrono::steady_clock::now() < until) {
      pollfd p{.fd = fd_, .events = POLLIN, .revents = 0};
      if (poll(&p, 1, 20) <= 0) continue;
      const ssize_t n = recv(fd_, buffer, sizeof(buffer), 0);
      if (n <= 0) return true;
    }
    return false;
  }

 private:
  int fd_;
  bool connected_ = false;
};

// The /readyz latencies of `n` probes, each on a new connection, sorted; -1 for a failed one.
std::vector<double> ProbeLatenciesMs(int port, int n) {
  std::vector<double> out;
  for (int i = 0; i < n; ++i) {
    httplib::Client client("127.0.0.1", port);
    client.set_connection_timeout(5);
    client.set_read_timeout(5);
    const auto start = std::chrono::steady_clock::now();
    auto r = client.Get("/readyz");
    const double ms =
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
    out.push_back(r && r->status == 200 ? ms : -1);
  }
  std::sort(out.begin(), out.end());
  return out;
}

// The bar of issue 20: 500 connections that send nothing and 50 that send their headers a byte
// at a time, from the probes' own address, while every handler worker is busy: /readyz still
// answers at once. (A server with a thread per connection answers nothing until they close.)
TEST_F(HttpServerTest, ProbesAnswerWhileClientsHoldConnectionsAndHandlersAreBusy) {
  auto server = MakeServer();
  std::atomic<bool> release{false};
  std::atomic<int> stuck{0};
  server->Get("/stuck", [&](const HttpRequest&) {
    ++stuck;
    while (!release) std::this_thread::sleep_for(5ms);
    return HttpResponse::Text("done");
  });
  ASSERT_TRUE(server->Start().ok());
  const int port = server->port();
  std::vector<std::future<int>> busy;
  for (int i = 0; i < 4; ++i) {  // every worker (MakeServer: 4 threads)
    busy.push_back(std::async(std::launch::async, [port] {
      httplib::Client client("127.0.0.1", port);
      client.set_read_timeout(30);
      auto r = client.Get("/stuck");
      return r ? r->status : -1;
    }));
  }
  std::vector<std::unique_ptr<RawClient>> idle, slow;
  for (int i = 0; i < 500; ++i) {
    idle.push_back(std::make_unique<RawClient>(port));
    ASSERT_TRUE(idle.back()->connected()) << i;
  }
  for (int i = 0; i < 50; ++i) {
    slow.push_back(std::make_unique<RawClient>(port));
    ASSERT_TRUE(slow.back()->connected()) << i;
  }
  std::atomic<bool> done{false};
  std::thread trickle([&] {
    const std::string header = "GET /readyz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ";
    for (size_t i = 0; !done; ++i) {
      for (auto& c : slow) c->Send(std::string(1, i < header.size() ? header[i] : 'x'));
      std::this_thread::sleep_for(50ms);
    }
  });
  while (stuck < 4) std::this_thread::sleep_for(5ms);

  const std::vector<double> ms = ProbeLatenciesMs(port, 20);
  done = true;
  trickle.join();
  std::cout << "readyz with 500 idle and 50 slow-header connections and busy handlers: p50 "
            << ms[ms.size() / 2] << " ms, max " << ms.back() << " ms\n";
  EXPECT_GE(ms.front(), 0) << "a probe failed";
  EXPECT_LT(ms[ms.size() / 2], 100) << "median probe latency";
  EXPECT_LT(ms.back(), 1000) << "slowest probe";
  release = true;
  for (auto& b : busy) EXPECT_EQ(b.get(), 200);
}

TEST_F(HttpServerTest, ConnectionsWithoutARequestInTimeAreClosed) {
  HttpServerOptions options;
  options.header_timeout = 300ms;
  options.keep_alive_timeout = 300ms;
  auto server = MakeServer(options);
  ASSERT_TRUE(server->Start().ok());
  RawClient silent(server->port());
  RawClient trickling(server->port());
  ASSERT_TRUE(trickling.Send("GET /readyz HTTP/1.1\r\n"));
  const auto start = std::chrono::steady_clock::now();
  for (int i = 0; i < 10; ++i) {
    std::this_thread::sleep_for(50ms);
    (void)trickling.Send("X");  // a header that never ends
  }
  EXPECT_TRUE(silent.ClosedWithin(3s));
  EXPECT_TRUE(trickling.ClosedWithin(3s)) << "the header deadline is for the whole header";
  EXPECT_LT(std::chrono::steady_clock::now() - start, 3s);
  // Kept alive, a connection idles keep_alive_timeout after its request, then is closed.
  RawClient kept(server->port());
  ASSERT_TRUE(kept.Send("GET /ping HTTP/1.1\r\nHost: x\r\n\r\n"));
  EXPECT_TRUE(kept.ClosedWithin(3s));
  const std::string series = R"(optimus_http_connections_shed_total{reason="timeout"})";
  EXPECT_EQ(Sample(ScrapeWhen(*server, series, 3), series), 3);
}

TEST_F(HttpServerTest, AtAClientsLimitItsLongestWaitingConnectionMakesRoom) {
  HttpServerOptions options;
  options.max_client_connections = 20;
  options.max_connections = 1000;
  auto server = MakeServer(options);
  ASSERT_TRUE(server->Start().ok());
  std::vector<std::unique_ptr<RawClient>> held;
  for (int i = 0; i < 30; ++i) {
    held.push_back(std::make_unique<RawClient>(server->port()));
    std::this_thread::sleep_for(2ms);  // a distinct waiting time each
  }
  for (int i = 0; i < 10; ++i) {
    EXPECT_TRUE(held[i]->ClosedWithin(2s)) << "the oldest connections make room: " << i;
  }
  // Probes from the same address are still served: each new connection evicts an idle one.
  const std::vector<double> ms = ProbeLatenciesMs(server->port(), 5);
  EXPECT_GE(ms.front(), 0);
  EXPECT_FALSE(held[29]->ClosedWithin(100ms)) << "the newest connections stay";
  const std::string series = R"(optimus_http_connections_shed_total{reason="evicted"})";
  EXPECT_GE(Sample(ScrapeWhen(*server, series, 11), series), 10);
}

TEST_F(HttpServerTest, AtTheLimitWithEveryConnectionBusyANewOneIsRefusedWith503) {
  HttpServerOptions options;
  options.max_connections = 2;
  auto server = MakeServer(options);
  std::atomic<bool> release{false};
  server->Get("/stuck", [&](const HttpRequest&) {
    while (!release) std::this_thread::sleep_for(5ms);
    return HttpResponse::Text("done");
  });
  ASSERT_TRUE(server->Start().ok());
  const int port = server->port();
  std::vector<std::future<int>> busy;
  for (int i = 0; i < 2; ++i) {
    busy.push_back(std::async(std::launch::async, [port] {
      auto r = httplib::Client("127.0.0.1", port).Get("/stuck");
      return r ? r->status : -1;
    }));
  }
  std::this_thread::sleep_for(300ms);
  auto refused = Client(*server).Get("/ping");
  ASSERT_TRUE(refused);
  EXPECT_EQ(refused->status, 503);
  EXPECT_NE(refused->body.find("too many connections"), std::string::npos) << refused->body;
  release = true;
  for (auto& b : busy) EXPECT_EQ(b.get(), 200);
  EXPECT_EQ(Client(*server).Get("/ping")->status, 200);
}

TEST(HttpServerDeathTest, InvalidRouteTemplatesAbort) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  prometheus::Registry registry;
  HttpServerOptions options;
  options.metrics = &registry;
  EXPECT_DEATH(
      {
        HttpServer server(options);
        server.Get("/a/{b", [](const HttpRequest&) { return HttpResponse::Text(""); });
      },
      "placeholder");
  EXPECT_DEATH(
      {
        HttpServer server(options);
        server.Get("/a/{x}", [](const HttpRequest&) { return HttpResponse::Text(""); });
        server.Get("/a/{y}", [](const HttpRequest&) { return HttpResponse::Text(""); });
      },
      "already matches");
}

}  // namespace
}  // namespace optimus::rpc
