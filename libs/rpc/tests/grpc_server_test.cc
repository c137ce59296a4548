// Tests of GrpcServer on an ephemeral loopback port: health, reflection, metrics, access logs,
// trace ids, authorization and graceful shutdown.
#include "optimus/rpc/grpc_server.h"

#include <grpcpp/create_channel.h>
#include <grpcpp/impl/codegen/client_unary_call.h>
#include <grpcpp/impl/codegen/sync_stream.h>
#include <grpcpp/security/credentials.h>
#include <gtest/gtest.h>
#include <prometheus/registry.h>

#include <future>
#include <nlohmann/json.hpp>
#include <thread>

#include "optimus/rpc/status.h"
#include "optimus/telemetry/log.h"
#include "optimus/telemetry/metrics.h"
#include "tests/proto/echo_test.grpc.pb.h"
#include "tests/proto/health_v1_test.grpc.pb.h"
#include "tests/proto/reflection_wire_test.pb.h"

namespace optimus::rpc {
namespace {

using namespace std::chrono_literals;
using grpc::health::v1::Health;
using grpc::health::v1::HealthCheckRequest;
using grpc::health::v1::HealthCheckResponse;
using test::Echo;
using test::EchoReply;
using test::EchoRequest;

constexpr char kEchoService[] = "optimus.rpc.test.Echo";

class EchoService final : public Echo::Service {
 public:
  explicit EchoService(const Authenticator* authenticator) : authenticator_(authenticator) {}

  grpc::Status Say(grpc::ServerContext* context, const EchoRequest* request,
                   EchoReply* reply) override {
    ScopedCallTrace trace(context);
    if (request->message() == "missing") {
      return ToGrpcStatus(absl::NotFoundError("nothing called \"missing\""));
    }
    entered_.store(true);
    // Sleep in slices so a cancelled call notices, as real handlers doing long work should.
    auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(request->delay_ms());
    while (std::chrono::steady_clock::now() < until && !context->IsCancelled()) {
      std::this_thread::sleep_for(5ms);
    }
    LOG_INFO("echo handled", {{"message", request->message()}});
    reply->set_message(request->message());
    reply->set_trace_id(telemetry::CurrentTraceId());
    reply->set_cancelled(context->IsCancelled());
    return grpc::Status::OK;
  }

  grpc::Status Guarded(grpc::ServerContext* context, const EchoRequest* request,
                       EchoReply* reply) override {
    if (grpc::Status allowed =
            Authorize(context, authenticator_, "optimus.rpc.test.Echo/Guarded", request->message());
        !allowed.ok()) {
      return allowed;
    }
    reply->set_message("guarded " + request->message());
    return grpc::Status::OK;
  }

  bool entered() const { return entered_.load(); }

 private:
  const Authenticator* authenticator_;
  std::atomic<bool> entered_{false};
};

class GrpcServerTest : public ::testing::Test {
 protected:
  GrpcServerTest()
      : authenticator_(*ParseTokenGrants({"project:x=secret-token"})), service_(&authenticator_) {}

  void SetUp() override {
    GrpcServerOptions options;
    options.address = "127.0.0.1:0";
    options.metrics = &registry_;
    server_ = std::make_unique<GrpcServer>(options);
    server_->AddService(&service_, kEchoService);
    absl::Status started = server_->Start();
    ASSERT_TRUE(started.ok()) << started;
    ASSERT_GT(server_->port(), 0);
    channel_ = grpc::CreateChannel("127.0.0.1:" + std::to_string(server_->port()),
                                   grpc::InsecureChannelCredentials());
  }

  HealthCheckResponse::ServingStatus CheckHealth(const std::string& service,
                                                 grpc::Status* status = nullptr) {
    auto stub = Health::NewStub(channel_);
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + 5s);
    HealthCheckRequest request;
    request.set_service(service);
    HealthCheckResponse response;
    grpc::Status result = stub->Check(&context, request, &response);
    if (status != nullptr) *status = result;
    return response.status();
  }

  grpc::Status Say(const std::string& message, EchoReply* reply, int delay_ms = 0,
                   const std::string& traceparent = "") {
    auto stub = Echo::NewStub(channel_);
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + 10s);
    if (!traceparent.empty()) context.AddMetadata("traceparent", traceparent);
    EchoRequest request;
    request.set_message(message);
    request.set_delay_ms(delay_ms);
    return stub->Say(&context, request, reply);
  }

  std::string Scrape() { return telemetry::RenderMetrics(registry_); }

  static double Sample(const std::string& metrics, const std::string& series) {
    size_t at = 0;
    while ((at = metrics.find(series + " ", at)) != std::string::npos) {
      if (at == 0 || metrics[at - 1] == '\n') return std::stod(metrics.substr(at + series.size()));
      at += series.size();
    }
    return -1;
  }

  prometheus::Registry registry_;
  Authenticator authenticator_;
  EchoService service_;
  std::unique_ptr<GrpcServer> server_;
  std::shared_ptr<grpc::Channel> channel_;
};

TEST_F(GrpcServerTest, ServesCallsAndCountsThemInMetrics) {
  EchoReply reply;
  grpc::Status status = Say("hello", &reply);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(reply.message(), "hello");
  grpc::Status missing = Say("missing", &reply);
  EXPECT_EQ(missing.error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_EQ(missing.error_message(), "nothing called \"missing\"");

  std::string metrics = Scrape();
  EXPECT_EQ(Sample(metrics,
                   R"(optimus_grpc_requests_total{code="OK",method="optimus.rpc.test.Echo/Say"})"),
            1)
      << metrics;
  EXPECT_EQ(
      Sample(metrics,
             R"(optimus_grpc_requests_total{code="NOT_FOUND",method="optimus.rpc.test.Echo/Say"})"),
      1);
  EXPECT_EQ(
      Sample(metrics,
             R"(optimus_grpc_request_duration_seconds_count{method="optimus.rpc.test.Echo/Say"})"),
      2);
}

TEST_F(GrpcServerTest, HealthIsServingThenNotServingWhenDraining) {
  EXPECT_EQ(CheckHealth(""), HealthCheckResponse::SERVING);
  EXPECT_EQ(CheckHealth(kEchoService), HealthCheckResponse::SERVING);
  grpc::Status unknown;
  CheckHealth("no.such.Service", &unknown);
  EXPECT_EQ(unknown.error_code(), grpc::StatusCode::NOT_FOUND);

  server_->SetServing(kEchoService, false);
  EXPECT_EQ(CheckHealth(kEchoService), HealthCheckResponse::NOT_SERVING);
  server_->SetServing(kEchoService, true);
  EXPECT_EQ(CheckHealth(kEchoService), HealthCheckResponse::SERVING);

  server_->BeginDraining();
  EXPECT_EQ(CheckHealth(""), HealthCheckResponse::NOT_SERVING);
  EXPECT_EQ(CheckHealth(kEchoService), HealthCheckResponse::NOT_SERVING);
  server_->SetServing(kEchoService, true);
  EXPECT_EQ(CheckHealth(kEchoService), HealthCheckResponse::NOT_SERVING)
      << "statuses stay frozen once draining";
  EchoReply reply;
  EXPECT_TRUE(Say("still served while draining", &reply).ok());
  EXPECT_TRUE(server_->Shutdown(5s).ok());
  grpc::Status after;
  CheckHealth("", &after);
  EXPECT_EQ(after.error_code(), grpc::StatusCode::UNAVAILABLE);
}

TEST_F(GrpcServerTest, ReflectionListsTheServices) {
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + 5s);
  grpc::internal::RpcMethod method("/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo",
                                   grpc::internal::RpcMethod::BIDI_STREAMING, channel_);
  std::unique_ptr<grpc::ClientReaderWriter<test::ReflectionRequest, test::ReflectionResponse>>
      stream(grpc::internal::ClientReaderWriterFactory<
             test::ReflectionRequest, test::ReflectionResponse>::Create(channel_.get(), method,
                                                                        &context));
  test::ReflectionRequest request;
  request.set_list_services("*");
  ASSERT_TRUE(stream->Write(request));
  stream->WritesDone();
  test::ReflectionResponse response;
  ASSERT_TRUE(stream->Read(&response));
  std::set<std::string> names;
  for (const auto& service : response.list_services_response().service()) {
    names.insert(service.name());
  }
  EXPECT_TRUE(stream->Finish().ok());
  EXPECT_TRUE(names.count(kEchoService)) << "services: " << names.size();
  EXPECT_TRUE(names.count("grpc.health.v1.Health"));
}

TEST_F(GrpcServerTest, TraceIdsReachHandlersAndAccessLogs) {
  telemetry::LogCapture capture;
  const std::string trace = "0af7651916cd43dd8448eb211c80319c";
  EchoReply with_parent;
  ASSERT_TRUE(Say("traced", &with_parent, 0, "00-" + trace + "-b7ad6b7169203331-01").ok());
  EXPECT_EQ(with_parent.trace_id(), trace);
  EchoReply without_parent;
  ASSERT_TRUE(Say("untraced", &without_parent).ok());
  EXPECT_TRUE(telemetry::IsValidTraceId(without_parent.trace_id()));
  EXPECT_NE(without_parent.trace_id(), trace);
  ASSERT_TRUE(server_->Shutdown(5s).ok());  // access logs are written as calls complete

  std::map<std::string, std::string> handler_traces;  // message -> trace id
  std::vector<nlohmann::json> access;
  for (const auto& line : capture.Lines()) {
    auto json = nlohmann::json::parse(line);
    if (json["msg"] == "echo handled") handler_traces[json["message"]] = json["trace_id"];
    if (json["msg"] == "grpc request" && json["method"] == "optimus.rpc.test.Echo/Say") {
      access.push_back(json);
    }
  }
  EXPECT_EQ(handler_traces["traced"], trace);
  ASSERT_EQ(access.size(), 2u);
  EXPECT_EQ(access[0]["trace_id"], trace);
  EXPECT_EQ(access[0]["code"], "OK");
  EXPECT_TRUE(access[0]["duration_seconds"].is_number());
  EXPECT_EQ(access[1]["trace_id"], without_parent.trace_id())
      << "handler and access log agree on a trace id the server made up";
  EXPECT_EQ(handler_traces["untraced"], without_parent.trace_id());
}

TEST_F(GrpcServerTest, AuthorizeHelperDistinguishesMissingAndWrongTokens) {
  auto stub = Echo::NewStub(channel_);
  EchoRequest request;
  request.set_message("x");
  EchoReply reply;
  {
    grpc::ClientContext context;
    grpc::Status status = stub->Guarded(&context, request, &reply);
    EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAUTHENTICATED) << status.error_message();
  }
  {
    grpc::ClientContext context;
    context.AddMetadata("authorization", "Bearer wrong");
    EXPECT_EQ(stub->Guarded(&context, request, &reply).error_code(),
              grpc::StatusCode::PERMISSION_DENIED);
  }
  {
    grpc::ClientContext context;
    context.AddMetadata("authorization", "Bearer secret-token");
    grpc::Status status = stub->Guarded(&context, request, &reply);
    EXPECT_TRUE(status.ok()) << status.error_message();
    EXPECT_EQ(reply.message(), "guarded x");
  }
  {
    grpc::ClientContext context;
    context.AddMetadata("authorization", "Bearer secret-token");
    EchoRequest other;
    other.set_message("y");  // the project the call names
    grpc::Status status = stub->Guarded(&context, other, &reply);
    EXPECT_EQ(status.error_code(), grpc::StatusCode::PERMISSION_DENIED);
    EXPECT_NE(status.error_message().find("cannot act on project \"y\""), std::string::npos)
        << status.error_message();
  }
  std::string metrics = Scrape();
  EXPECT_EQ(
      Sample(
          metrics,
          R"(optimus_grpc_requests_total{code="UNAUTHENTICATED",method="optimus.rpc.test.Echo/Guarded"})"),
      1);
}

TEST_F(GrpcServerTest, ShutdownDrainsInFlightCalls) {
  auto in_flight = std::async(std::launch::async, [this] {
    EchoReply reply;
    grpc::Status status = Say("slow", &reply, 500);
    return std::make_pair(status.error_code(), reply);
  });
  while (!service_.entered()) std::this_thread::sleep_for(1ms);
  auto start = std::chrono::steady_clock::now();
  absl::Status stopped = server_->Shutdown(5s);
  EXPECT_TRUE(stopped.ok()) << stopped;
  EXPECT_LT(std::chrono::steady_clock::now() - start, 3s);
  auto [code, reply] = in_flight.get();
  EXPECT_EQ(code, grpc::StatusCode::OK);
  EXPECT_EQ(reply.message(), "slow");
  EXPECT_FALSE(reply.cancelled());
}

TEST_F(GrpcServerTest, ShutdownCancelsCallsOutlivingTheDeadline) {
  auto in_flight = std::async(std::launch::async, [this] {
    EchoReply reply;
    grpc::Status status = Say("stuck", &reply, 5000);
    return status.error_code();
  });
  while (!service_.entered()) std::this_thread::sleep_for(1ms);
  absl::Status stopped = server_->Shutdown(200ms);
  EXPECT_EQ(stopped.code(), absl::StatusCode::kDeadlineExceeded) << stopped;
  EXPECT_NE(in_flight.get(), grpc::StatusCode::OK);
}

TEST_F(GrpcServerTest, UnknownMethodsDoNotBecomeMetricLabels) {
  grpc::ClientContext context;
  grpc::internal::RpcMethod method("/attacker.Random/Name123",
                                   grpc::internal::RpcMethod::NORMAL_RPC);
  EchoRequest request;
  EchoReply reply;
  grpc::Status status =
      grpc::internal::BlockingUnaryCall(channel_.get(), method, &context, request, &reply);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::UNIMPLEMENTED);
  std::string metrics = Scrape();
  EXPECT_EQ(metrics.find("attacker"), std::string::npos) << metrics;
  EXPECT_EQ(
      Sample(metrics, R"(optimus_grpc_requests_total{code="UNIMPLEMENTED",method="unknown"})"), 1)
      << metrics;
}

TEST(GrpcServerStartTest, AnAddressInUseFails) {
  prometheus::Registry registry;
  GrpcServerOptions options;
  options.address = "127.0.0.1:0";
  options.metrics = &registry;
  GrpcServer first(options);
  ASSERT_TRUE(first.Start().ok());
  options.address = "127.0.0.1:" + std::to_string(first.port());
  GrpcServer second(options);
  absl::Status status = second.Start();
  EXPECT_EQ(status.code(), absl::StatusCode::kUnavailable) << status;
}

}  // namespace
}  // namespace optimus::rpc
