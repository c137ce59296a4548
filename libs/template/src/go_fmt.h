// Go's fmt.Sprint / Sprintln / Sprintf over template values, for print, println and printf.
#pragma once

#include <span>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "optimus/template/value.h"

namespace optimus::tmpl::internal {

// fmt.Sprint: a space between operands when neither side is a string.
std::string GoSprint(std::span<const Value> args);
// fmt.Sprintln: spaces between all operands and a final newline.
std::string GoSprintln(std::span<const Value> args);
// fmt.Sprintf for the verbs %v %s %d %q %t %x %X %o %b %c %e %E %f %F %g %G %T %% with flags
// "+- #0", width and precision. Wrong types, missing and extra arguments are rendered the way
// Go does (%!d(string=x), %!s(MISSING), %!(EXTRA int=1)); verbs Go has that this does not
// implement (%U %p %O, argument indexes, '*' widths) are an error.
absl::StatusOr<std::string> GoSprintf(std::string_view format, std::span<const Value> args);
// strconv.Quote.
std::string GoQuote(std::string_view s, bool ascii_only = false);

}  // namespace optimus::tmpl::internal
