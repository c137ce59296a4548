// S3BlobStore: S3 REST calls (PUT/GET/DELETE object, ListObjectsV2, bucket create/delete) on
// libcurl, signed by our SigV4 code, with bounded retries and S3 error codes kept in the Status.
#include "optimus/blob/s3_blob_store.h"

#include <curl/curl.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <mutex>
#include <random>
#include <thread>

#include "s3_xml.h"
#include "sigv4.h"
#include "uri_util.h"

namespace optimus::blob {
namespace {

constexpr size_t kMaxIdleHandles = 16;
constexpr int kMaxBackoffMs = 5000;

std::string GetEnv(const char* name) {
  const char* value = std::getenv(name);
  return value == nullptr ? std::string() : std::string(value);
}

void InitCurlOnce() {
  static std::once_flag once;
  std::call_once(once, [] {
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
      std::fprintf(stderr, "optimus::blob: curl_global_init failed\n");
      std::abort();  // No HTTP at all in this process: nothing sensible can follow.
    }
  });
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

// Transport failures worth another try: the server may come back or the network recover.
bool RetryableCurlError(CURLcode code) {
  switch (code) {
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_CONNECT:
    case CURLE_OPERATION_TIMEDOUT:
    case CURLE_SEND_ERROR:
    case CURLE_RECV_ERROR:
    case CURLE_GOT_NOTHING:
    case CURLE_PARTIAL_FILE:
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_HTTP2:
    case CURLE_HTTP2_STREAM:
      return true;
    default:
      return false;
  }
}

bool RetryableHttp(long http_status, const s3xml::ErrorBody& error) {
  if (http_status >= 500 || http_status == 429) return true;
  // S3 answers 400 RequestTimeout when the client was too slow to send the body.
  return http_status == 400 && error.code == "RequestTimeout";
}

absl::Status StatusFromHttp(long http_status, const s3xml::ErrorBody& error,
                            const std::string& what) {
  std::string message = what + ": HTTP " + std::to_string(http_status);
  if (!error.code.empty()) message += " " + error.code;
  if (!error.message.empty()) message += ": " + error.message;
  if (http_status == 403) {
    message +=
        " (check the access key, the secret key and the region; credentials come from the "
        "config or AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY)";
    return absl::PermissionDeniedError(message);
  }
  if (http_status == 401) return absl::UnauthenticatedError(message);
  if (http_status == 404) return absl::NotFoundError(message);
  if (http_status == 409) {
    if (error.code == "BucketAlreadyExists") return absl::AlreadyExistsError(message);
    return absl::FailedPreconditionError(message);
  }
  if (http_status == 412) return absl::FailedPreconditionError(message);
  if (http_status == 416) return absl::OutOfRangeError(message);
  if (http_status == 429) return absl::ResourceExhaustedError(message);
  if (http_status == 501) return absl::UnimplementedError(message);
  if (http_status >= 500) return absl::UnavailableError(message);
  if (http_status == 400) return absl::InvalidArgumentError(message);
  return absl::UnknownError(message);
}

size_t WriteToString(char* data, size_t size, size_t count, void* user) {
  static_cast<std::string*>(user)->append(data, size * count);
  return size * count;
}

struct UploadSource {
  std::string_view remaining;
};

size_t ReadFromView(char* buffer, size_t size, size_t count, void* user) {
  auto* source = static_cast<UploadSource*>(user);
  size_t n = std::min(size * count, source->remaining.size());
  std::copy_n(source->remaining.data(), n, buffer);
  source->remaining.remove_prefix(n);
  return n;
}

int BackoffMs(int attempt) {
  static thread_local std::mt19937 rng(std::random_device{}());
  int base = std::min(kMaxBackoffMs, 100 << std::min(attempt - 1, 10));
  // Jitter in [base/2, base]: clients failing together should not retry together.
  return std::uniform_int_distribution<int>(base / 2, base)(rng);
}

}  // namespace

struct S3BlobStore::Endpoint : uri_util::HttpEndpoint {};

struct S3BlobStore::Response {
  long http_status = 0;
  std::string body;
};

// libcurl handles are not thread-safe but keep live connections; a pool gives each concurrent
// call its own handle and lets later calls reuse the connections.
struct S3BlobStore::Handles {
  std::mutex mu;
  std::vector<CURL*> idle;

  ~Handles() {
    for (CURL* handle : idle) curl_easy_cleanup(handle);
  }
  CURL* Acquire() {
    {
      std::lock_guard<std::mutex> lock(mu);
      if (!idle.empty()) {
        CURL* handle = idle.back();
        idle.pop_back();
        return handle;
      }
    }
    return curl_easy_init();
  }
  void Release(CURL* handle) {
    curl_easy_reset(handle);  // Forgets options, keeps connections and the DNS cache.
    std::lock_guard<std::mutex> lock(mu);
    if (idle.size() < kMaxIdleHandles) {
      idle.push_back(handle);
      return;
    }
    curl_easy_cleanup(handle);
  }
};

absl::StatusOr<S3Config> S3ConfigFromUri(std::string_view uri) {
  auto bad = [&](std::string_view why) {
    return absl::InvalidArgumentError("invalid S3 URI \"" + std::string(uri) +
                                      "\": " + std::string(why) +
                                      " (expected s3://bucket/prefix?endpoint=http://host:port"
                                      "&region=us-east-1&path_style=true)");
  };
  constexpr std::string_view kScheme = "s3://";
  if (uri.substr(0, kScheme.size()) != kScheme) return bad("it does not start with s3://");
  std::string_view rest = uri.substr(kScheme.size());
  std::string_view query;
  if (size_t q = rest.find('?'); q != std::string_view::npos) {
    query = rest.substr(q + 1);
    rest = rest.substr(0, q);
  }
  if (rest.find('#') != std::string_view::npos) return bad("fragments (#) are not allowed");
  S3Config config;
  size_t slash = rest.find('/');
  config.bucket = std::string(rest.substr(0, slash));
  if (config.bucket.empty()) return bad("the bucket name is missing");
  if (!ValidBucketName(config.bucket)) {
    return bad("\"" + config.bucket +
               "\" is not a valid bucket name (3-63 characters: a-z, 0-9, '.', '-')");
  }
  if (slash != std::string_view::npos) {
    auto prefix = uri_util::PercentDecode(rest.substr(slash + 1));
    if (!prefix.ok()) return bad(std::string(prefix.status().message()));
    config.prefix = *std::move(prefix);
    while (!config.prefix.empty() && config.prefix.front() == '/') config.prefix.erase(0, 1);
    if (!config.prefix.empty() && config.prefix.back() != '/') config.prefix += '/';
  }
  auto params = uri_util::ParseQuery(query);
  if (!params.ok()) return bad(std::string(params.status().message()));
  auto parse_int = [&](const std::string& name, const std::string& value, int min,
                       int& out) -> absl::Status {
    char* end = nullptr;
    long v = std::strtol(value.c_str(), &end, 10);
    if (value.empty() || *end != '\0' || v < min || v > 1000000000) {
      return bad(name + "=" + value + " is not an integer >= " + std::to_string(min));
    }
    out = static_cast<int>(v);
    return absl::OkStatus();
  };
  for (const auto& [name, value] : *params) {
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
    } else if (name == "list_page_size") {
      status = parse_int(name, value, 1, config.list_page_size);
    } else if (name == "connect_timeout_ms") {
      status = parse_int(name, value, 1, config.connect_timeout_ms);
    } else if (name == "request_timeout_ms") {
      status = parse_int(name, value, 1, config.request_timeout_ms);
    } else if (name == "max_attempts") {
      status = parse_int(name, value, 1, config.max_attempts);
    } else if (name == "access_key" || name == "secret_key" || name == "session_token") {
      return bad(
          "credentials are not taken from URIs (they end up in logs); set "
          "AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY");
    } else {
      return bad("unknown parameter \"" + name +
                 "\" (known: endpoint, region, path_style, list_page_size, connect_timeout_ms, "
                 "request_timeout_ms, max_attempts)");
    }
    if (!status.ok()) return status;
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
  InitCurlOnce();
  auto store = std::unique_ptr<S3BlobStore>(new S3BlobStore(std::move(config)));
  store->endpoint_ = std::make_unique<Endpoint>(Endpoint{*std::move(endpoint)});
  return store;
}

S3BlobStore::S3BlobStore(S3Config config)
    : config_(std::move(config)), handles_(std::make_unique<Handles>()) {}

S3BlobStore::~S3BlobStore() = default;

std::string S3BlobStore::Describe(const std::string& method, const std::string& object_key) const {
  return "S3 " + method + " s3://" + config_.bucket + "/" + object_key;
}

absl::StatusOr<S3BlobStore::Response> S3BlobStore::Execute(
    const std::string& method, const std::string& object_key,
    const std::vector<std::pair<std::string, std::string>>& query, std::string_view body) {
  // Bucket-level calls (create, list) address the bucket itself; object calls its key.
  uri_util::S3Address address =
      uri_util::AddressS3(*endpoint_, config_.bucket, config_.path_style, object_key);
  const std::string& host = address.host;
  const std::string& path = address.path;
  std::string url = endpoint_->scheme + "://" + host + path;
  if (!query.empty()) url += "?" + sigv4::CanonicalQueryString(query);

  std::string what = Describe(method, object_key);
  absl::Status last;
  for (int attempt = 1; attempt <= config_.max_attempts; ++attempt) {
    if (attempt > 1) std::this_thread::sleep_for(std::chrono::milliseconds(BackoffMs(attempt - 1)));
    auto response = ExecuteOnce(method, url, host, path, query, body);
    if (!response.ok()) {
      last = response.status();
      // Only transport failures come back as a status; others are final.
      if (absl::IsUnavailable(last) || absl::IsDeadlineExceeded(last)) continue;
      return last;
    }
    if (response->http_status >= 200 && response->http_status < 300) return response;
    s3xml::ErrorBody error = s3xml::ParseError(response->body);
    if (RetryableHttp(response->http_status, error)) {
      last = StatusFromHttp(response->http_status, error, what);
      continue;
    }
    return response;  // A definite answer (403, 404, 409, ...): the caller decides what it means.
  }
  return absl::Status(last.code(), std::string(last.message()) + " (gave up after " +
                                       std::to_string(config_.max_attempts) + " attempts)");
}

absl::StatusOr<S3BlobStore::Response> S3BlobStore::ExecuteOnce(
    const std::string& method, const std::string& url, const std::string& host,
    const std::string& path, const std::vector<std::pair<std::string, std::string>>& query,
    std::string_view body) {
  sigv4::Request request;
  request.method = method;
  request.canonical_uri = path;
  request.query = query;
  request.payload_hash = sigv4::Sha256Hex(body);
  std::string amz_date = sigv4::AmzDate(static_cast<int64_t>(std::time(nullptr)));
  request.headers = {
      {"host", host}, {"x-amz-content-sha256", request.payload_hash}, {"x-amz-date", amz_date}};
  if (!config_.session_token.empty()) {
    request.headers.emplace_back("x-amz-security-token", config_.session_token);
  }
  sigv4::Credentials credentials{config_.access_key, config_.secret_key, config_.session_token};
  std::string authorization =
      sigv4::AuthorizationHeader(request, credentials, config_.region, "s3");

  CURL* curl = handles_->Acquire();
  if (curl == nullptr) return absl::ResourceExhaustedError("curl_easy_init failed (out of memory)");
  curl_slist* headers = nullptr;
  for (const auto& [name, value] : request.headers) {
    headers = curl_slist_append(headers, (name + ": " + value).c_str());
  }
  headers = curl_slist_append(headers, ("Authorization: " + authorization).c_str());
  // No "Expect: 100-continue" round trip before bodies; S3 answers errors after the body anyway.
  headers = curl_slist_append(headers, "Expect:");

  Response response;
  UploadSource upload{body};
  curl_easy_setopt(curl, CURLOPT_URL, url.c_str());
  curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);    // Signals and threads do not mix.
  curl_easy_setopt(curl, CURLOPT_PATH_AS_IS, 1L);  // Keys may contain "/./" or "/../": send them.
  curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS, static_cast<long>(config_.connect_timeout_ms));
  curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, static_cast<long>(config_.request_timeout_ms));
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, &WriteToString);
  curl_easy_setopt(curl, CURLOPT_WRITEDATA, &response.body);
  if (method == "PUT") {
    headers = curl_slist_append(headers, "Content-Type: application/octet-stream");
    curl_easy_setopt(curl, CURLOPT_UPLOAD, 1L);
    curl_easy_setopt(curl, CURLOPT_READFUNCTION, &ReadFromView);
    curl_easy_setopt(curl, CURLOPT_READDATA, &upload);
    curl_easy_setopt(curl, CURLOPT_INFILESIZE_LARGE, static_cast<curl_off_t>(body.size()));
  } else if (method == "GET") {
    curl_easy_setopt(curl, CURLOPT_HTTPGET, 1L);
  } else {
    curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, method.c_str());
  }
  curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);

  CURLcode code = curl_easy_perform(curl);
  curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &response.http_status);
  curl_slist_free_all(headers);
  handles_->Release(curl);

  if (code != CURLE_OK) {
    std::string message = "S3 " + method + " " + url + ": " + curl_easy_strerror(code) +
                          " (check the endpoint " + config_.endpoint + " and that it is up)";
    if (code == CURLE_OPERATION_TIMEDOUT) {
      return absl::DeadlineExceededError(
          message + "; timeouts: connect " + std::to_string(config_.connect_timeout_ms) +
          " ms, request " + std::to_string(config_.request_timeout_ms) + " ms");
    }
    if (RetryableCurlError(code)) return absl::UnavailableError(message);
    return absl::InternalError(message);
  }
  return response;
}

absl::Status S3BlobStore::Put(std::string_view key, std::string_view content) {
  if (key.empty()) return absl::InvalidArgumentError("S3 PUT: the key is empty");
  std::string full_key = config_.prefix + std::string(key);
  auto response = Execute("PUT", full_key, {}, content);
  if (!response.ok()) return response.status();
  if (response->http_status >= 300) {
    return StatusFromHttp(response->http_status, s3xml::ParseError(response->body),
                          Describe("PUT", full_key));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::string> S3BlobStore::Get(std::string_view key) {
  if (key.empty()) return absl::InvalidArgumentError("S3 GET: the key is empty");
  std::string full_key = config_.prefix + std::string(key);
  auto response = Execute("GET", full_key, {}, {});
  if (!response.ok()) return response.status();
  if (response->http_status >= 300) {
    return StatusFromHttp(response->http_status, s3xml::ParseError(response->body),
                          Describe("GET", full_key));
  }
  return std::move(response->body);
}

absl::Status S3BlobStore::Delete(std::string_view key) {
  if (key.empty()) return absl::InvalidArgumentError("S3 DELETE: the key is empty");
  std::string full_key = config_.prefix + std::string(key);
  auto response = Execute("DELETE", full_key, {}, {});
  if (!response.ok()) return response.status();
  if (response->http_status >= 300) {
    s3xml::ErrorBody error = s3xml::ParseError(response->body);
    // S3 itself answers 204 for a missing key; some servers say NoSuchKey. Both mean "gone".
    if (response->http_status == 404 && error.code == "NoSuchKey") return absl::OkStatus();
    return StatusFromHttp(response->http_status, error, Describe("DELETE", full_key));
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
    std::string what = Describe("LIST", full_prefix);
    auto response = Execute("GET", "", query, {});
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
  auto response = Execute("PUT", "", {}, body);
  if (!response.ok()) return response.status();
  if (response->http_status >= 300) {
    s3xml::ErrorBody error = s3xml::ParseError(response->body);
    if (error.code == "BucketAlreadyOwnedByYou") return absl::OkStatus();
    return StatusFromHttp(response->http_status, error, "S3 create bucket " + config_.bucket);
  }
  return absl::OkStatus();
}

absl::Status S3BlobStore::DeleteBucket() {
  auto response = Execute("DELETE", "", {}, {});
  if (!response.ok()) return response.status();
  if (response->http_status >= 300) {
    s3xml::ErrorBody error = s3xml::ParseError(response->body);
    if (response->http_status == 404 && error.code == "NoSuchBucket") return absl::OkStatus();
    return StatusFromHttp(response->http_status, error, "S3 delete bucket " + config_.bucket);
  }
  return absl::OkStatus();
}

}  // namespace optimus::blob
