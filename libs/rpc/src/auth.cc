// Token grants, their parsing, and the access decision for a call.
#include "optimus/rpc/auth.h"

#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/sha.h>
#include <prometheus/counter.h>
#include <prometheus/registry.h>

#include <array>
#include <cstdio>
#include <stdexcept>
#include <utility>

#include "absl/strings/ascii.h"

namespace optimus::rpc {
namespace {

constexpr std::string_view kSha256Prefix = "sha256:";
constexpr std::string_view kProjectPrefix = "project:";

// Concatenates string pieces (Debian's Abseil has its own string_view, so no absl::StrCat).
template <typename... Parts>
std::string Cat(const Parts&... parts) {
  std::string out;
  (out.append(std::string_view(parts)), ...);
  return out;
}

bool StartsWithIgnoreCase(std::string_view text, std::string_view prefix) {
  if (text.size() < prefix.size()) return false;
  for (size_t i = 0; i < prefix.size(); ++i) {
    if (absl::ascii_tolower(static_cast<unsigned char>(text[i])) !=
        absl::ascii_tolower(static_cast<unsigned char>(prefix[i]))) {
      return false;
    }
  }
  return true;
}

bool IsLowerHex(std::string_view s) {
  for (char c : s) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

absl::Status BadEntry(size_t index, std::string_view why) {
  return absl::InvalidArgumentError(
      Cat("auth.tokens entry ", std::to_string(index + 1), " ", why,
          "; write \"admin=sha256:<hex>\" or \"project:<name>=sha256:<hex>\" "
          "(optimus token new prints one)"));
}

}  // namespace

std::string TokenSha256Hex(std::string_view token) {
  std::array<unsigned char, SHA256_DIGEST_LENGTH> digest{};
  SHA256(reinterpret_cast<const unsigned char*>(token.data()), token.size(), digest.data());
  std::string hex;
  hex.reserve(digest.size() * 2);
  for (unsigned char b : digest) {
    char pair[3];
    std::snprintf(pair, sizeof pair, "%02x", b);
    hex += pair;
  }
  return hex;
}

std::string NewToken() {
  std::array<unsigned char, 32> random{};
  if (RAND_bytes(random.data(), static_cast<int>(random.size())) != 1) {
    throw std::runtime_error("the OS random source failed");
  }
  std::string encoded(4 * ((random.size() + 2) / 3) + 1, '\0');
  int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(encoded.data()), random.data(),
                          static_cast<int>(random.size()));
  encoded.resize(static_cast<size_t>(n));
  std::string token = "opt_";
  for (char c : encoded) {
    if (c == '=') continue;
    token += c == '+' ? '-' : c == '/' ? '_' : c;
  }
  return token;
}

absl::StatusOr<std::vector<TokenGrant>> ParseTokenGrants(const std::vector<std::string>& entries) {
  std::vector<TokenGrant> grants;
  for (size_t i = 0; i < entries.size(); ++i) {
    const std::string trimmed(absl::StripAsciiWhitespace(entries[i]));
    std::string_view entry = trimmed;
    size_t eq = entry.find('=');
    if (eq == std::string_view::npos) return BadEntry(i, "names no scope (no '=')");
    std::string_view scope = entry.substr(0, eq);
    std::string_view secret = entry.substr(eq + 1);
    TokenGrant grant;
    if (scope == "admin") {
      grant.principal.admin = true;
    } else if (scope.substr(0, kProjectPrefix.size()) == kProjectPrefix &&
               scope.size() > kProjectPrefix.size()) {
      grant.principal.project = std::string(scope.substr(kProjectPrefix.size()));
    } else {
      // Not repeated: an entry in the old plain-token form may hold a token with a '='.
      return BadEntry(i, "has a scope that is neither admin nor project:<name>");
    }
    if (secret.empty()) return BadEntry(i, "has no token after '='");
    if (StartsWithIgnoreCase(secret, kSha256Prefix)) {
      std::string hex = absl::AsciiStrToLower(std::string(secret.substr(kSha256Prefix.size())));
      if (hex.size() != 64 || !IsLowerHex(hex)) {
        return BadEntry(i, "has a sha256 that is not 64 hex digits");
      }
      grant.sha256_hex = std::move(hex);
    } else {
      grant.sha256_hex = TokenSha256Hex(secret);
    }
    grants.push_back(std::move(grant));
  }
  return grants;
}

Authenticator::Authenticator(std::vector<TokenGrant> grants,
                             std::map<std::string, Access, std::less<>> rules,
                             prometheus::Registry* metrics)
    : rules_(std::move(rules)) {
  for (auto& g : grants) by_hash_[g.sha256_hex] = std::move(g.principal);
  if (metrics != nullptr) {
    denials_ = &prometheus::BuildCounter()
                    .Name("optimus_auth_denials_total")
                    .Help("Calls refused for a missing, unknown or insufficient bearer token")
                    .Register(*metrics);
  }
}

Access Authenticator::AccessOf(std::string_view route) const {
  auto it = rules_.find(route);
  return it == rules_.end() ? Access::kProject : it->second;
}

absl::Status Authenticator::Deny(const Call& call, std::string_view reason,
                                 absl::Status status) const {
  if (denials_ != nullptr) {
    denials_->Add({{"route", std::string(call.route)}, {"reason", std::string(reason)}})
        .Increment();
  }
  return status;
}

absl::StatusOr<Principal> Authenticator::Authorize(const Call& call,
                                                   std::string_view authorization) const {
  const Access access = call.access.value_or(AccessOf(call.route));
  if (access == Access::kPublic) return Principal{};
  if (authorization.empty()) {
    return Deny(call, "missing",
                absl::UnauthenticatedError(
                    Cat(call.route,
                        " needs a token: send \"Authorization: Bearer <token>\" (the CLI "
                        "sends OPTIMUS_AUTH_BEARER_TOKEN)")));
  }
  std::string_view token = BearerToken(authorization);
  if (token.empty()) {
    return Deny(call, "missing",
                absl::UnauthenticatedError("the Authorization header is not a bearer token: send "
                                           "\"Authorization: Bearer <token>\""));
  }
  // Looked up by its hash: the time taken tells nothing of how close a guess was.
  auto it = by_hash_.find(TokenSha256Hex(token));
  if (it == by_hash_.end()) {
    return Deny(call, "unknown",
                absl::PermissionDeniedError(
                    Cat("the bearer token is not one this server accepts (", call.route,
                        "); check the token the client sends and the server's auth.tokens")));
  }
  const Principal& principal = it->second;
  if (principal.admin || access == Access::kAnyToken) return principal;
  if (access == Access::kAdmin) {
    return Deny(
        call, "admin",
        absl::PermissionDeniedError(Cat(
            call.route, call.project.empty() ? "" : Cat(" for project \"", call.project, "\""),
            " needs an admin token; this token belongs to project \"", principal.project, "\"")));
  }
  if (call.project.empty()) {
    return Deny(call, "project",
                absl::PermissionDeniedError(
                    Cat(call.route,
                        " names no project, so only an admin token may call it; name "
                        "project \"",
                        principal.project, "\" (project_name) to use this token")));
  }
  if (call.project != principal.project) {
    return Deny(
        call, "project",
        absl::PermissionDeniedError(Cat("this token belongs to project \"", principal.project,
                                        "\" and cannot act on project \"", call.project, "\"")));
  }
  return principal;
}

std::string_view BearerToken(std::string_view authorization) {
  // RFC 6750: the scheme is case-insensitive, then one or more spaces.
  if (!StartsWithIgnoreCase(authorization, "bearer ")) return {};
  authorization.remove_prefix(7);
  while (!authorization.empty() && authorization.front() == ' ') authorization.remove_prefix(1);
  while (!authorization.empty() && authorization.back() == ' ') authorization.remove_suffix(1);
  return authorization;
}

absl::StatusOr<Principal> Authorize(const Authenticator* authenticator, const Call& call,
                                    std::string_view authorization) {
  if (authenticator == nullptr) return Principal{.admin = true};
  return authenticator->Authorize(call, authorization);
}

}  // namespace optimus::rpc
