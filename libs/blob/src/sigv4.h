// AWS Signature Version 4 for S3 requests: pure functions from a request description to its
// signature.
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace optimus::blob::sigv4 {

// Name/value pairs in the order the caller gives them; signing sorts copies, never the input.
using Pairs = std::vector<std::pair<std::string, std::string>>;

struct Credentials {
  std::string access_key;
  std::string secret_key;
  std::string session_token;  // Sent as x-amz-security-token when not empty.
};

// What SigV4 signs of an HTTP request.
struct Request {
  std::string method;  // "GET", "PUT", ...
  std::string
      canonical_uri;  // The path exactly as sent on the wire: already encoded (EncodeS3Path).
  Pairs query;        // Decoded names and values; encoded and sorted while signing.
  Pairs headers;      // Every header to sign; must include host and x-amz-date.
  std::string payload_hash;  // Hex SHA-256 of the body (or UNSIGNED-PAYLOAD).
};

// Lower-case hex of the SHA-256 of `data`.
std::string Sha256Hex(std::string_view data);

// Raw 32-byte HMAC-SHA256 of `data` under `key`.
std::string HmacSha256(std::string_view key, std::string_view data);

std::string HexEncode(std::string_view bytes);

// RFC 3986 percent-encoding as SigV4 wants it: unreserved characters stay, everything else
// becomes %XY with upper-case hex; '/' stays only when `keep_slash`.
std::string UriEncode(std::string_view s, bool keep_slash);

// The path of an S3 object URL: "/" + the encoded bucket (path style) and key. S3 does not
// normalise paths, so every byte of the key is encoded once and slashes are kept.
std::string EncodeS3Path(std::string_view key);

// Query parameters encoded and sorted by name, then value: the form used both in the canonical
// request and on the wire, so the two can never disagree.
std::string CanonicalQueryString(const Pairs& query);

// "host;range;x-amz-date": lower-case, sorted, ';'-joined names of the signed headers.
std::string SignedHeaders(const Pairs& headers);

// The canonical request (method, path, query, headers, signed headers, payload hash).
std::string CanonicalRequest(const Request& request);

// "20130524/us-east-1/s3/aws4_request" from an x-amz-date of "20130524T000000Z".
std::string CredentialScope(std::string_view amz_date, std::string_view region,
                            std::string_view service);

std::string StringToSign(std::string_view amz_date, std::string_view scope,
                         std::string_view canonical_request);

// HMAC chain "AWS4"+secret -> date -> region -> service -> "aws4_request".
std::string SigningKey(std::string_view secret_key, std::string_view date, std::string_view region,
                       std::string_view service);

// Lower-case hex signature of `request`; the headers must already contain x-amz-date.
std::string Signature(const Request& request, const Credentials& credentials,
                      std::string_view region, std::string_view service);

// The value of the Authorization header for `request`.
std::string AuthorizationHeader(const Request& request, const Credentials& credentials,
                                std::string_view region, std::string_view service);

// "20130524T000000Z" for a Unix time in seconds (UTC).
std::string AmzDate(int64_t unix_seconds);

}  // namespace optimus::blob::sigv4
