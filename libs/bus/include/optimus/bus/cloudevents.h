// CloudEvents attributes (binary content mode, `ce_*` headers) stamped on every record.
#pragma once

#include <string>
#include <string_view>

#include "optimus/bus/message.h"

namespace optimus::bus {

// A random RFC 4122 version-4 UUID, for ce_id.
std::string NewEventId();

// Sets ce_specversion, ce_id, ce_time (RFC 3339, UTC) and ce_source where the message lacks
// them; ce_type and ce_subject are the producer's to set.
void StampCloudEvent(OutgoingMessage& message, std::string_view source);

// The id consumers deduplicate by: ce_id, or the record's position when a producer sent none.
std::string MessageId(const Message& message);

}  // namespace optimus::bus
