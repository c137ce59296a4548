// Small URI helpers for the blob store URIs: percent-decoding, query splitting, HTTP endpoints.
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"

namespace optimus::blob::uri_util {

// "%2F" -> "/"; InvalidArgument for a '%' not followed by two hex digits. '+' stays '+'.
absl::StatusOr<std::string> PercentDecode(std::string_view s);

// RFC 3986 percent-encoding of everything but the unreserved characters (A-Z a-z 0-9 - . _ ~),
// '/' included: a GCS object name in a path or any value in a query.
std::string PercentEncode(std::string_view s);

// "a=1&b=x%20y" -> {{"a","1"},{"b","x y"}}; a name without '=' has an empty value.
absl::StatusOr<std::vector<std::pair<std::string, std::string>>> ParseQuery(std::string_view query);

struct HttpEndpoint {
  std::string scheme;     // "http" or "https"
  std::string authority;  // "host", "host:port" or "[::1]:port"
  std::string path;       // "" or "/base" without a trailing '/'
};

// "http://127.0.0.1:9000" and the like; InvalidArgument naming the problem otherwise.
absl::StatusOr<HttpEndpoint> ParseHttpEndpoint(std::string_view url);

// Where an S3 request goes: the Host header and the encoded path (as sent and as signed).
struct S3Address {
  std::string host;
  std::string path;
};

// Path style puts the bucket in the path (MinIO); virtual-host style in the host name (AWS).
// An empty `object_key` addresses the bucket itself.
S3Address AddressS3(const HttpEndpoint& endpoint, std::string_view bucket, bool path_style,
                    std::string_view object_key);

}  // namespace optimus::blob::uri_util
