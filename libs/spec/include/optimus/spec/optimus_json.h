// Optimus's REST job specification (the `JobSpecification` message as grpc-gateway JSON) as a
// JobSpec, so specs sent to or read from an Optimus server use the same model as job.yaml.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "optimus/spec/model.h"

namespace optimus::spec {

// Converts one JobSpecification: an item of `specs` in AddJobSpecifications or
// UpsertJobSpecifications, or the `spec` of a GetJobSpecification response.
//
// Field names may be snake_case or lowerCamelCase, int32 fields JSON numbers or decimal strings,
// notifier events enum names ("TYPE_FAILURE") or numbers, as protojson accepts. Unknown fields and
// nulls are ignored. A zero value ("", 0, false, "0s") counts as absent: proto3 cannot tell them
// apart, and server responses carry every field. Assets go into JobSpec::assets.
//
// InvalidArgument for a spec that is not an object, a missing name, or a value of the wrong JSON
// type, naming `where` (e.g. "specs[2]") and the field path as written:
// "specs[2].config[1].value: expected a string".
// The member of a JSON object for the proto field `snake_name`, under that name or its
// lowerCamelCase spelling ("start_date", then "startDate"); null when absent.
const nlohmann::json* ProtoJsonField(const nlohmann::json& object, std::string_view snake_name);

absl::StatusOr<JobSpec> JobSpecFromOptimusJson(const nlohmann::json& spec,
                                               const std::string& where);

}  // namespace optimus::spec
