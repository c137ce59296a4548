// Access tokens for Google Cloud Storage from a service-account key: the OAuth 2.0 JWT-bearer
// grant (RFC 7523) that trades an RS256-signed assertion for a bearer token, cached until a
// minute before it expires.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "optimus/blob/curl_client.h"

namespace optimus::blob {

// The fields of a service-account key file ("type": "service_account") that the grant needs.
struct ServiceAccountKey {
  std::string client_email;
  std::string private_key_pem;
  std::string token_uri;  // https://oauth2.googleapis.com/token when the file has none.
};

// InvalidArgument naming what is wrong or missing; the message never quotes the key file.
absl::StatusOr<ServiceAccountKey> ParseServiceAccountKey(std::string_view json);

// Base64url without padding, as JWTs use it (RFC 7515 section 2).
std::string Base64UrlEncode(std::string_view bytes);

class GcsTokenSource {
 public:
  struct Options {
    std::string scope;
    int connect_timeout_ms = 5000;
    int request_timeout_ms = 60000;
    int max_attempts = 4;  // Tries of one token request (transport failures, 5xx, 429).
  };

  // InvalidArgument when the private key is not a PEM RSA key. Does not contact token_uri.
  static absl::StatusOr<std::unique_ptr<GcsTokenSource>> Create(ServiceAccountKey key,
                                                                Options options);
  ~GcsTokenSource();

  // The signed assertion "header.claims.signature" for a request made at `now_unix_seconds`:
  // iss = client_email, scope, aud = token_uri, iat = now, exp = now + 1 hour.
  absl::StatusOr<std::string> Assertion(int64_t now_unix_seconds) const;

  // A bearer token: the cached one while it has more than a minute left, otherwise a new one
  // from token_uri. Safe from several threads; concurrent callers wait for a single request.
  // PermissionDenied when token_uri refuses the key, Unavailable when it cannot be reached.
  absl::StatusOr<std::string> Token();

  // Drops `token` from the cache (the server refused it), so the next Token() fetches anew.
  void Invalidate(const std::string& token);

  const std::string& token_uri() const { return key_.token_uri; }

 private:
  struct PrivateKey;

  GcsTokenSource(ServiceAccountKey key, Options options, std::unique_ptr<PrivateKey> private_key);
  absl::StatusOr<std::string> FetchLocked();

  ServiceAccountKey key_;
  Options options_;
  std::unique_ptr<PrivateKey> private_key_;
  CurlClient http_;

  std::mutex mu_;  // Guards the cache and serialises token requests.
  std::string token_;
  std::chrono::steady_clock::time_point expires_at_;
};

}  // namespace optimus::blob
