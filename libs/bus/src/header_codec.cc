// Varint-framed header lists.
#include "optimus/bus/header_codec.h"

#include <cstdint>

namespace optimus::bus {
namespace {

void PutVarint(std::string& out, uint64_t n) {
  while (n >= 0x80) {
    out.push_back(static_cast<char>((n & 0x7f) | 0x80));
    n >>= 7;
  }
  out.push_back(static_cast<char>(n));
}

bool GetVarint(std::string_view& in, uint64_t& n) {
  n = 0;
  for (int shift = 0; shift < 64; shift += 7) {
    if (in.empty()) return false;
    const auto byte = static_cast<uint8_t>(in.front());
    in.remove_prefix(1);
    n |= static_cast<uint64_t>(byte & 0x7f) << shift;
    if ((byte & 0x80) == 0) return true;
  }
  return false;
}

bool GetString(std::string_view& in, std::string& out) {
  uint64_t size = 0;
  if (!GetVarint(in, size) || size > in.size()) return false;
  out.assign(in.data(), size);
  in.remove_prefix(size);
  return true;
}

}  // namespace

std::string EncodeHeaders(const std::vector<Header>& headers) {
  std::string out;
  PutVarint(out, headers.size());
  for (const auto& [name, value] : headers) {
    PutVarint(out, name.size());
    out += name;
    PutVarint(out, value.size());
    out += value;
  }
  return out;
}

absl::StatusOr<std::vector<Header>> DecodeHeaders(std::string_view encoded) {
  uint64_t count = 0;
  if (!GetVarint(encoded, count) || count > encoded.size()) {
    return absl::DataLossError("headers: bad count");
  }
  std::vector<Header> headers(count);
  for (auto& [name, value] : headers) {
    if (!GetString(encoded, name) || !GetString(encoded, value)) {
      return absl::DataLossError("headers: truncated entry");
    }
  }
  if (!encoded.empty()) return absl::DataLossError("headers: trailing bytes");
  return headers;
}

}  // namespace optimus::bus
