// Bearer-token access control shared by the HTTP and gRPC servers.
//
// A token speaks for an administrator or for one project. The server keeps only the SHA-256 of
// each token (auth.tokens entries "admin=sha256:<hex>", "project:<name>=sha256:<hex>"), so a
// leaked config or Helm secret gives nobody a usable token.
//
// Each route needs one of four kinds of access (Access); the default is kProject: an admin
// token, or a token of the project the call names (the {project_name} segment or the
// project_name query parameter over HTTP; the request's project field over gRPC). Every denial
// is counted in optimus_auth_denials_total{route,reason}.
#pragma once

#include <absl/status/status.h>
#include <absl/status/statusor.h>

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace prometheus {
class Registry;
template <typename T>
class Family;
class Counter;
}  // namespace prometheus

namespace optimus::rpc {

// Who a token speaks for.
struct Principal {
  bool admin = false;
  std::string project;  // the project of a project token ("" for an admin token)
};

// What a route asks of its caller.
enum class Access {
  kPublic,    // no token (the version; probes and /metrics never need one anyway)
  kAnyToken,  // any token the server accepts (reads that name no project: window maths)
  kProject,   // an admin token or one of the call's project (the default)
  kAdmin,     // an admin token (creating projects, listing every project)
};

// One call as the authenticator sees it.
struct Call {
  // "POST /api/v1beta1/project" (HTTP: method and route template) or "package.Service/Method".
  std::string_view route;
  // The project the call reads or changes; "" when it names none.
  std::string_view project;
  // Decided by the handler for this call (RegisterProject: kProject for a project that exists,
  // kAdmin for a new one); the route's rule when unset.
  std::optional<Access> access;
};

// A token the server accepts: whom it speaks for and the SHA-256 (hex) of its value.
struct TokenGrant {
  Principal principal;
  std::string sha256_hex;
};

// The lowercase hex SHA-256 of a token, as auth.tokens entries hold it.
std::string TokenSha256Hex(std::string_view token);

// A new random token (32 bytes from the OS, URL-safe base64, prefixed "opt_").
std::string NewToken();

// Parses auth.tokens: each entry is "admin=<secret>" or "project:<name>=<secret>", where
// <secret> is "sha256:<64 hex digits>" or, for local use, the token itself (kept only as its
// hash). Errors name the entry by its position and never repeat its secret.
absl::StatusOr<std::vector<TokenGrant>> ParseTokenGrants(const std::vector<std::string>& entries);

class Authenticator {
 public:
  // `rules`: the access of routes that do not need kProject, by Call::route. `metrics`: where
  // denials are counted; not counted when null.
  explicit Authenticator(std::vector<TokenGrant> grants,
                         std::map<std::string, Access, std::less<>> rules = {},
                         prometheus::Registry* metrics = nullptr);

  Access AccessOf(std::string_view route) const;

  // The decision for one call from its Authorization header value: the caller, or
  // Unauthenticated (HTTP 401) when a needed token is missing or not a bearer token,
  // PermissionDenied (HTTP 403) when the token is unknown or not enough for this call.
  // Messages never repeat the presented token.
  absl::StatusOr<Principal> Authorize(const Call& call, std::string_view authorization) const;

 private:
  absl::Status Deny(const Call& call, std::string_view reason, absl::Status status) const;

  std::unordered_map<std::string, Principal> by_hash_;
  std::map<std::string, Access, std::less<>> rules_;
  prometheus::Family<prometheus::Counter>* denials_ = nullptr;
};

// The token of an "Authorization: Bearer <token>" value, or "" when the value is not that.
std::string_view BearerToken(std::string_view authorization);

// The decision with no authenticator configured (local use): everyone is an administrator.
absl::StatusOr<Principal> Authorize(const Authenticator* authenticator, const Call& call,
                                    std::string_view authorization);

}  // namespace optimus::rpc
