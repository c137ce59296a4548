// Small value checks shared by the loaders and validators.
#include "checks.h"

#include <cctype>
#include <regex>
#include <string>

#include "optimus/spec/validate.h"

namespace optimus::spec {
namespace internal {

bool IsDate(std::string_view text) {
  static const std::regex kDate("([0-9]{4})-([0-9]{2})-([0-9]{2})");
  std::match_results<std::string_view::const_iterator> m;
  if (!std::regex_match(text.begin(), text.end(), m, kDate)) return false;
  const int year = std::stoi(m[1].str());
  const int month = std::stoi(m[2].str());
  const int day = std::stoi(m[3].str());
  if (month < 1 || month > 12 || day < 1) return false;
  static const int kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  const bool leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
  const int max_day = month == 2 && leap ? 29 : kDays[month - 1];
  return day <= max_day;
}

bool IsQuantity(std::string_view text) {
  static const std::regex kQuantity(
      "([0-9]+(\\.[0-9]*)?|\\.[0-9]+)([eE][-+]?[0-9]+|m|k|M|G|T|P|E|Ki|Mi|Gi|Ti|Pi|Ei)?");
  return std::regex_match(text.begin(), text.end(), kQuantity);
}

bool IsHttpUrl(std::string_view text) {
  const bool http = text.rfind("http://", 0) == 0 && text.size() > 7;
  const bool https = text.rfind("https://", 0) == 0 && text.size() > 8;
  return http || https;
}

std::string Lower(std::string_view text) {
  std::string out(text);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

std::string Upper(std::string_view text) {
  std::string out(text);
  for (char& c : out) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return out;
}

std::string Quote(std::string_view text) {
  std::string out = "\"";
  for (char c : text) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  return out + "\"";
}

}  // namespace internal

bool IsGoDuration(std::string_view text) {
  // Go's time.ParseDuration: [-+]? then one or more <number><unit>, or a bare "0".
  static const std::regex kDuration(
      "[-+]?(0|(([0-9]+(\\.[0-9]*)?|\\.[0-9]+)(ns|us|\xC2\xB5s|\xCE\xBCs|ms|s|m|h))+)");
  return !text.empty() && std::regex_match(text.begin(), text.end(), kDuration);
}

std::string CheckLabel(const std::string& key, const std::string& value) {
  auto check = [](const std::string& what, const std::string& text) -> std::string {
    if (text.empty()) return what + " is empty";
    if (text.size() > 63) {
      return what + " " + internal::Quote(text) + " is " + std::to_string(text.size()) +
             " characters long (at most 63)";
    }
    auto alnum = [](char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); };
    for (char c : text) {
      if (!alnum(c) && c != '-' && c != '_') {
        return what + " " + internal::Quote(text) +
               " may only hold lower-case letters, digits, '-' and '_'";
      }
    }
    if (!alnum(text.front()) || !alnum(text.back())) {
      return what + " " + internal::Quote(text) +
             " must start and end with a lower-case letter or a digit";
    }
    return "";
  };
  if (std::string problem = check("label key", key); !problem.empty()) return problem;
  return check("label value", value);
}

}  // namespace optimus::spec
