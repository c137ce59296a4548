// GcsBlobStore: the GCS JSON API calls (media upload, alt=media download, delete, paged list,
// bucket insert) on CurlClient, with bounded retries and GCS error reasons kept in the Status.
#include "optimus/blob/gcs_blob_store.h"

#include <algorithm>
#include <cstdlib>

#include "gcs_token_source.h"
#include "nlohmann/json.hpp"
#include "optimus/blob/curl_client.h"
#include "uri_util.h"

namespace optimus::blob {
namespace {

using Json = nlohmann::json;

constexpr char kGoogleEndpoint[] = "https://storage.googleapis.com";
constexpr char kReadWriteScope[] = "https://www.googleapis.com/auth/devstorage.read_write";
constexpr size_t kMaxQuotedBody = 200;

std::string GetEnv(const char* name) {
  const char* value = std::getenv(name);
  return value == nullptr ? std::string() : std::string(value);
}

// GCS bucket names: 3-63 characters of a-z, 0-9, '-', '_' and '.', starting and ending with a
// letter or digit; names with dots may reach 222 characters, 63 between dots.
bool ValidBucketName(std::string_view bucket) {
  if (bucket.size() < 3 || bucket.size() > 222) return false;
  auto alnum = [](char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); };
  size_t component = 0;
  for (char c : bucket) {
    if (c == '.') {
      component = 0;
      continue;
    }
    if (!alnum(c) && c != '-' && c != '_') return false;
    if (++component > 63) return false;
  }
  return alnum(bucket.front()) && alnum(bucket.back());
}

// The reason and message of a GCS error answer ({"error": {"errors": [{"reason"}], "message"}}),
// or the start of a body that is not one (emulators sometimes answer in plain text).
struct ErrorBody {
  std::string reason;
  std::string message;
};

ErrorBody ParseError(const std::string& body) {
  ErrorBody out;
  Json doc = Json::parse(body, nullptr, /*allow_exceptions=*/false);
  auto error = doc.is_object() ? doc.find("error") : doc.end();
  if (doc.is_object() && error != doc.end() && error->is_object()) {
    if (auto it = error->find("message"); it != error->end() && it->is_string()) {
      out.message = it->get<std::string>();
    }
    auto errors = error->find("errors");
    if (errors != error->end() && errors->is_array() && !errors->empty() &&
        (*errors)[0].is_object()) {
      const Json& first = (*errors)[0];
      if (auto it = first.find("reason"); it != first.end() && it->is_string()) {
        out.reason = it->get<std::string>();
      }
    }
    return out;
  }
  out.message = body.substr(0, kMaxQuotedBody);
  while (!out.message.empty() && (out.message.back() == '\n' || out.message.back() == '\r')) {
    out.message.pop_back();
  }
  return out;
}

absl::Status StatusFromHttp(long http_status, const ErrorBody& error, const std::string& what,
                            bool has_credentials) {
  std::string message = HttpErrorText(what, http_status, error.reason, error.message);
  if (http_status == 401 || http_status == 403) {
    message += has_credentials
                   ? " (check the service account in credentials_json and its roles on the bucket)"
                   : " (no credentials_json given: only an emulator accepts requests without one)";
    return absl::PermissionDeniedError(message);
  }
  if (http_status == 409) return absl::AlreadyExistsError(message);
  if (http_status == 408) return absl::UnavailableError(message);
  return absl::Status(StatusCodeFromHttp(http_status), message);
}

// A JSON size: GCS sends int64 values as decimal strings; accept numbers too.
bool ParseSize(const Json& value, int64_t& out) {
  if (value.is_number_integer()) {
    out = value.get<int64_t>();
    return out >= 0;
  }
  if (!value.is_string()) return false;
  const std::string& text = value.get_ref<const std::string&>();
  char* end = nullptr;
  long long parsed = std::strtoll(text.c_str(), &end, 10);
  if (text.empty() || *end != '\0' || parsed < 0) return false;
  out = parsed;
  return true;
}

}  // namespace

class GcsBlobStore::Impl {
 public:
  Impl(std::string base_url, std::unique_ptr<GcsTokenSource> tokens, const GcsConfig& config)
      : base_url_(std::move(base_url)),
        tokens_(std::move(tokens)),
        http_(config.connect_timeout_ms, config.request_timeout_ms, config.endpoint),
        max_attempts_(config.max_attempts) {}

  const std::string& base_url() const { return base_url_; }
  bool has_credentials() const { return tokens_ != nullptr; }

  // One call with retries. An HTTP answer that is final (2xx, 404, 403, ...) comes back as a
  // Response for the caller to interpret; failures that outlast the retries come back as a
  // Status named by `what`.
  absl::StatusOr<CurlClient::Response> Execute(const std::string& method, const std::string& url,
                                               const std::string& content_type,
                                               std::string_view body, const std::string& what) {
    bool token_refreshed = false;
    return PerformWithRetries(max_attempts_, [&]() -> Attempt {
      CurlClient::Request request{method, url, {}, body};
      std::string token;
      if (tokens_ != nullptr) {
        auto fetched = tokens_->Token();
        if (!fetched.ok()) {
          return {absl::Status(fetched.status().code(),
                               what + ": " + std::string(fetched.status().message()))};
        }
        token = *std::move(fetched);
        request.headers.push_back("Authorization: Bearer " + token);
      }
      if (!content_type.empty()) request.headers.push_back("Content-Type: " + content_type);
      auto response = http_.Perform(request);
      if (!response.ok()) {
        absl::Status failure(response.status().code(),
                             what + ": " + std::string(response.status().message()));
        return {failure, RetryableTransportFailure(failure)};
      }
      long status = response->http_status;
      if (status >= 200 && status < 300) return {std::move(response)};
      if (status == 401 && tokens_ != nullptr && !token_refreshed) {
        // The token may have been revoked or expired early: one more try with a fresh one.
        tokens_->Invalidate(token);
        token_refreshed = true;
        return {StatusFromHttp(status, ParseError(response->body), what, true), true};
      }
      if (RetryableHttpStatus(status)) {
        return {StatusFromHttp(status, ParseError(response->body), what, has_credentials()), true};
      }
      return {std::move(response)};
    });
  }

 private:
  std::string base_url_;                    // scheme://authority[/path] of the endpoint.
  std::unique_ptr<GcsTokenSource> tokens_;  // Null: no Authorization header (an emulator).
  CurlClient http_;
  int max_attempts_;
};

absl::StatusOr<GcsConfig> GcsConfigFromUri(std::string_view uri) {
  auto bad = [&](std::string_view why) {
    return absl::InvalidArgumentError("invalid GCS URI \"" + std::string(uri) +
                                      "\": " + std::string(why) +
                                      " (expected gs://bucket/prefix?endpoint=http://host:port)");
  };
  auto parts = uri_util::ParseBucketUri(uri, "gs://", [](const std::string& bucket) {
    return ValidBucketName(bucket) ? std::string()
                                   : "\"" + bucket +
                                         "\" is not a valid bucket name (3-63 characters: a-z, "
                                         "0-9, '-', '_', '.')";
  });
  if (!parts.ok()) return bad(std::string(parts.status().message()));
  GcsConfig config;
  config.bucket = std::move(parts->bucket);
  config.prefix = std::move(parts->prefix);
  for (const auto& [name, value] : parts->params) {
    absl::Status status;
    if (name == "endpoint") {
      config.endpoint = value;
    } else if (auto limit = uri_util::ParseLimitParam(name, value, config)) {
      status = *limit;
    } else if (name == "credentials" || name == "credentials_json" || name == "private_key" ||
               name == "access_token" || name == "token") {
      return bad(
          "credentials are not taken from URIs (they end up in logs); pass the service-account "
          "key as GcsConfig::credentials_json");
    } else {
      return bad("unknown parameter \"" + name +
                 "\" (known: endpoint, list_page_size, connect_timeout_ms, request_timeout_ms, "
                 "max_attempts)");
    }
    if (!status.ok()) return bad(std::string(status.message()));
  }
  return config;
}

absl::StatusOr<std::unique_ptr<GcsBlobStore>> GcsBlobStore::Create(GcsConfig config) {
  if (config.bucket.empty()) return absl::InvalidArgumentError("GCS config has no bucket");
  if (!ValidBucketName(config.bucket)) {
    return absl::InvalidArgumentError("\"" + config.bucket +
                                      "\" is not a valid GCS bucket name (3-63 characters: "
                                      "a-z, 0-9, '-', '_', '.')");
  }
  if (!config.prefix.empty() && config.prefix.back() != '/') config.prefix += '/';
  if (config.max_attempts < 1 || config.connect_timeout_ms < 1 || config.request_timeout_ms < 1 ||
      config.list_page_size < 0) {
    return absl::InvalidArgumentError(
        "GCS config: max_attempts, connect_timeout_ms and request_timeout_ms must be >= 1 and "
        "list_page_size >= 0");
  }
  if (config.endpoint.empty()) {
    std::string emulator = GetEnv("STORAGE_EMULATOR_HOST");
    if (!emulator.empty()) {
      config.endpoint = emulator.find("://") == std::string::npos ? "http://" + emulator : emulator;
      // As Google's client libraries do: an emulator from the environment takes no credentials.
      config.credentials_json.clear();
    }
  }
  if (config.endpoint.empty()) {
    if (config.credentials_json.empty()) {
      return absl::InvalidArgumentError(
          "no GCS credentials for bucket " + config.bucket +
          ": pass a service-account key as GcsConfig::credentials_json, or point the store at "
          "an emulator (endpoint=http://host:port or STORAGE_EMULATOR_HOST)");
    }
    config.endpoint = kGoogleEndpoint;
  }
  auto endpoint = uri_util::ParseHttpEndpoint(config.endpoint);
  if (!endpoint.ok()) {
    return absl::InvalidArgumentError("GCS endpoint \"" + config.endpoint +
                                      "\": " + std::string(endpoint.status().message()));
  }
  std::unique_ptr<GcsTokenSource> tokens;
  if (!config.credentials_json.empty()) {
    auto key = ParseServiceAccountKey(config.credentials_json);
    if (!key.ok()) return key.status();
    GcsTokenSource::Options options;
    options.scope = kReadWriteScope;
    options.connect_timeout_ms = config.connect_timeout_ms;
    options.request_timeout_ms = config.request_timeout_ms;
    options.max_attempts = config.max_attempts;
    auto source = GcsTokenSource::Create(*std::move(key), std::move(options));
    if (!source.ok()) return source.status();
    tokens = *std::move(source);
    config.credentials_json.clear();
  }
  std::string base_url = endpoint->scheme + "://" + endpoint->authority + endpoint->path;
  auto impl = std::make_unique<Impl>(std::move(base_url), std::move(tokens), config);
  return std::unique_ptr<GcsBlobStore>(new GcsBlobStore(std::move(config), std::move(impl)));
}

GcsBlobStore::GcsBlobStore(GcsConfig config, std::unique_ptr<Impl> impl)
    : config_(std::move(config)), impl_(std::move(impl)) {}

GcsBlobStore::~GcsBlobStore() = default;

namespace {

std::string Describe(const std::string& method, const std::string& bucket,
                     const std::string& name) {
  return "GCS " + method + " gs://" + bucket + "/" + name;
}

}  // namespace

absl::Status GcsBlobStore::Put(std::string_view key, std::string_view content) {
  if (key.empty()) return absl::InvalidArgumentError("GCS PUT: the key is empty");
  std::string name = config_.prefix + std::string(key);
  std::string what = Describe("PUT", config_.bucket, name);
  std::string url = impl_->base_url() + "/upload/storage/v1/b/" +
                    uri_util::PercentEncode(config_.bucket) +
                    "/o?uploadType=media&name=" + uri_util::PercentEncode(name);
  auto response = impl_->Execute("POST", url, "application/octet-stream", content, what);
  if (!response.ok()) return response.status();
  if (response->http_status >= 300) {
    return StatusFromHttp(response->http_status, ParseError(response->body), what,
                          impl_->has_credentials());
  }
  return absl::OkStatus();
}

absl::StatusOr<std::string> GcsBlobStore::Get(std::string_view key) {
  if (key.empty()) return absl::InvalidArgumentError("GCS GET: the key is empty");
  std::string name = config_.prefix + std::string(key);
  std::string what = Describe("GET", config_.bucket, name);
  std::string url = impl_->base_url() + "/storage/v1/b/" + uri_util::PercentEncode(config_.bucket) +
                    "/o/" + uri_util::PercentEncode(name) + "?alt=media";
  auto response = impl_->Execute("GET", url, "", {}, what);
  if (!response.ok()) return response.status();
  if (response->http_status >= 300) {
    return StatusFromHttp(response->http_status, ParseError(response->body), what,
                          impl_->has_credentials());
  }
  return std::move(response->body);
}

absl::Status GcsBlobStore::Delete(std::string_view key) {
  if (key.empty()) return absl::InvalidArgumentError("GCS DELETE: the key is empty");
  std::string name = config_.prefix + std::string(key);
  std::string what = Describe("DELETE", config_.bucket, name);
  std::string url = impl_->base_url() + "/storage/v1/b/" + uri_util::PercentEncode(config_.bucket) +
                    "/o/" + uri_util::PercentEncode(name);
  auto response = impl_->Execute("DELETE", url, "", {}, what);
  if (!response.ok()) return response.status();
  if (response->http_status >= 300) {
    ErrorBody error = ParseError(response->body);
    // A missing object is already deleted; a missing bucket is a configuration error.
    bool missing_bucket = error.message.find("bucket does not exist") != std::string::npos;
    if (response->http_status == 404 && !missing_bucket) return absl::OkStatus();
    return StatusFromHttp(response->http_status, error, what, impl_->has_credentials());
  }
  return absl::OkStatus();
}

absl::StatusOr<std::vector<ObjectInfo>> GcsBlobStore::List(std::string_view prefix) {
  std::string full_prefix = config_.prefix + std::string(prefix);
  std::string what = Describe("LIST", config_.bucket, full_prefix);
  std::vector<ObjectInfo> out;
  std::string token;
  while (true) {
    // fields= trims each item to what ObjectInfo keeps (GCS sends ~30 fields otherwise).
    std::string url = impl_->base_url() + "/storage/v1/b/" +
                      uri_util::PercentEncode(config_.bucket) +
                      "/o?prefix=" + uri_util::PercentEncode(full_prefix) +
                      "&fields=" + uri_util::PercentEncode("items(name,size),nextPageToken");
    if (config_.list_page_size > 0) {
      url += "&maxResults=" + std::to_string(config_.list_page_size);
    }
    if (!token.empty()) url += "&pageToken=" + uri_util::PercentEncode(token);
    auto response = impl_->Execute("GET", url, "", {}, what);
    if (!response.ok()) return response.status();
    if (response->http_status >= 300) {
      return StatusFromHttp(response->http_status, ParseError(response->body), what,
                            impl_->has_credentials());
    }
    Json page = Json::parse(response->body, nullptr, /*allow_exceptions=*/false);
    if (!page.is_object()) return absl::InternalError(what + ": the answer is not a JSON object");
    if (auto items = page.find("items"); items != page.end()) {
      if (!items->is_array()) return absl::InternalError(what + ": \"items\" is not an array");
      for (const Json& item : *items) {
        auto name = item.is_object() ? item.find("name") : item.end();
        auto size = item.is_object() ? item.find("size") : item.end();
        ObjectInfo info;
        if (!item.is_object() || name == item.end() || !name->is_string() || size == item.end() ||
            !ParseSize(*size, info.size)) {
          return absl::InternalError(what + ": an item without a string name and a size");
        }
        info.key = name->get<std::string>();
        if (info.key.compare(0, config_.prefix.size(), config_.prefix) != 0) {
          return absl::InternalError(what + ": the server listed object \"" + info.key +
                                     "\", which is outside the requested prefix");
        }
        info.key.erase(0, config_.prefix.size());
        out.push_back(std::move(info));
      }
    }
    std::string next;
    if (auto it = page.find("nextPageToken"); it != page.end() && it->is_string()) {
      next = it->get<std::string>();
    }
    if (next.empty()) break;
    if (next == token) {
      return absl::InternalError(what + ": the server returned the same page token twice");
    }
    token = std::move(next);
  }
  // GCS lists in name order already; sorting again keeps the promise for any emulator.
  std::sort(out.begin(), out.end(),
            [](const ObjectInfo& a, const ObjectInfo& b) { return a.key < b.key; });
  return out;
}

absl::Status GcsBlobStore::CreateBucket(const std::string& project) {
  std::string what = "GCS create bucket gs://" + config_.bucket + " in project " + project;
  std::string url = impl_->base_url() + "/storage/v1/b?project=" + uri_util::PercentEncode(project);
  std::string body = Json{{"name", config_.bucket}}.dump();
  auto response = impl_->Execute("POST", url, "application/json", body, what);
  if (!response.ok()) return response.status();
  if (response->http_status == 409) return absl::OkStatus();  // It exists already.
  if (response->http_status >= 300) {
    return StatusFromHttp(response->http_status, ParseError(response->body), what,
                          impl_->has_credentials());
  }
  return absl::OkStatus();
}

}  // namespace optimus::blob
