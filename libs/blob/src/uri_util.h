// Small URI helpers for the blob store URIs: percent-decoding, query splitting, HTTP endpoints.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace optimus::blob::uri_util {

// "%2F" -> "/"; InvalidArgument for a '%' not followed by two hex digits. '+' stays '+'.
absl::StatusOr<std::string> PercentDecode(std::string_view s);

// RFC 3986 percent-encoding of everything but the unreserved characters (A-Z a-z 0-9 - . _ ~),
// '/' included: a GCS object name in a path or any value in a query.
std::string PercentEncode(std::string_view s);

// "a=1&b=x%20y" -> {{"a","1"},{"b","x y"}}; a name without '=' has an empty value.
absl::StatusOr<std::vector<std::pair<std::string, std::string>>> ParseQuery(std::string_view query);

// What a store URI "<scheme>bucket/prefix?name=value&..." (s3://, gs://) says.
struct BucketUri {
  std::string bucket;
  std::string prefix;  // Decoded, without a leading '/'; ends with '/' unless empty.
  std::vector<std::pair<std::string, std::string>> params;  // Decoded, in URI order.
};

// `bucket_problem` says what is wrong with a bucket name, or "" when it is valid. Errors are
// InvalidArgument with the reason alone, for the caller to quote the URI and its expected form.
absl::StatusOr<BucketUri> ParseBucketUri(
    std::string_view uri, std::string_view scheme,
    const std::function<std::string(const std::string& bucket)>& bucket_problem);

// A store URI's integer parameter into `out`, at least `min` and at most 1e9; InvalidArgument
// "name=value is not an integer >= min" otherwise.
absl::Status ParseIntParam(const std::string& name, const std::string& value, int min, int& out);

// The request limits every object store takes from its URI's query (list_page_size,
// connect_timeout_ms, request_timeout_ms, max_attempts) into the config's fields of those names;
// nullopt when `name` is none of them.
template <typename Config>
std::optional<absl::Status> ParseLimitParam(const std::string& name, const std::string& value,
                                            Config& config) {
  if (name == "list_page_size") return ParseIntParam(name, value, 1, config.list_page_size);
  if (name == "connect_timeout_ms") return ParseIntParam(name, value, 1, config.connect_timeout_ms);
  if (name == "request_timeout_ms") return ParseIntParam(name, value, 1, config.request_timeout_ms);
  if (name == "max_attempts") return ParseIntParam(name, value, 1, config.max_attempts);
  return std::nullopt;
}

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
