// Value: truth, Go type names and fmt's %v rendering.
#include "optimus/template/value.h"

#include <charconv>
#include <cmath>
#include <cstdio>

#include "optimus/template/go_time.h"

namespace optimus::tmpl {

const Value* Value::Find(std::string_view key) const {
  if (!is_map()) return nullptr;
  const Map& m = as_map();
  auto it = m.find(key);
  return it == m.end() ? nullptr : &it->second;
}

bool Value::Truthy() const {
  switch (kind()) {
    case Kind::kNull:
      return false;
    case Kind::kBool:
      return as_bool();
    case Kind::kInt:
      return as_int() != 0;
    case Kind::kDouble:
      return as_double() != 0;
    case Kind::kString:
      return !as_string().empty();
    case Kind::kTime:
      return true;  // Go: a struct is always true.
    case Kind::kList:
      return !as_list().empty();
    case Kind::kMap:
      return !as_map().empty();
  }
  return false;
}

std::string Value::TypeName() const {
  switch (kind()) {
    case Kind::kNull:
      return "<nil>";
    case Kind::kBool:
      return "bool";
    case Kind::kInt:
      return "int";
    case Kind::kDouble:
      return "float64";
    case Kind::kString:
      return "string";
    case Kind::kTime:
      return "time.Time";
    case Kind::kList:
      return "[]interface {}";
    case Kind::kMap:
      return "map[string]interface {}";
  }
  return "?";
}

std::string FormatGoFloat(double d) {
  if (std::isnan(d)) return "NaN";
  if (std::isinf(d)) return d > 0 ? "+Inf" : "-Inf";
  if (d == 0) return std::signbit(d) ? "-0" : "0";
  // Shortest round-trip digits in scientific form, e.g. "-1.2345e+06".
  char buf[64];
  auto res = std::to_chars(buf, buf + sizeof buf, d, std::chars_format::scientific);
  std::string sci(buf, res.ptr);
  bool neg = sci[0] == '-';
  if (neg) sci.erase(0, 1);
  size_t e = sci.find('e');
  std::string digits;
  for (size_t i = 0; i < e; ++i)
    if (sci[i] != '.') digits.push_back(sci[i]);
  int exp = std::stoi(sci.substr(e + 1));
  std::string out = neg ? "-" : "";
  if (exp < -4 || exp >= 6) {  // Go's shortest %g uses precision 6 for this decision.
    out += digits[0];
    if (digits.size() > 1) out += "." + digits.substr(1);
    char eb[16];
    std::snprintf(eb, sizeof eb, "e%c%02d", exp < 0 ? '-' : '+', std::abs(exp));
    return out + eb;
  }
  if (exp < 0) return out + "0." + std::string(-exp - 1, '0') + digits;
  if (static_cast<int>(digits.size()) <= exp + 1)
    return out + digits + std::string(exp + 1 - digits.size(), '0');
  return out + digits.substr(0, exp + 1) + "." + digits.substr(exp + 1);
}

std::string FormatValue(const Value& v) {
  switch (v.kind()) {
    case Value::Kind::kNull:
      return "<nil>";
    case Value::Kind::kBool:
      return v.as_bool() ? "true" : "false";
    case Value::Kind::kInt:
      return std::to_string(v.as_int());
    case Value::Kind::kDouble:
      return FormatGoFloat(v.as_double());
    case Value::Kind::kString:
      return v.as_string();
    case Value::Kind::kTime:
      return GoTimeString(v.as_time());
    case Value::Kind::kList: {
      std::string out = "[";
      bool first = true;
      for (const Value& e : v.as_list()) {
        if (!first) out += ' ';
        first = false;
        out += FormatValue(e);
      }
      return out + "]";
    }
    case Value::Kind::kMap: {
      std::string out = "map[";
      bool first = true;
      for (const auto& [k, e] : v.as_map()) {
        if (!first) out += ' ';
        first = false;
        out += k + ":" + FormatValue(e);
      }
      return out + "]";
    }
  }
  return "";
}

}  // namespace optimus::tmpl
