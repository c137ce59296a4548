// A small HTTP client on libcurl for the JSON-API blob stores: one request per call, a pool of
// handles so that concurrent calls each get their own and later calls reuse the connections.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

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

  CurlClient(int connect_timeout_ms, int request_timeout_ms);
  ~CurlClient();
  CurlClient(const CurlClient&) = delete;
  CurlClient& operator=(const CurlClient&) = delete;

  // Any HTTP answer is a Response, whatever its status. A transport failure is a Status:
  // Unavailable when another try may work (refused, reset, DNS), DeadlineExceeded on a timeout,
  // Internal otherwise. The message names the method and the URL.
  absl::StatusOr<Response> Perform(const Request& request);

 private:
  struct Handles;

  int connect_timeout_ms_;
  int request_timeout_ms_;
  std::unique_ptr<Handles> handles_;
};

// HTTP answers worth another try: throttling, request timeouts and server errors.
bool RetryableHttpStatus(long http_status);

// Delay before try `attempt` + 1: 100 ms, 200 ms, 400 ms, ... at most 5 s, with jitter in
// [half, full] so that clients failing together do not retry together.
int RetryBackoffMs(int attempt);

}  // namespace optimus::blob
