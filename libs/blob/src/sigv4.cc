// AWS Signature Version 4: canonical request, string to sign, signing key and signature.
#include "sigv4.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/sha.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <ctime>

namespace optimus::blob::sigv4 {
namespace {

constexpr std::string_view kAlgorithm = "AWS4-HMAC-SHA256";

bool IsUnreserved(unsigned char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
         c == '_' || c == '.' || c == '~';
}

std::string ToLower(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

// Header values are signed trimmed, with inner runs of spaces collapsed to one.
std::string NormalizeHeaderValue(std::string_view value) {
  std::string out;
  bool pending_space = false;
  for (char c : value) {
    if (c == ' ' || c == '\t') {
      pending_space = !out.empty();
      continue;
    }
    if (pending_space) out.push_back(' ');
    pending_space = false;
    out.push_back(c);
  }
  return out;
}

// Lower-cased names sorted, with the values of repeated names joined by ',' in their given order.
Pairs CanonicalHeaderList(const Pairs& headers) {
  Pairs lowered;
  lowered.reserve(headers.size());
  for (const auto& [name, value] : headers) {
    lowered.emplace_back(ToLower(name), NormalizeHeaderValue(value));
  }
  std::stable_sort(lowered.begin(), lowered.end(),
                   [](const auto& a, const auto& b) { return a.first < b.first; });
  Pairs merged;
  for (auto& [name, value] : lowered) {
    if (!merged.empty() && merged.back().first == name) {
      merged.back().second += ',';
      merged.back().second += value;
    } else {
      merged.emplace_back(std::move(name), std::move(value));
    }
  }
  return merged;
}

}  // namespace

std::string HexEncode(std::string_view bytes) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  out.reserve(bytes.size() * 2);
  for (unsigned char c : bytes) {
    out.push_back(kDigits[c >> 4]);
    out.push_back(kDigits[c & 0xf]);
  }
  return out;
}

std::string Sha256Hex(std::string_view data) {
  unsigned char digest[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(data.data()), data.size(), digest);
  return HexEncode(std::string_view(reinterpret_cast<const char*>(digest), sizeof(digest)));
}

std::string HmacSha256(std::string_view key, std::string_view data) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  if (HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
           reinterpret_cast<const unsigned char*>(data.data()), data.size(), digest,
           &length) == nullptr) {
    // Only an OpenSSL without SHA-256 gets here: nothing could be signed at all.
    std::fprintf(stderr, "optimus::blob: OpenSSL HMAC-SHA256 failed\n");
    std::abort();
  }
  return std::string(reinterpret_cast<const char*>(digest), length);
}

std::string UriEncode(std::string_view s, bool keep_slash) {
  static constexpr char kDigits[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(s.size());
  for (unsigned char c : s) {
    if (IsUnreserved(c) || (keep_slash && c == '/')) {
      out.push_back(static_cast<char>(c));
    } else {
      out.push_back('%');
      out.push_back(kDigits[c >> 4]);
      out.push_back(kDigits[c & 0xf]);
    }
  }
  return out;
}

std::string EncodeS3Path(std::string_view key) { return "/" + UriEncode(key, true); }

std::string CanonicalQueryString(const Pairs& query) {
  Pairs encoded;
  encoded.reserve(query.size());
  for (const auto& [name, value] : query) {
    encoded.emplace_back(UriEncode(name, false), UriEncode(value, false));
  }
  std::sort(encoded.begin(), encoded.end());
  std::string out;
  for (const auto& [name, value] : encoded) {
    if (!out.empty()) out.push_back('&');
    out += name;
    out.push_back('=');
    out += value;
  }
  return out;
}

std::string SignedHeaders(const Pairs& headers) {
  std::string out;
  for (const auto& [name, value] : CanonicalHeaderList(headers)) {
    if (!out.empty()) out.push_back(';');
    out += name;
  }
  return out;
}

std::string CanonicalRequest(const Request& request) {
  std::string out = request.method + "\n";
  out += request.canonical_uri.empty() ? "/" : request.canonical_uri;
  out += "\n";
  out += CanonicalQueryString(request.query) + "\n";
  for (const auto& [name, value] : CanonicalHeaderList(request.headers)) {
    out += name + ":" + value + "\n";
  }
  out += "\n";
  out += SignedHeaders(request.headers) + "\n";
  out += request.payload_hash;
  return out;
}

std::string CredentialScope(std::string_view amz_date, std::string_view region,
                            std::string_view service) {
  std::string out(amz_date.substr(0, 8));
  out += "/";
  out += region;
  out += "/";
  out += service;
  out += "/aws4_request";
  return out;
}

std::string StringToSign(std::string_view amz_date, std::string_view scope,
                         std::string_view canonical_request) {
  std::string out(kAlgorithm);
  out += "\n";
  out += amz_date;
  out += "\n";
  out += scope;
  out += "\n";
  out += Sha256Hex(canonical_request);
  return out;
}

std::string SigningKey(std::string_view secret_key, std::string_view date, std::string_view region,
                       std::string_view service) {
  std::string key = "AWS4";
  key += secret_key;
  std::string date_key = HmacSha256(key, date);
  std::string region_key = HmacSha256(date_key, region);
  std::string service_key = HmacSha256(region_key, service);
  return HmacSha256(service_key, "aws4_request");
}

namespace {

std::string AmzDateOf(const Request& request) {
  for (const auto& [name, value] : request.headers) {
    if (ToLower(name) == "x-amz-date") return value;
  }
  // Our own code builds every request; one without a date is a bug, not an outside failure.
  std::fprintf(stderr, "optimus::blob: SigV4 request without an x-amz-date header\n");
  std::abort();
}

}  // namespace

std::string Signature(const Request& request, const Credentials& credentials,
                      std::string_view region, std::string_view service) {
  std::string amz_date = AmzDateOf(request);
  std::string scope = CredentialScope(amz_date, region, service);
  std::string to_sign = StringToSign(amz_date, scope, CanonicalRequest(request));
  std::string key = SigningKey(credentials.secret_key, amz_date.substr(0, 8), region, service);
  return HexEncode(HmacSha256(key, to_sign));
}

std::string AuthorizationHeader(const Request& request, const Credentials& credentials,
                                std::string_view region, std::string_view service) {
  std::string amz_date = AmzDateOf(request);
  std::string out(kAlgorithm);
  out += " Credential=" + credentials.access_key + "/" + CredentialScope(amz_date, region, service);
  out += ",SignedHeaders=" + SignedHeaders(request.headers);
  out += ",Signature=" + Signature(request, credentials, region, service);
  return out;
}

std::string AmzDate(int64_t unix_seconds) {
  std::time_t t = static_cast<std::time_t>(unix_seconds);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof(buf), "%Y%m%dT%H%M%SZ", &tm);
  return buf;
}

}  // namespace optimus::blob::sigv4
