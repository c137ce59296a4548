// Protobuf <-> JSON for REST bodies, with the field naming grpc-gateway uses.
//
// Output uses lowerCamelCase names and prints fields at their default values, like the
// grpc-gateway v2 default marshaler the Go Optimus serves with. Input accepts both lowerCamelCase
// and the original snake_case names. Unlike the gateway (which discards unknown fields), unknown
// fields are rejected with InvalidArgument naming the field, so a typo in a request is reported
// instead of silently ignored.
#pragma once

#include <absl/status/status.h>
#include <absl/status/statusor.h>
#include <google/protobuf/message.h>

#include <string>
#include <string_view>

#include "optimus/rpc/http_server.h"

namespace optimus::rpc {

struct JsonPrintOptions {
  bool proto_field_names = false;  // snake_case names instead of lowerCamelCase
  bool emit_defaults = true;       // print fields holding their default value
  bool pretty = false;
};

// Parses `json` into `message` (cleared first). An empty or all-whitespace body is the empty
// message, as grpc-gateway treats a POST without body.
absl::Status ParseJson(std::string_view json, google::protobuf::Message* message);

template <typename T>
absl::StatusOr<T> ParseJsonBody(std::string_view body) {
  T message;
  if (absl::Status status = ParseJson(body, &message); !status.ok()) return status;
  return message;
}

absl::StatusOr<std::string> ToJson(const google::protobuf::Message& message,
                                   const JsonPrintOptions& options = {});

// A 200 (or `status`) JSON response of `message`; a 500 error response if it cannot be printed.
HttpResponse ProtoResponse(const google::protobuf::Message& message, int status = 200);

}  // namespace optimus::rpc
