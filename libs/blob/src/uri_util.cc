// Small URI helpers for the blob store URIs.
#include "uri_util.h"

#include <cstdlib>

#include "absl/status/status.h"
#include "sigv4.h"

namespace optimus::blob::uri_util {
namespace {

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

}  // namespace

absl::StatusOr<std::string> PercentDecode(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] != '%') {
      out.push_back(s[i]);
      continue;
    }
    int hi = i + 2 < s.size() ? HexValue(s[i + 1]) : -1;
    int lo = i + 2 < s.size() ? HexValue(s[i + 2]) : -1;
    if (hi < 0 || lo < 0) {
      return absl::InvalidArgumentError("bad percent-escape at offset " + std::to_string(i) +
                                        " in \"" + std::string(s) + "\"");
    }
    out.push_back(static_cast<char>(hi * 16 + lo));
    i += 2;
  }
  return out;
}

std::string PercentEncode(std::string_view s) { return sigv4::UriEncode(s, false); }

absl::StatusOr<BucketUri> ParseBucketUri(
    std::string_view uri, std::string_view scheme,
    const std::function<std::string(const std::string& bucket)>& bucket_problem) {
  if (uri.substr(0, scheme.size()) != scheme) {
    return absl::InvalidArgumentError("it does not start with " + std::string(scheme));
  }
  std::string_view rest = uri.substr(scheme.size());
  std::string_view query;
  if (size_t q = rest.find('?'); q != std::string_view::npos) {
    query = rest.substr(q + 1);
    rest = rest.substr(0, q);
  }
  if (rest.find('#') != std::string_view::npos) {
    return absl::InvalidArgumentError("fragments (#) are not allowed");
  }
  BucketUri out;
  size_t slash = rest.find('/');
  out.bucket = std::string(rest.substr(0, slash));
  if (out.bucket.empty()) return absl::InvalidArgumentError("the bucket name is missing");
  if (std::string problem = bucket_problem(out.bucket); !problem.empty()) {
    return absl::InvalidArgumentError(problem);
  }
  if (slash != std::string_view::npos) {
    auto prefix = PercentDecode(rest.substr(slash + 1));
    if (!prefix.ok()) return prefix.status();
    out.prefix = *std::move(prefix);
    while (!out.prefix.empty() && out.prefix.front() == '/') out.prefix.erase(0, 1);
    if (!out.prefix.empty() && out.prefix.back() != '/') out.prefix += '/';
  }
  auto params = ParseQuery(query);
  if (!params.ok()) return params.status();
  out.params = *std::move(params);
  return out;
}

absl::Status ParseIntParam(const std::string& name, const std::string& value, int min, int& out) {
  char* end = nullptr;
  long v = std::strtol(value.c_str(), &end, 10);
  if (value.empty() || *end != '\0' || v < min || v > 1000000000) {
    return absl::InvalidArgumentError(name + "=" + value +
                                      " is not an integer >= " + std::to_string(min));
  }
  out = static_cast<int>(v);
  return absl::OkStatus();
}

absl::StatusOr<std::vector<std::pair<std::string, std::string>>> ParseQuery(
    std::string_view query) {
  std::vector<std::pair<std::string, std::string>> out;
  while (!query.empty()) {
    size_t amp = query.find('&');
    std::string_view part = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view() : query.substr(amp + 1);
    if (part.empty()) continue;
    size_t eq = part.find('=');
    auto name = PercentDecode(part.substr(0, eq));
    if (!name.ok()) return name.status();
    auto value =
        PercentDecode(eq == std::string_view::npos ? std::string_view() : part.substr(eq + 1));
    if (!value.ok()) return value.status();
    out.emplace_back(*std::move(name), *std::move(value));
  }
  return out;
}

absl::StatusOr<HttpEndpoint> ParseHttpEndpoint(std::string_view url) {
  HttpEndpoint out;
  size_t sep = url.find("://");
  if (sep == std::string_view::npos) {
    return absl::InvalidArgumentError("it has no scheme; write http://host:port or https://host");
  }
  out.scheme = std::string(url.substr(0, sep));
  if (out.scheme != "http" && out.scheme != "https") {
    return absl::InvalidArgumentError("scheme \"" + out.scheme + "\" is not http or https");
  }
  std::string_view rest = url.substr(sep + 3);
  if (rest.find_first_of("?#") != std::string_view::npos) {
    return absl::InvalidArgumentError("an endpoint has no query or fragment");
  }
  size_t slash = rest.find('/');
  std::string_view authority = rest.substr(0, slash);
  if (authority.empty()) return absl::InvalidArgumentError("the host is missing");
  if (authority.find('@') != std::string_view::npos) {
    return absl::InvalidArgumentError("credentials in the endpoint are not allowed");
  }
  out.authority = std::string(authority);
  if (slash != std::string_view::npos) {
    out.path = std::string(rest.substr(slash));
    while (!out.path.empty() && out.path.back() == '/') out.path.pop_back();
  }
  return out;
}

S3Address AddressS3(const HttpEndpoint& endpoint, std::string_view bucket, bool path_style,
                    std::string_view object_key) {
  S3Address out;
  out.host = endpoint.authority;
  out.path = endpoint.path;
  if (path_style) {
    out.path += "/" + sigv4::UriEncode(bucket, false);
    if (!object_key.empty()) out.path += sigv4::EncodeS3Path(object_key);
  } else {
    out.host = std::string(bucket) + "." + endpoint.authority;
    out.path += object_key.empty() ? std::string("/") : sigv4::EncodeS3Path(object_key);
  }
  return out;
}

}  // namespace optimus::blob::uri_util
