// A compact, binary-safe encoding of record headers, for logs and outboxes that store them.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "optimus/bus/message.h"

namespace optimus::bus {

// Count, then each name and value, every number a LEB128 varint and every string its length
// followed by its bytes: any byte may appear in a name or value (Kafka headers are bytes).
std::string EncodeHeaders(const std::vector<Header>& headers);

// DataLoss when `encoded` is not something EncodeHeaders produced.
absl::StatusOr<std::vector<Header>> DecodeHeaders(std::string_view encoded);

}  // namespace optimus::bus
