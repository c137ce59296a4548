// Bearer-token parsing and the static-token authenticator.
#include "optimus/rpc/auth.h"

#include <algorithm>
#include <utility>

namespace optimus::rpc {
namespace {

// Compares in time independent of where the strings differ, so a caller cannot guess a token
// byte by byte from response times.
bool ConstantTimeEquals(std::string_view a, std::string_view b) {
  unsigned char diff = a.size() == b.size() ? 0 : 1;
  size_t n = std::max(a.size(), b.size());
  for (size_t i = 0; i < n; ++i) {
    unsigned char x = i < a.size() ? static_cast<unsigned char>(a[i]) : 0;
    unsigned char y = i < b.size() ? static_cast<unsigned char>(b[i]) : 0;
    diff |= static_cast<unsigned char>(x ^ y);
  }
  return diff == 0;
}

bool StartsWithIgnoreCase(std::string_view text, std::string_view prefix) {
  if (text.size() < prefix.size()) return false;
  for (size_t i = 0; i < prefix.size(); ++i) {
    char c = text[i];
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    if (c != prefix[i]) return false;
  }
  return true;
}

}  // namespace

StaticTokenAuthenticator::StaticTokenAuthenticator(
    std::vector<telemetry::Redacted<std::string>> tokens,
    std::set<std::string, std::less<>> public_routes)
    : tokens_(std::move(tokens)), public_routes_(std::move(public_routes)) {}

bool StaticTokenAuthenticator::RequiresToken(std::string_view route) const {
  return public_routes_.find(route) == public_routes_.end();
}

absl::Status StaticTokenAuthenticator::Verify(std::string_view route,
                                              std::string_view token) const {
  bool accepted = false;
  for (const auto& candidate : tokens_) {
    // No early exit: the time taken does not tell which token matched.
    if (!candidate.value().empty() && ConstantTimeEquals(candidate.value(), token)) {
      accepted = true;
    }
  }
  if (accepted) return absl::OkStatus();
  return absl::PermissionDeniedError("the bearer token is not valid for " + std::string(route) +
                                     "; check the token configured for this client");
}

std::string_view BearerToken(std::string_view authorization) {
  // RFC 6750: the scheme is case-insensitive, then one or more spaces.
  if (!StartsWithIgnoreCase(authorization, "bearer ")) return {};
  authorization.remove_prefix(7);
  while (!authorization.empty() && authorization.front() == ' ') authorization.remove_prefix(1);
  while (!authorization.empty() && authorization.back() == ' ') authorization.remove_suffix(1);
  return authorization;
}

absl::Status Authorize(const Authenticator& authenticator, std::string_view route,
                       std::string_view authorization) {
  if (!authenticator.RequiresToken(route)) return absl::OkStatus();
  if (authorization.empty()) {
    return absl::UnauthenticatedError(std::string(route) +
                                      " needs a token: send \"Authorization: Bearer <token>\"");
  }
  std::string_view token = BearerToken(authorization);
  if (token.empty()) {
    return absl::UnauthenticatedError(
        "the Authorization header is not a bearer token: send \"Authorization: Bearer <token>\"");
  }
  return authenticator.Verify(route, token);
}

}  // namespace optimus::rpc
