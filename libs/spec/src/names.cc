// The rules for names (see names.h).
#include "optimus/spec/names.h"

#include <cstdio>

namespace optimus::spec {
namespace {

const char* KindName(NameKind kind) {
  switch (kind) {
    case NameKind::kProject:
      return "project";
    case NameKind::kNamespace:
      return "namespace";
    case NameKind::kJob:
      return "job";
  }
  return "name";
}

// How a character is shown in a message: itself when printable, else its code.
std::string Show(char c) {
  const auto u = static_cast<unsigned char>(c);
  if (u >= 0x21 && u < 0x7f) return std::string("'") + c + "'";
  char code[8];
  std::snprintf(code, sizeof(code), "0x%02X", u);
  return code;
}

// The name quoted for a message, control characters escaped and long ones cut.
std::string Quote(std::string_view name) {
  std::string out = "\"";
  for (size_t i = 0; i < name.size() && i < 80; ++i) {
    const auto u = static_cast<unsigned char>(name[i]);
    if (u < 0x20 || u == 0x7f) {
      out += "\\x" + Show(name[i]).substr(2);
    } else {
      out += name[i];
    }
  }
  return out + (name.size() > 80 ? "…\"" : "\"");
}

bool Allowed(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
         c == '-' || c == '.';
}

}  // namespace

std::optional<std::string> NameProblem(NameKind kind, std::string_view name) {
  const std::string what = std::string("invalid ") + KindName(kind) + " name " + Quote(name);
  const size_t limit = kind == NameKind::kJob ? 125 : 200;
  if (name.empty()) return std::string("a ") + KindName(kind) + " name is required";
  if (name.size() > limit) {
    return what + ": " + std::to_string(name.size()) + " characters long (at most " +
           std::to_string(limit) + ")";
  }
  for (char c : name) {
    if (!Allowed(c)) {
      return what + ": " + Show(c) + " is not allowed (use letters, digits, '_', '-' and '.')";
    }
  }
  if (name[0] == '.' || name[0] == '-') {
    return what + ": it must begin with a letter, a digit or '_'";
  }
  if (name.find("..") != std::string_view::npos) return what + ": \"..\" is not allowed";
  return std::nullopt;
}

std::optional<std::string> AssetNameProblem(std::string_view name) {
  const std::string what = "invalid asset name " + Quote(name);
  if (name.empty()) return std::string("an asset needs a name");
  if (name.size() > 1024) {
    return what + ": " + std::to_string(name.size()) + " characters long (at most 1024)";
  }
  if (name.front() == '/') return what + ": it must be relative to the assets folder";
  size_t start = 0;
  while (start <= name.size()) {
    const size_t slash = name.find('/', start);
    const std::string_view segment = name.substr(
        start, slash == std::string_view::npos ? std::string_view::npos : slash - start);
    if (segment.empty()) return what + ": an empty path segment";
    if (segment == "." || segment == "..")
      return what + ": \"" + std::string(segment) + "\" is not allowed";
    if (segment.size() > 255) return what + ": a path segment over 255 characters";
    for (char c : segment) {
      const auto u = static_cast<unsigned char>(c);
      if (u < 0x20 || u == 0x7f || c == '\\') return what + ": " + Show(c) + " is not allowed";
    }
    if (slash == std::string_view::npos) break;
    start = slash + 1;
  }
  return std::nullopt;
}

}  // namespace optimus::spec
