// GcsTokenSource: parses the key, signs JWT assertions with OpenSSL and trades them for tokens.
#include "gcs_token_source.h"

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include <ctime>
#include <thread>

#include "absl/status/status.h"
#include "nlohmann/json.hpp"
#include "uri_util.h"

namespace optimus::blob {
namespace {

using Json = nlohmann::json;

constexpr char kDefaultTokenUri[] = "https://oauth2.googleapis.com/token";
constexpr int64_t kAssertionLifetimeSeconds = 3600;
// A token is renewed this long before it expires, so a request never carries a dying one.
constexpr auto kRefreshMargin = std::chrono::seconds(60);
constexpr size_t kMaxQuotedBody = 200;

// A key file field that must be a non-empty string.
absl::StatusOr<std::string> RequiredString(const Json& doc, const char* name) {
  auto it = doc.find(name);
  if (it == doc.end() || !it->is_string() || it->get<std::string>().empty()) {
    return absl::InvalidArgumentError(std::string("credentials_json has no \"") + name +
                                      "\" string (expected a service-account key file)");
  }
  return it->get<std::string>();
}

// Refuses to prompt on the terminal for the passphrase of an encrypted key.
int NoPassphrase(char*, int, int, void*) { return -1; }

// The error and error_description of an OAuth error answer, or the start of a non-JSON body.
std::string DescribeOAuthError(const std::string& body) {
  Json doc = Json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (doc.is_object()) {
    std::string out;
    if (auto it = doc.find("error"); it != doc.end() && it->is_string()) {
      out = it->get<std::string>();
    }
    if (auto it = doc.find("error_description"); it != doc.end() && it->is_string()) {
      out += (out.empty() ? "" : ": ") + it->get<std::string>();
    }
    return out;
  }
  return body.substr(0, kMaxQuotedBody);
}

}  // namespace

absl::StatusOr<ServiceAccountKey> ParseServiceAccountKey(std::string_view json) {
  Json doc = Json::parse(json.begin(), json.end(), nullptr, /*allow_exceptions=*/false);
  // Parser messages quote the input around the error; the input holds a private key.
  if (doc.is_discarded() || !doc.is_object()) {
    return absl::InvalidArgumentError(
        "credentials_json is not a JSON object (expected a service-account key file)");
  }
  auto type = doc.find("type");
  if (type == doc.end() || !type->is_string() || type->get<std::string>() != "service_account") {
    std::string found = type != doc.end() && type->is_string() ? type->get<std::string>() : "";
    return absl::InvalidArgumentError(
        "credentials_json has \"type\": \"" + found +
        "\"; only service-account keys (\"type\": \"service_account\") are supported");
  }
  ServiceAccountKey key;
  auto email = RequiredString(doc, "client_email");
  if (!email.ok()) return email.status();
  key.client_email = *std::move(email);
  auto pem = RequiredString(doc, "private_key");
  if (!pem.ok()) return pem.status();
  key.private_key_pem = *std::move(pem);
  key.token_uri = kDefaultTokenUri;
  if (doc.contains("token_uri")) {
    auto uri = RequiredString(doc, "token_uri");
    if (!uri.ok()) return uri.status();
    key.token_uri = *std::move(uri);
  }
  return key;
}

std::string Base64UrlEncode(std::string_view bytes) {
  static constexpr char kAlphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  std::string out;
  out.reserve((bytes.size() + 2) / 3 * 4);
  size_t i = 0;
  for (; i + 3 <= bytes.size(); i += 3) {
    uint32_t n = static_cast<uint8_t>(bytes[i]) << 16 | static_cast<uint8_t>(bytes[i + 1]) << 8 |
                 static_cast<uint8_t>(bytes[i + 2]);
    out.push_back(kAlphabet[n >> 18 & 63]);
    out.push_back(kAlphabet[n >> 12 & 63]);
    out.push_back(kAlphabet[n >> 6 & 63]);
    out.push_back(kAlphabet[n & 63]);
  }
  size_t rest = bytes.size() - i;
  if (rest > 0) {
    uint32_t n = static_cast<uint8_t>(bytes[i]) << 16;
    if (rest == 2) n |= static_cast<uint8_t>(bytes[i + 1]) << 8;
    out.push_back(kAlphabet[n >> 18 & 63]);
    out.push_back(kAlphabet[n >> 12 & 63]);
    if (rest == 2) out.push_back(kAlphabet[n >> 6 & 63]);
  }
  return out;
}

struct GcsTokenSource::PrivateKey {
  EVP_PKEY* pkey = nullptr;
  ~PrivateKey() { EVP_PKEY_free(pkey); }
};

absl::StatusOr<std::unique_ptr<GcsTokenSource>> GcsTokenSource::Create(ServiceAccountKey key,
                                                                       Options options) {
  auto uri = uri_util::ParseHttpEndpoint(key.token_uri);
  if (!uri.ok()) {
    return absl::InvalidArgumentError("credentials_json token_uri \"" + key.token_uri +
                                      "\": " + std::string(uri.status().message()));
  }
  auto private_key = std::make_unique<PrivateKey>();
  BIO* bio =
      BIO_new_mem_buf(key.private_key_pem.data(), static_cast<int>(key.private_key_pem.size()));
  if (bio == nullptr) return absl::ResourceExhaustedError("BIO_new_mem_buf failed");
  private_key->pkey = PEM_read_bio_PrivateKey(bio, nullptr, &NoPassphrase, nullptr);
  BIO_free(bio);
  ERR_clear_error();  // Leave no stale errors for the next OpenSSL user on this thread.
  if (private_key->pkey == nullptr) {
    return absl::InvalidArgumentError("credentials_json private_key of " + key.client_email +
                                      " is not an unencrypted PEM private key");
  }
  if (EVP_PKEY_base_id(private_key->pkey) != EVP_PKEY_RSA) {
    return absl::InvalidArgumentError("credentials_json private_key of " + key.client_email +
                                      " is not an RSA key (RS256 needs one)");
  }
  return std::unique_ptr<GcsTokenSource>(
      new GcsTokenSource(std::move(key), std::move(options), std::move(private_key)));
}

GcsTokenSource::GcsTokenSource(ServiceAccountKey key, Options options,
                               std::unique_ptr<PrivateKey> private_key)
    : key_(std::move(key)),
      options_(std::move(options)),
      private_key_(std::move(private_key)),
      http_(options_.connect_timeout_ms, options_.request_timeout_ms) {}

GcsTokenSource::~GcsTokenSource() = default;

absl::StatusOr<std::string> GcsTokenSource::Assertion(int64_t now_unix_seconds) const {
  Json header = {{"alg", "RS256"}, {"typ", "JWT"}};
  Json claims = {{"iss", key_.client_email},
                 {"scope", options_.scope},
                 {"aud", key_.token_uri},
                 {"iat", now_unix_seconds},
                 {"exp", now_unix_seconds + kAssertionLifetimeSeconds}};
  std::string signing_input = Base64UrlEncode(header.dump()) + "." + Base64UrlEncode(claims.dump());

  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  if (ctx == nullptr) return absl::ResourceExhaustedError("EVP_MD_CTX_new failed");
  std::string signature;
  size_t length = 0;
  bool ok = EVP_DigestSignInit(ctx, nullptr, EVP_sha256(), nullptr, private_key_->pkey) == 1 &&
            EVP_DigestSign(ctx, nullptr, &length,
                           reinterpret_cast<const unsigned char*>(signing_input.data()),
                           signing_input.size()) == 1;
  if (ok) {
    signature.resize(length);
    ok = EVP_DigestSign(ctx, reinterpret_cast<unsigned char*>(signature.data()), &length,
                        reinterpret_cast<const unsigned char*>(signing_input.data()),
                        signing_input.size()) == 1;
    signature.resize(length);
  }
  EVP_MD_CTX_free(ctx);
  if (!ok) {
    unsigned long error = ERR_get_error();
    ERR_clear_error();
    char text[256];
    ERR_error_string_n(error, text, sizeof(text));
    return absl::InternalError("signing the token assertion for " + key_.client_email +
                               " failed: " + text);
  }
  return signing_input + "." + Base64UrlEncode(signature);
}

absl::StatusOr<std::string> GcsTokenSource::Token() {
  std::lock_guard<std::mutex> lock(mu_);
  if (!token_.empty() && std::chrono::steady_clock::now() + kRefreshMargin < expires_at_) {
    return token_;
  }
  return FetchLocked();
}

void GcsTokenSource::Invalidate(const std::string& token) {
  std::lock_guard<std::mutex> lock(mu_);
  if (token_ == token) token_.clear();
}

absl::StatusOr<std::string> GcsTokenSource::FetchLocked() {
  const std::string what = "GCS token request to " + key_.token_uri + " for " + key_.client_email;
  absl::Status last;
  for (int attempt = 1; attempt <= options_.max_attempts; ++attempt) {
    if (attempt > 1) {
      std::this_thread::sleep_for(std::chrono::milliseconds(RetryBackoffMs(attempt - 1)));
    }
    auto assertion = Assertion(static_cast<int64_t>(std::time(nullptr)));
    if (!assertion.ok()) return assertion.status();
    std::string body =
        "grant_type=" + uri_util::PercentEncode("urn:ietf:params:oauth:grant-type:jwt-bearer") +
        "&assertion=" + uri_util::PercentEncode(*assertion);
    auto started = std::chrono::steady_clock::now();
    auto response = http_.Perform(
        {"POST",
         key_.token_uri,
         {"Content-Type: application/x-www-form-urlencoded", "Accept: application/json"},
         body});
    if (!response.ok()) {
      last = absl::UnavailableError(what + ": " + std::string(response.status().message()));
      if (absl::IsInternal(response.status())) return last;
      continue;
    }
    long status = response->http_status;
    if (status >= 200 && status < 300) {
      Json doc = Json::parse(response->body, nullptr, /*allow_exceptions=*/false);
      auto token = doc.is_object() ? doc.find("access_token") : doc.end();
      if (!doc.is_object() || token == doc.end() || !token->is_string() ||
          token->get<std::string>().empty()) {
        return absl::UnavailableError(what + ": HTTP " + std::to_string(status) +
                                      " without an access_token in the answer");
      }
      int64_t expires_in = 3600;
      if (auto it = doc.find("expires_in"); it != doc.end() && it->is_number_integer()) {
        expires_in = it->get<int64_t>();
      }
      token_ = token->get<std::string>();
      // Counted from when the request left: the token may be older than its answer.
      expires_at_ = started + std::chrono::seconds(expires_in);
      return token_;
    }
    std::string message = what + ": HTTP " + std::to_string(status);
    std::string error = DescribeOAuthError(response->body);
    if (!error.empty()) message += " " + error;
    if (RetryableHttpStatus(status)) {
      last = absl::UnavailableError(message);
      continue;
    }
    return absl::PermissionDeniedError(
        message +
        " (check the service-account key in credentials_json: not deleted or "
        "disabled, and the machine's clock)");
  }
  return absl::UnavailableError(std::string(last.message()) + " (gave up after " +
                                std::to_string(options_.max_attempts) + " attempts)");
}

}  // namespace optimus::blob
