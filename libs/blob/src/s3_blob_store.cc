// S3BlobStore: S3 REST calls (PUT/GET/DELETE object, ListObjectsV2, bucket create/delete) on
// libcurl, signed by our SigV4 code, with bounded retries and S3 error codes kept in the Status.
#include "optimus/blob/s3_blob_store.h"

#include <algorithm>
#include <cstdlib>
#include <ctime>
#include <string>
#include <utility>
#include <vector>

#include "optimus/blob/curl_client.h"
#include "s3_xml.h"
#include "sigv4.h"
#include "uri_util.h"

namespace optimus::blob {
namespace {

using Query = std::vector<std::pair<std::string, std::string>>;

std::string GetEnv(const char* name) {
  const char* value = std::getenv(name);
  return value == nullptr ? std::string() : std::string(value);
}

bool ValidBucketName(std::string_view bucket) {
  if (bucket.size() < 3 || bucket.size() > 63) return false;
  for (char c : bucket) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '.';
    if (!ok) return false;
  }
  auto alnum = [](char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); };
  return alnum(bucket.front()) && alnum(bucket.back());
}

// S3's answers worth another try; unlike RetryableHttpStatus, a 408 is final.
bool RetryableHttp(long http_status, const s3xml::ErrorBody& error) {
  if (http_status >= 500 || http_status == 429) return true;
  // S3 answers 400 RequestTimeout when the client was too slow to send the body.
  return http_status == 400 && error.code == "RequestTimeout";
}

absl::Status StatusFromHttp(long http_status, const s3xml::ErrorBody& error,
                            const std::string& what) {
  std::string message = HttpErrorText(what, http_status, error.code, error.message);
  if (http_status == 403) {
    message +=
        " (check the access key, the secret key and the region; credentials come from the "
        "config or AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY)";
  }
  if (http_status == 409 && error.code == "BucketAlreadyExists") {
    return absl::AlreadyExistsError(message);
  }
  return absl::Status(StatusCodeFromHttp(http_status), message);
}

std::string Describe(const std::string& bucket, const std::string& method,
                     const std::string& object_key) {
  return "S3 " + method + " s3://" + bucket + "/" + object_key;
}

}  // namespace

// Signed requests with retries over one CurlClient.
class S3BlobStore::Impl {
 public:
  Impl(const S3Config& config, uri_util::HttpEndpoint endpoint)
      : config_(config),
        endpoint_(std::move(endpoint)),
        http_(config.connect_timeout_ms, config.request_timeout_ms, config.endpoint) {}

  // One signed request with retries; an empty `object_key` addresses the bucket itself. A
  // definite answer (2xx, 403, 404, 409, ...) comes back as a Response for the caller to
  // interpret; failures that outlast the retries come back as a Status.
  absl::StatusOr<CurlClient::Response> Execute(const std::string& method,
                                               const std::string& object_key, const Query& query,
                                               std::string_view body) {
    uri_util::S3Address address =
        uri_util::AddressS3(endpoint_, config_.bucket, config_.path_style, object_key);
    std::string url = endpoint_.scheme + "://" + address.host + address.path;
    if (!query.empty()) url += "?" + sigv4::CanonicalQueryString(query);
    std::string what = Describe(config_.bucket, method, object_key);
    return PerformWithRetries(config_.max_attempts, [&]() -> Attempt {
      auto response = http_.Perform(Signed(method, url, address, query, body));
      if (!response.ok()) {
        absl::Status failure(response.status().code(),
                             "S3 " + std::string(response.status().message()));
        return {failure, RetryableTransportFailure(failure)};
      }
      long status = response->http_status;
      if (status >= 200 && status < 300) return {std::move(response)};
      s3xml::ErrorBody error = s3xml::ParseError(response->body);
      if (RetryableHttp(status, error)) return {StatusFromHttp(status, error, what), true};
      return {std::move(response)};  // A definite answer: the caller decides what it means.
    });
  }

 private:
  // The request with its SigV4 headers, signed anew for each try (x-amz-date is part of it).
  CurlClient::Request Signed(const std::string& method, const std::string& url,
                             const uri_util::S3Address& address, const Query& query,
                             std::string_view body) const {
    sigv4::Request request;
    request.method = method;
    request.canonical_uri = address.path;
    request.query = query;
    request.payload_hash = sigv4::Sha256Hex(body);
    std::string amz_date = sigv4::AmzDate(static_cast<int64_t>(std::time(nullptr)));
    request.headers = {{"host", address.host},
                       {"x-amz-content-sha256", request.payload_hash},
                       {"x-amz-date", amz_date}};
    if (!config_.session_token.empty()) {
      request.headers.emplace_back("x-amz-security-token", config_.session_token);
    }
    sigv4::Credentials credentials{config_.access_key, config_.secret_key, config_.session_token};
    CurlClient::Request out{method, url, {}, body};
    for (const auto& [name, value] : request.headers) out.headers.push_back(name + ": " + value);
    out.headers.push_back("Authorization: " +
                          sigv4::AuthorizationHeader(request, credentials, config_.region, "s3"));
    if (method == "PUT") out.headers.push_back("Content-Type: application/octet-stream");
    return out;
  }

  const S3Config& config_;  // The store's, which owns this.
  uri_util::HttpEndpoint endpoint_;
  CurlClient http_;
};

absl::StatusOr<S3Config> S3ConfigFromUri(std::string_view uri) {
  auto bad = [&](std::string_view why) {
    return absl::InvalidArgumentError("invalid S3 URI \"" + std::string(uri) +
                                      "\": " + std::string(why) +
                                      " (expected s3://bucket/prefix?endpoint=http://host:port"
                                      "&region=us-east-1&path_style=true)");
  };
  auto parts = uri_util::ParseBucketUri(uri, "s3://", [](const std::string& bucket) {
    return ValidBucketName(bucket) ? std::string()
                                   : "\"" + bucket +
                                         "\" is not a valid bucket name (3-63 characters: a-z, "
                                         "0-9, '.', '-')";
  });
  if (!parts.ok()) return bad(std::string(parts.status().message()));
  S3Config config;
  config.bucket = std::move(parts->bucket);
  config.prefix = std::move(parts->prefix);
  for (const auto& [name, value] : parts->params) {
    absl::Status status;
    if (name == "endpoint") {
      config.endpoint = value;
    } else if (name == "region") {
      config.region = value;
    } else if (name == "path_style") {
      if (value == "true" || value == "1") {
        config.path_style = true;
      } else if (value == "false" || value == "0") {
        config.path_style = false;
      } else {
        return bad("path_style must be true or false, not \"" + value + "\"");
      }
    } else if (auto limit = uri_util::ParseLimitParam(name, value, config)) {
      status = *limit;
    } else if (name == "access_key" || name == "secret_key" || name == "session_token") {
      return bad(
          "credentials are not taken from URIs (they end up in logs); set "
          "AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY");
    } else {
      return bad("unknown parameter \"" + name +
                 "\" (known: endpoint, region, path_style, list_page_size, connect_timeout_ms, "
                 "request_timeout_ms, max_attempts)");
    }
    if (!status.ok()) return bad(std::string(status.message()));
  }
  return config;
}

absl::StatusOr<std::unique_ptr<S3BlobStore>> S3BlobStore::Create(S3Config config) {
  if (config.bucket.empty()) return absl::InvalidArgumentError("S3 config has no bucket");
  if (!ValidBucketName(config.bucket)) {
    return absl::InvalidArgumentError("\"" + config.bucket +
                                      "\" is not a valid S3 bucket name (3-63 characters: "
                                      "a-z, 0-9, '.', '-')");
  }
  if (!config.prefix.empty() && config.prefix.back() != '/') config.prefix += '/';
  if (config.region.empty()) config.region = GetEnv("AWS_REGION");
  if (config.region.empty()) config.region = GetEnv("AWS_DEFAULT_REGION");
  if (config.region.empty()) config.region = "us-east-1";
  if (config.access_key.empty() && config.secret_key.empty()) {
    config.access_key = GetEnv("AWS_ACCESS_KEY_ID");
    config.secret_key = GetEnv("AWS_SECRET_ACCESS_KEY");
    if (config.session_token.empty()) config.session_token = GetEnv("AWS_SESSION_TOKEN");
  }
  if (config.access_key.empty() || config.secret_key.empty()) {
    return absl::InvalidArgumentError(
        "no S3 credentials for bucket " + config.bucket +
        ": set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (or pass them in S3Config)");
  }
  if (config.max_attempts < 1 || config.connect_timeout_ms < 1 || config.request_timeout_ms < 1 ||
      config.list_page_size < 0) {
    return absl::InvalidArgumentError(
        "S3 config: max_attempts, connect_timeout_ms and request_timeout_ms must be >= 1 and "
        "list_page_size >= 0");
  }
  if (config.endpoint.empty()) {
    config.endpoint = "https://s3." + config.region + ".amazonaws.com";
  }
  auto endpoint = uri_util::ParseHttpEndpoint(config.endpoint);
  if (!endpoint.ok()) {
    return absl::InvalidArgumentError("S3 endpoint \"" + config.endpoint +
                                      "\": " + std::string(endpoint.status().message()));
  }
  auto store = std::unique_ptr<S3BlobStore>(new S3BlobStore(std::move(config)));
  store->impl_ = std::make_unique<Impl>(store->config_, *std::move(endpoint));
  return store;
}

S3BlobStore::S3BlobStore(S3Config config) : config_(std::move(config)) {}

S3BlobStore::~S3BlobStore() = default;

absl::Status S3BlobStore::Put(std::string_view key, std::string_view content) {
  if (key.empty()) return absl::InvalidArgumentError("S3 PUT: the key is empty");
  std::string full_key = config_.prefix + std::string(key);
  auto response = impl_->Execute("PUT", full_key, {}, content);
  if (!response.ok()) return response.status();
  if (response->http_status >= 300) {
    return StatusFromHttp(response->http_status, s3xml::ParseError(response->body),
                          Describe(config_.bucket, "PUT", full_key));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::string> S3BlobStore::Get(std::string_view key) {
  if (key.empty()) return absl::InvalidArgumentError("S3 GET: the key is empty");
  std::string full_key = config_.prefix + std::string(key);
  auto response = impl_->Execute("GET", full_key, {}, {});
  if (!response.ok()) return response.status();
  if (response->http_status >= 300) {
    return StatusFromHttp(response->http_status, s3xml::ParseError(response->body),
                          Describe(config_.bucket, "GET", full_key));
  }
  return std::move(response->body);
}

absl::Status S3BlobStore::Delete(std::string_view key) {
  if (key.empty()) return absl::InvalidArgumentError("S3 DELETE: the key is empty");
  std::string full_key = config_.prefix + std::string(key);
  auto response = impl_->Execute("DELETE", full_key, {}, {});
  if (!response.ok()) return response.status();
  if (response->http_status >= 300) {
    s3xml::ErrorBody error = s3xml::ParseError(response->body);
    // S3 itself answers 204 for a missing key; some servers say NoSuchKey. Both mean "gone".
    if (response->http_status == 404 && error.code == "NoSuchKey") return absl::OkStatus();
    return StatusFromHttp(response->http_status, error,
                          Describe(config_.bucket, "DELETE", full_key));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::vector<ObjectInfo>> S3BlobStore::List(std::string_view prefix) {
  std::string full_prefix = config_.prefix + std::string(prefix);
  std::vector<ObjectInfo> out;
  std::string token;
  while (true) {
    std::vector<std::pair<std::string, std::string>> query = {{"list-type", "2"},
                                                              {"prefix", full_prefix}};
    if (config_.list_page_size > 0) {
      query.emplace_back("max-keys", std::to_string(config_.list_page_size));
    }
    if (!token.empty()) query.emplace_back("continuation-token", token);
    std::string what = Describe(config_.bucket, "LIST", full_prefix);
    auto response = impl_->Execute("GET", "", query, {});
    if (!response.ok()) return response.status();
    if (response->http_status >= 300) {
      return StatusFromHttp(response->http_status, s3xml::ParseError(response->body), what);
    }
    auto page = s3xml::ParseListObjectsV2(response->body);
    if (!page.ok()) {
      return absl::InternalError(what + ": " + std::string(page.status().message()));
    }
    for (ObjectInfo& info : page->objects) {
      if (info.key.compare(0, config_.prefix.size(), config_.prefix) != 0) {
        return absl::InternalError(what + ": the server listed key \"" + info.key +
                                   "\", which is outside the requested prefix");
      }
      info.key.erase(0, config_.prefix.size());
      out.push_back(std::move(info));
    }
    if (!page->truncated) break;
    if (page->next_continuation_token == token) {
      return absl::InternalError(what + ": the server returned the same continuation token twice");
    }
    token = std::move(page->next_continuation_token);
  }
  // S3 already sorts by UTF-8 bytes; sorting again keeps the promise for any compatible server.
  std::sort(out.begin(), out.end(),
            [](const ObjectInfo& a, const ObjectInfo& b) { return a.key < b.key; });
  return out;
}

absl::Status S3BlobStore::CreateBucket() {
  std::string body;
  // us-east-1 is the default location and S3 rejects it spelled out.
  if (config_.region != "us-east-1") {
    body =
        "<CreateBucketConfiguration xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">"
        "<LocationConstraint>" +
        config_.region + "</LocationConstraint></CreateBucketConfiguration>";
  }
  auto response = impl_->Execute("PUT", "", {}, body);
  if (!response.ok()) return response.status();
  if (response->http_status >= 300) {
    s3xml::ErrorBody error = s3xml::ParseError(response->body);
    if (error.code == "BucketAlreadyOwnedByYou") return absl::OkStatus();
    return StatusFromHttp(response->http_status, error, "S3 create bucket " + config_.bucket);
  }
  return absl::OkStatus();
}

absl::Status S3BlobStore::DeleteBucket() {
  auto response = impl_->Execute("DELETE", "", {}, {});
  if (!response.ok()) return response.status();
  if (response->http_status >= 300) {
    s3xml::ErrorBody error = s3xml::ParseError(response->body);
    if (response->http_status == 404 && error.code == "NoSuchBucket") return absl::OkStatus();
    return StatusFromHttp(response->http_status, error, "S3 delete bucket " + config_.bucket);
  }
  return absl::OkStatus();
}

}  // namespace optimus::blob
