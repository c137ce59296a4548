// Small value checks shared by the loaders and validators.
#pragma once

#include <string>
#include <string_view>

namespace optimus::spec::internal {

// A real calendar date written YYYY-MM-DD.
bool IsDate(std::string_view text);
// Kubernetes quantities like "250m", "1", "0.5", "512Mi", "1Gi".
bool IsQuantity(std::string_view text);
bool IsHttpUrl(std::string_view text);
std::string Lower(std::string_view text);
std::string Upper(std::string_view text);
// Quotes for messages: "x" with inner quotes escaped.
std::string Quote(std::string_view text);

}  // namespace optimus::spec::internal
