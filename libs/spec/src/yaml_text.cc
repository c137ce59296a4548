// Scalar quoting for hand-written YAML.
#include "optimus/spec/yaml_text.h"

#include <cctype>
#include <regex>

namespace optimus::spec {
namespace {

// Plain scalars that the YAML core schema (or YAML 1.1 readers) would not read as a string.
bool LooksTyped(std::string_view v) {
  static constexpr std::string_view kWords[] = {
      "true", "True", "TRUE", "false", "False", "FALSE", "yes",   "Yes",  "YES", "no", "No",
      "NO",   "on",   "On",   "ON",    "off",   "Off",   "OFF",   "y",    "Y",   "n",  "N",
      "null", "Null", "NULL", "~",     ".inf",  ".Inf",  "-.inf", ".nan", ".NaN"};
  for (std::string_view w : kWords) {
    if (v == w) return true;
  }
  // Numbers of YAML 1.2 and 1.1 (underscores, 0x/0o/0b prefixes, sexagesimal 12:30).
  static const std::regex kNumber(
      "[-+]?("
      "[0-9][0-9_]*"
      "|0x[0-9a-fA-F_]+|0o[0-7_]+|0b[01_]+"
      "|([0-9][0-9_]*)?\\.[0-9_]*([eE][-+]?[0-9]+)?"
      "|[0-9][0-9_]*[eE][-+]?[0-9]+"
      "|[0-9][0-9_]*(:[0-5]?[0-9])+(\\.[0-9_]*)?"
      ")");
  return std::regex_match(v.begin(), v.end(), kNumber);
}

bool NeedsQuotes(std::string_view v) {
  if (v.empty() || LooksTyped(v)) return true;
  if (v.front() == ' ' || v.back() == ' ') return true;
  if (std::string_view(",[]{}#&*!|>'\"%@`").find(v.front()) != std::string_view::npos) {
    return true;
  }
  // "-", "?" and ":" start a plain scalar unless a space (or nothing) follows them.
  if (std::string_view("-?:").find(v.front()) != std::string_view::npos &&
      (v.size() == 1 || v[1] == ' ')) {
    return true;
  }
  if (v.find(": ") != std::string_view::npos || v.find(" #") != std::string_view::npos ||
      v.back() == ':') {
    return true;
  }
  for (char c : v) {
    const auto u = static_cast<unsigned char>(c);
    if (u < 0x20 || u == 0x7f || c == '{' || c == '}' || c == '[' || c == ']' || c == ',') {
      return true;
    }
  }
  return false;
}

}  // namespace

std::string YamlScalar(std::string_view value) {
  if (!NeedsQuotes(value)) return std::string(value);
  std::string out = "\"";
  for (char c : value) {
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\t':
        out += "\\t";
        break;
      case '\r':
        out += "\\r";
        break;
      default:
        if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) {
          constexpr char kHex[] = "0123456789abcdef";
          out += "\\x";
          out += kHex[(c >> 4) & 0xF];
          out += kHex[c & 0xF];
        } else {
          out += c;
        }
    }
  }
  return out + "\"";
}

}  // namespace optimus::spec
