// Reads the few S3 XML answers the store needs: ListObjectsV2 pages and error bodies.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "optimus/blob/blob_store.h"

namespace optimus::blob::s3xml {

// One ListObjectsV2 answer. Keys are full S3 keys (the store's prefix not yet removed).
struct ListPage {
  std::vector<ObjectInfo> objects;
  bool truncated = false;
  std::string next_continuation_token;  // Set whenever `truncated` is.
};

// The S3 <Error> body: both fields empty when the body is not one (HEAD answers, proxies).
struct ErrorBody {
  std::string code;
  std::string message;
};

// Replaces the five predefined XML entities and numeric character references (&#38; &#x26;)
// by their characters (UTF-8). InvalidArgument for an unknown or unterminated reference.
absl::StatusOr<std::string> XmlUnescape(std::string_view text);

// InvalidArgument naming what is wrong when the body is not a well-formed ListBucketResult.
absl::StatusOr<ListPage> ParseListObjectsV2(std::string_view xml);

ErrorBody ParseError(std::string_view xml);

}  // namespace optimus::blob::s3xml
