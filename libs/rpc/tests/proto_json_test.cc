// Tests of the protobuf JSON mapping used for REST bodies.
#include "optimus/rpc/proto_json.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "tests/proto/echo_test.pb.h"

namespace optimus::rpc {
namespace {

using test::EchoRequest;

TEST(ProtoJsonTest, ParsesCamelCaseAndSnakeCaseNames) {
  auto camel = ParseJsonBody<EchoRequest>(R"({"projectName":"p1","delayMs":5,"tags":["a","b"]})");
  ASSERT_TRUE(camel.ok()) << camel.status();
  EXPECT_EQ(camel->project_name(), "p1");
  EXPECT_EQ(camel->delay_ms(), 5);
  EXPECT_EQ(camel->tags_size(), 2);
  auto snake = ParseJsonBody<EchoRequest>(R"({"project_name":"p2","count":"7"})");
  ASSERT_TRUE(snake.ok()) << snake.status();
  EXPECT_EQ(snake->project_name(), "p2");
  EXPECT_EQ(snake->count(), 7) << "int64 accepts the string form proto3 JSON prints";
}

TEST(ProtoJsonTest, EmptyBodyIsTheEmptyMessage) {
  auto empty = ParseJsonBody<EchoRequest>("  \n");
  ASSERT_TRUE(empty.ok()) << empty.status();
  EXPECT_EQ(empty->ByteSizeLong(), 0u);
}

TEST(ProtoJsonTest, UnknownFieldsAndBadJsonAreClearErrors) {
  auto unknown = ParseJsonBody<EchoRequest>(R"({"projectNam":"p1"})");
  ASSERT_FALSE(unknown.ok());
  EXPECT_EQ(unknown.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(unknown.status().message().find("projectNam"), absl::string_view::npos)
      << unknown.status();
  EXPECT_NE(unknown.status().message().find("optimus.rpc.test.EchoRequest"),
            absl::string_view::npos)
      << unknown.status();
  auto broken = ParseJsonBody<EchoRequest>(R"({"message": )");
  EXPECT_EQ(broken.status().code(), absl::StatusCode::kInvalidArgument);
  auto wrong_type = ParseJsonBody<EchoRequest>(R"({"delayMs":"soon"})");
  EXPECT_EQ(wrong_type.status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(ProtoJsonTest, PrintsLowerCamelCaseWithDefaults) {
  EchoRequest request;
  request.set_project_name("p1");
  auto json = ToJson(request);
  ASSERT_TRUE(json.ok());
  auto parsed = nlohmann::json::parse(*json);
  EXPECT_EQ(parsed["projectName"], "p1");
  EXPECT_EQ(parsed["delayMs"], 0) << "defaults are printed, as grpc-gateway does";
  EXPECT_EQ(parsed["count"], "0") << "int64 prints as a string in proto3 JSON";
  EXPECT_TRUE(parsed["tags"].is_array());

  auto snake = ToJson(request, {.proto_field_names = true, .emit_defaults = false});
  ASSERT_TRUE(snake.ok());
  EXPECT_EQ(nlohmann::json::parse(*snake), nlohmann::json::parse(R"({"project_name":"p1"})"));
}

TEST(ProtoJsonTest, ProtoResponseIsJson) {
  EchoRequest request;
  request.set_message("hi");
  HttpResponse response = ProtoResponse(request, 201);
  EXPECT_EQ(response.status, 201);
  EXPECT_EQ(response.content_type, "application/json");
  EXPECT_EQ(nlohmann::json::parse(response.body)["message"], "hi");
}

}  // namespace
}  // namespace optimus::rpc
