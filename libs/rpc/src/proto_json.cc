// Protobuf JSON mapping for REST bodies.
#include "optimus/rpc/proto_json.h"

#include <google/protobuf/descriptor.h>
#include <google/protobuf/util/json_util.h>

namespace optimus::rpc {

absl::Status ParseJson(std::string_view json, google::protobuf::Message* message) {
  message->Clear();
  if (json.find_first_not_of(" \t\r\n") == std::string_view::npos) return absl::OkStatus();
  google::protobuf::util::JsonParseOptions options;
  options.ignore_unknown_fields = false;
  auto status = google::protobuf::util::JsonStringToMessage(
      google::protobuf::StringPiece(json.data(), json.size()), message, options);
  if (status.ok()) return absl::OkStatus();
  return absl::InvalidArgumentError("the request body is not a valid JSON " +
                                    message->GetDescriptor()->full_name() + ": " +
                                    std::string(status.message()));
}

absl::StatusOr<std::string> ToJson(const google::protobuf::Message& message,
                                   const JsonPrintOptions& options) {
  google::protobuf::util::JsonPrintOptions print;
  print.preserve_proto_field_names = options.proto_field_names;
  print.always_print_primitive_fields = options.emit_defaults;
  print.add_whitespace = options.pretty;
  std::string out;
  auto status = google::protobuf::util::MessageToJsonString(message, &out, print);
  if (!status.ok()) {
    return absl::InternalError("cannot print " + message.GetDescriptor()->full_name() +
                               " as JSON: " + std::string(status.message()));
  }
  return out;
}

HttpResponse ProtoResponse(const google::protobuf::Message& message, int status) {
  absl::StatusOr<std::string> json = ToJson(message);
  if (!json.ok()) return HttpResponse::Error(json.status());
  return HttpResponse::Json(std::move(*json), status);
}

}  // namespace optimus::rpc
