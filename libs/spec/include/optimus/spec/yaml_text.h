// Writing YAML text by hand (the authoring commands keep a file's comments and layout, so
// they append text instead of re-emitting a tree).
#pragma once

#include <string>
#include <string_view>

namespace optimus::spec {

// `value` as a YAML scalar that reads back as exactly this string: plain when that is safe,
// else double-quoted with escapes ("true", "01", "a: b", "", " x" and "{{.DSTART}}" are quoted).
std::string YamlScalar(std::string_view value);

}  // namespace optimus::spec
