// A small HTTP client on libcurl for the S3 and GCS blob stores: one request per call, a pool of
// handles so that concurrent calls each get their own and later calls reuse the connections; and
// the retry and error policy the stores share around it.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace optimus::blob {

class CurlClient {
 public:
  struct Request {
    std::string method;                // "GET", "POST", "DELETE", ...
    std::string url;                   // Already encoded.
    std::vector<std::string> headers;  // "Name: value".
    std::string_view body;             // Sent for POST and PUT (possibly empty).
  };

  struct Response {
    long http_status = 0;
    std::string body;
  };

  // A transport failure's message asks to check `endpoint` and that it is up, when given.
  CurlClient(int connect_timeout_ms, int request_timeout_ms, std::string endpoint = "");
  ~CurlClient();
  CurlClient(const CurlClient&) = delete;
  CurlClient& operator=(const CurlClient&) = delete;

  // Any HTTP answer is a Response, whatever its status. A transport failure is a Status:
  // Unavailable when another try may work (refused, reset, DNS), DeadlineExceeded on a timeout,
  // Internal otherwise. The message names the method, the URL and (when given) the endpoint.
  absl::StatusOr<Response> Perform(const Request& request);

 private:
  struct Handles;

  int connect_timeout_ms_;
  int request_timeout_ms_;
  std::string endpoint_;
  std::unique_ptr<Handles> handles_;
};

// HTTP answers worth another try: throttling, request timeouts and server errors.
bool RetryableHttpStatus(long http_status);

// Delay before try `attempt` + 1: 100 ms, 200 ms, 400 ms, ... at most 5 s, with jitter in
// [half, full] so that clients failing together do not retry together.
int RetryBackoffMs(int attempt);

// Perform failures worth another try: Unavailable (refused, reset, DNS) and DeadlineExceeded.
bool RetryableTransportFailure(const absl::Status& status);

// One try of a call: the result to return, or with `retry` a failure worth another try.
struct Attempt {
  absl::StatusOr<CurlClient::Response> result;
  bool retry = false;
};

// Calls `attempt` up to `max_attempts` times, RetryBackoffMs apart, until it returns a result
// not to retry. When the tries run out, the last failure comes back with its code and
// "(gave up after N attempts)".
absl::StatusOr<CurlClient::Response> PerformWithRetries(int max_attempts,
                                                        const std::function<Attempt()>& attempt);

// "<what>: HTTP <status>[ <code>][: <message>]": how an error answer starts its Status message.
std::string HttpErrorText(const std::string& what, long http_status, const std::string& code,
                          const std::string& message);

// The Status code of an HTTP error answer where a store has no rule of its own: 400
// InvalidArgument, 401 Unauthenticated, 403 PermissionDenied, 404 NotFound, 409 and 412
// FailedPrecondition, 416 OutOfRange, 429 ResourceExhausted, 501 Unimplemented, other 5xx
// Unavailable, anything else Unknown.
absl::StatusCode StatusCodeFromHttp(long http_status);

}  // namespace optimus::blob
