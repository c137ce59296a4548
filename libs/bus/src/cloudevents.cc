// CloudEvents stamping and message identity.
#include "optimus/bus/cloudevents.h"

#include <openssl/rand.h>

#include <random>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"

namespace optimus::bus {
namespace {

bool HasHeader(const OutgoingMessage& message, std::string_view name) {
  for (const auto& [k, v] : message.headers) {
    if (k == name) return true;
  }
  return false;
}

}  // namespace

std::string NewEventId() {
  // From OpenSSL's CSPRNG: deployment ids are handed to callers, who must not be able to guess
  // another deployment's from their own.
  unsigned char bytes[16];
  if (RAND_bytes(bytes, sizeof(bytes)) != 1) {
    // Only when the system cannot seed a CSPRNG at all; std::random_device then still gives
    // unique ids.
    std::random_device device;
    for (unsigned char& b : bytes) b = static_cast<unsigned char>(device());
  }
  uint64_t hi = 0, lo = 0;
  for (int i = 0; i < 8; ++i) {
    hi = (hi << 8) | bytes[i];
    lo = (lo << 8) | bytes[8 + i];
  }
  hi = (hi & 0xffffffffffff0fffULL) | 0x0000000000004000ULL;  // Version 4.
  lo = (lo & 0x3fffffffffffffffULL) | 0x8000000000000000ULL;  // RFC 4122 variant.
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(36);
  for (int i = 0; i < 16; ++i) {
    if (i == 4 || i == 6 || i == 8 || i == 10) out.push_back('-');
    const uint64_t word = i < 8 ? hi : lo;
    const int shift = (7 - (i % 8)) * 8;
    const unsigned byte = static_cast<unsigned>((word >> shift) & 0xff);
    out.push_back(kHex[byte >> 4]);
    out.push_back(kHex[byte & 0xf]);
  }
  return out;
}

void StampCloudEvent(OutgoingMessage& message, std::string_view source) {
  if (!HasHeader(message, kCeSpecVersion)) message.headers.emplace_back(kCeSpecVersion, "1.0");
  if (!HasHeader(message, kCeId)) message.headers.emplace_back(kCeId, NewEventId());
  if (!HasHeader(message, kCeSource)) message.headers.emplace_back(kCeSource, std::string(source));
  if (!HasHeader(message, kCeTime)) {
    message.headers.emplace_back(
        kCeTime, absl::FormatTime("%Y-%m-%dT%H:%M:%E3SZ", absl::Now(), absl::UTCTimeZone()));
  }
}

std::string MessageId(const Message& message) {
  if (auto id = message.HeaderValue(kCeId); id.has_value() && !id->empty()) return *id;
  return absl::StrCat(message.topic, "/", message.partition, "/", message.offset);
}

}  // namespace optimus::bus
