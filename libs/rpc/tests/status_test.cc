// Tests of the status mappings and the bearer-token decision.
#include "optimus/rpc/status.h"

#include <gtest/gtest.h>
#include <prometheus/registry.h>

#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
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

Authenticator MakeAuthenticator(prometheus::Registry* metrics = nullptr) {
  auto grants = ParseTokenGrants(
      {"admin=sha256:" + TokenSha256Hex("root-token"),
       "project:alpha=alpha-token",  // plain: kept as its hash
       "project:beta=SHA256:" + absl::AsciiStrToUpper(TokenSha256Hex("beta-token"))});
  EXPECT_TRUE(grants.ok()) << grants.status();
  return Authenticator(*grants,
                       {{"GET /public", Access::kPublic},
                        {"GET /window", Access::kAnyToken},
                        {"POST /project", Access::kAdmin}},
                       metrics);
}

TEST(AuthTest, MissingAndUnknownTokens) {
  Authenticator auth = MakeAuthenticator();
  EXPECT_TRUE(auth.Authorize({.route = "GET /public"}, "").ok());
  absl::Status missing = auth.Authorize({.route = "GET /private", .project = "alpha"}, "").status();
  EXPECT_EQ(missing.code(), absl::StatusCode::kUnauthenticated);
  EXPECT_NE(missing.message().find("Authorization: Bearer"), absl::string_view::npos);
  EXPECT_EQ(auth.Authorize({.route = "GET /private"}, "Basic abc").status().code(),
            absl::StatusCode::kUnauthenticated);
  absl::Status wrong =
      auth.Authorize({.route = "GET /private", .project = "alpha"}, "Bearer bad-token").status();
  EXPECT_EQ(wrong.code(), absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(wrong.message().find("bad-token"), absl::string_view::npos)
      << "the presented token must not be echoed";
  EXPECT_EQ(auth.Authorize({.route = "GET /private", .project = "alpha"}, "Bearer alpha-token-x")
                .status()
                .code(),
            absl::StatusCode::kPermissionDenied);
}

TEST(AuthTest, ProjectTokensActOnlyOnTheirProject) {
  Authenticator auth = MakeAuthenticator();
  auto alpha = auth.Authorize({.route = "GET /private", .project = "alpha"}, "Bearer alpha-token");
  ASSERT_TRUE(alpha.ok()) << alpha.status();
  EXPECT_FALSE(alpha->admin);
  EXPECT_EQ(alpha->project, "alpha");
  EXPECT_TRUE(
      auth.Authorize({.route = "GET /private", .project = "beta"}, "Bearer beta-token").ok())
      << "a sha256 in capitals is read as the same hash";

  absl::Status other =
      auth.Authorize({.route = "GET /private", .project = "beta"}, "Bearer alpha-token").status();
  EXPECT_EQ(other.code(), absl::StatusCode::kPermissionDenied);
  EXPECT_NE(other.message().find("belongs to project \"alpha\" and cannot act on project \"beta\""),
            absl::string_view::npos)
      << other.message();
  EXPECT_EQ(auth.Authorize({.route = "GET /private"}, "Bearer alpha-token").status().code(),
            absl::StatusCode::kPermissionDenied)
      << "a call naming no project is for admins only";
  EXPECT_TRUE(auth.Authorize({.route = "GET /window"}, "Bearer alpha-token").ok());
  EXPECT_EQ(auth.Authorize({.route = "POST /project", .project = "alpha"}, "Bearer alpha-token")
                .status()
                .code(),
            absl::StatusCode::kPermissionDenied);
  EXPECT_TRUE(
      auth.Authorize({.route = "POST /project", .project = "alpha", .access = Access::kProject},
                     "Bearer alpha-token")
          .ok())
      << "the handler may ask less of a call than the route's rule";
}

TEST(AuthTest, AdminTokensActEverywhere) {
  Authenticator auth = MakeAuthenticator();
  for (std::string_view project : {"alpha", "beta", ""}) {
    auto admin =
        auth.Authorize({.route = "POST /project", .project = project}, "Bearer root-token");
    ASSERT_TRUE(admin.ok()) << admin.status();
    EXPECT_TRUE(admin->admin);
  }
  auto open = Authorize(nullptr, {.route = "POST /project"}, "");
  ASSERT_TRUE(open.ok());
  EXPECT_TRUE(open->admin) << "no authenticator: local use, everyone may do everything";
}

TEST(AuthTest, DenialsAreCountedByRouteAndReason) {
  prometheus::Registry registry;
  Authenticator auth = MakeAuthenticator(&registry);
  (void)auth.Authorize({.route = "GET /private", .project = "beta"}, "");
  (void)auth.Authorize({.route = "GET /private", .project = "beta"}, "Bearer nope");
  (void)auth.Authorize({.route = "GET /private", .project = "beta"}, "Bearer alpha-token");
  (void)auth.Authorize({.route = "GET /private", .project = "beta"}, "Bearer alpha-token");
  (void)auth.Authorize({.route = "POST /project"}, "Bearer alpha-token");
  (void)auth.Authorize({.route = "GET /private", .project = "alpha"}, "Bearer alpha-token");
  std::map<std::string, double> counts;
  for (const auto& family : registry.Collect()) {
    if (family.name != "optimus_auth_denials_total") continue;
    for (const auto& metric : family.metric) {
      std::string key;
      for (const auto& label : metric.label) key += label.name + "=" + label.value + " ";
      counts[key] = metric.counter.value;
    }
  }
  EXPECT_EQ(counts["reason=missing route=GET /private "], 1);
  EXPECT_EQ(counts["reason=unknown route=GET /private "], 1);
  EXPECT_EQ(counts["reason=project route=GET /private "], 2);
  EXPECT_EQ(counts["reason=admin route=POST /project "], 1);
  EXPECT_EQ(counts.size(), 4u) << "an allowed call is no denial";
}

TEST(AuthTest, GrantsParseAndRefuseClearly) {
  auto bad = [](std::vector<std::string> entries) {
    auto parsed = ParseTokenGrants(entries);
    EXPECT_FALSE(parsed.ok());
    return std::string(parsed.status().message());
  };
  EXPECT_NE(bad({"admin=sha256:" + TokenSha256Hex("a"), "s3cr3t"}).find("entry 2 names no scope"),
            std::string::npos);
  std::string scope = bad({"root=s3cr3t"});
  EXPECT_NE(scope.find("neither admin nor project:<name>"), std::string::npos) << scope;
  EXPECT_EQ(scope.find("s3cr3t"), std::string::npos) << "the secret is never repeated";
  EXPECT_NE(bad({"admin=sha256:abc"}).find("not 64 hex digits"), std::string::npos);
  EXPECT_NE(bad({"project:=x"}).find("neither admin"), std::string::npos);
  EXPECT_EQ(bad({"dG9rZW4tcGFydA=="}).find("dG9rZW4tcGFydA"), std::string::npos)
      << "a base64 token with '=' in it is not read back as a scope";
  EXPECT_NE(bad({"admin="}).find("no token"), std::string::npos);

  std::string token = NewToken();
  EXPECT_TRUE(absl::StartsWith(token, "opt_")) << token;
  EXPECT_EQ(token.size(), 4u + 43u);
  EXPECT_EQ(token.find_first_not_of(
                "opt_ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-"),
            std::string::npos);
  EXPECT_NE(NewToken(), token);
  EXPECT_EQ(TokenSha256Hex("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

}  // namespace
}  // namespace optimus::rpc
