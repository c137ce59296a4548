// Tests of the status mappings and the bearer-token decision.
#include "optimus/rpc/status.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "optimus/rpc/auth.h"

namespace optimus::rpc {
namespace {

TEST(StatusTest, HttpMappingFollowsGrpcGateway) {
  struct Case {
    absl::Status status;
    int http;
  };
  for (const Case& c : std::vector<Case>{
           {absl::OkStatus(), 200},
           {absl::InvalidArgumentError("x"), 400},
           {absl::NotFoundError("x"), 404},
           {absl::AlreadyExistsError("x"), 409},
           {absl::PermissionDeniedError("x"), 403},
           {absl::UnauthenticatedError("x"), 401},
           {absl::FailedPreconditionError("x"), 400},
           {absl::UnavailableError("x"), 503},
           {absl::ResourceExhaustedError("x"), 429},
           {absl::DeadlineExceededError("x"), 504},
           {absl::UnimplementedError("x"), 501},
           {absl::InternalError("x"), 500},
           {absl::AbortedError("x"), 409},
           {absl::OutOfRangeError("x"), 400},
           {absl::CancelledError("x"), 499},
           {absl::DataLossError("x"), 500},
           {absl::UnknownError("x"), 500},
       }) {
    EXPECT_EQ(HttpStatusFromStatus(c.status), c.http) << c.status;
  }
}

TEST(StatusTest, GrpcMappingIsOneToOne) {
  for (int code = 0; code <= 16; ++code) {
    absl::Status status(static_cast<absl::StatusCode>(code), code == 0 ? "" : "message");
    grpc::Status grpc_status = ToGrpcStatus(status);
    EXPECT_EQ(static_cast<int>(grpc_status.error_code()), code);
    EXPECT_EQ(FromGrpcStatus(grpc_status), status);
  }
  EXPECT_EQ(StatusCodeName(absl::StatusCode::kNotFound), "NOT_FOUND");
}

TEST(StatusTest, ErrorJsonIsTheGatewayShape) {
  auto body = nlohmann::json::parse(ErrorJson(absl::NotFoundError("job \"x\" not found")));
  EXPECT_EQ(body["code"], 5);
  EXPECT_EQ(body["message"], "job \"x\" not found");
  EXPECT_TRUE(body["details"].is_array());
}

TEST(AuthTest, BearerTokenParsing) {
  EXPECT_EQ(BearerToken("Bearer abc"), "abc");
  EXPECT_EQ(BearerToken("bearer   abc "), "abc");
  EXPECT_EQ(BearerToken("Basic dXNlcg=="), "");
  EXPECT_EQ(BearerToken("Bearer"), "");
}

TEST(AuthTest, MissingWrongAndRightTokens) {
  StaticTokenAuthenticator auth({telemetry::Redacted<std::string>("good-token")}, {"/public"});
  EXPECT_TRUE(Authorize(auth, "/public", "").ok());
  absl::Status missing = Authorize(auth, "/private", "");
  EXPECT_EQ(missing.code(), absl::StatusCode::kUnauthenticated);
  EXPECT_NE(missing.message().find("Authorization: Bearer"), absl::string_view::npos);
  EXPECT_EQ(Authorize(auth, "/private", "Basic abc").code(), absl::StatusCode::kUnauthenticated);
  absl::Status wrong = Authorize(auth, "/private", "Bearer bad-token");
  EXPECT_EQ(wrong.code(), absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(wrong.message().find("bad-token"), absl::string_view::npos)
      << "the presented token must not be echoed";
  EXPECT_TRUE(Authorize(auth, "/private", "Bearer good-token").ok());
  EXPECT_EQ(Authorize(auth, "/private", "Bearer good-token-longer").code(),
            absl::StatusCode::kPermissionDenied);
}

}  // namespace
}  // namespace optimus::rpc
