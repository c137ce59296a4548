// CurlClient: libcurl easy handles from a pool, one blocking request per call.
#include "optimus/blob/curl_client.h"

#include <curl/curl.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <random>
#include <thread>

#include "absl/status/status.h"

namespace optimus::blob {
namespace {

constexpr size_t kMaxIdleHandles = 16;
constexpr int kMaxBackoffMs = 5000;

void InitCurlOnce() {
  static std::once_flag once;
  std::call_once(once, [] {
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
      std::fprintf(stderr, "optimus::blob: curl_global_init failed\n");
      std::abort();  // No HTTP at all in this process: nothing sensible can follow.
    }
  });
}

bool RetryableCurlError(CURLcode code) {
  switch (code) {
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_CONNECT:
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

size_t AppendToString(char* data, size_t size, size_t count, void* user) {
  static_cast<std::string*>(user)->append(data, size * count);
  return size * count;
}

}  // namespace

struct CurlClient::Handles {
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
    curl_easy_reset(handle);  // Forgets the options, keeps the connections and the DNS cache.
    std::lock_guard<std::mutex> lock(mu);
    if (idle.size() < kMaxIdleHandles) {
      idle.push_back(handle);
      return;
    }
    curl_easy_cleanup(handle);
  }
};

CurlClient::CurlClient(int connect_timeout_ms, int request_timeout_ms, std::string endpoint)
    : connect_timeout_ms_(connect_timeout_ms),
      request_timeout_ms_(request_timeout_ms),
      endpoint_(std::move(endpoint)),
      handles_(std::make_unique<Handles>()) {
  InitCurlOnce();
}

CurlClient::~CurlClient() = default;

absl::StatusOr<CurlClient::Response> CurlClient::Perform(const Request& request) {
  CURL* curl = handles_->Acquire();
  if (curl == nullptr) return absl::ResourceExhaustedError("curl_easy_init failed (out of memory)");
  curl_slist* headers = nullptr;
  for (const std::string& header : request.headers) {
    headers = curl_slist_append(headers, header.c_str());
  }
  // No "Expect: 100-continue" round trip before a body.
  headers = curl_slist_append(headers, "Expect:");

  Response response;
  curl_easy_setopt(curl, CURLOPT_URL, request.url.c_str());
  curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);    // Signals and threads do not mix.
  curl_easy_setopt(curl, CURLOPT_PATH_AS_IS, 1L);  // Send the path we built, never normalised.
  curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS, static_cast<long>(connect_timeout_ms_));
  curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, static_cast<long>(request_timeout_ms_));
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, &AppendToString);
  curl_easy_setopt(curl, CURLOPT_WRITEDATA, &response.body);
  if (request.method == "GET") {
    curl_easy_setopt(curl, CURLOPT_HTTPGET, 1L);
  } else if (request.method == "POST" || request.method == "PUT") {
    // The body is sent from the caller's memory without a copy; its size makes binary safe.
    curl_easy_setopt(curl, CURLOPT_POST, 1L);
    curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE,
                     static_cast<curl_off_t>(request.body.size()));
    curl_easy_setopt(curl, CURLOPT_POSTFIELDS, request.body.empty() ? "" : request.body.data());
    if (request.method == "PUT") curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, "PUT");
  } else {
    curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, request.method.c_str());
  }
  curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);

  CURLcode code = curl_easy_perform(curl);
  curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &response.http_status);
  curl_slist_free_all(headers);
  handles_->Release(curl);

  if (code != CURLE_OK) {
    std::string message = request.method + " " + request.url + ": " + curl_easy_strerror(code);
    if (!endpoint_.empty()) message += " (check the endpoint " + endpoint_ + " and that it is up)";
    if (code == CURLE_OPERATION_TIMEDOUT) {
      return absl::DeadlineExceededError(message + "; timeouts: connect " +
                                         std::to_string(connect_timeout_ms_) + " ms, request " +
                                         std::to_string(request_timeout_ms_) + " ms");
    }
    if (RetryableCurlError(code)) return absl::UnavailableError(message);
    return absl::InternalError(message);
  }
  return response;
}

bool RetryableHttpStatus(long http_status) {
  return http_status >= 500 || http_status == 429 || http_status == 408;
}

int RetryBackoffMs(int attempt) {
  static thread_local std::mt19937 rng(std::random_device{}());
  int base = std::min(kMaxBackoffMs, 100 << std::min(std::max(attempt, 1) - 1, 10));
  return std::uniform_int_distribution<int>(base / 2, base)(rng);
}

bool RetryableTransportFailure(const absl::Status& status) {
  return absl::IsUnavailable(status) || absl::IsDeadlineExceeded(status);
}

absl::StatusOr<CurlClient::Response> PerformWithRetries(int max_attempts,
                                                        const std::function<Attempt()>& attempt) {
  absl::Status last;
  for (int n = 1; n <= max_attempts; ++n) {
    if (n > 1) std::this_thread::sleep_for(std::chrono::milliseconds(RetryBackoffMs(n - 1)));
    Attempt outcome = attempt();
    if (!outcome.retry) return std::move(outcome.result);
    last = outcome.result.status();
  }
  return absl::Status(last.code(), std::string(last.message()) + " (gave up after " +
                                       std::to_string(max_attempts) + " attempts)");
}

std::string HttpErrorText(const std::string& what, long http_status, const std::string& code,
                          const std::string& message) {
  std::string text = what + ": HTTP " + std::to_string(http_status);
  if (!code.empty()) text += " " + code;
  if (!message.empty()) text += ": " + message;
  return text;
}

absl::StatusCode StatusCodeFromHttp(long http_status) {
  if (http_status == 400) return absl::StatusCode::kInvalidArgument;
  if (http_status == 401) return absl::StatusCode::kUnauthenticated;
  if (http_status == 403) return absl::StatusCode::kPermissionDenied;
  if (http_status == 404) return absl::StatusCode::kNotFound;
  if (http_status == 409 || http_status == 412) return absl::StatusCode::kFailedPrecondition;
  if (http_status == 416) return absl::StatusCode::kOutOfRange;
  if (http_status == 429) return absl::StatusCode::kResourceExhausted;
  if (http_status == 501) return absl::StatusCode::kUnimplemented;
  if (http_status >= 500) return absl::StatusCode::kUnavailable;
  return absl::StatusCode::kUnknown;
}

}  // namespace optimus::blob
