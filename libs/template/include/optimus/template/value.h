// The dynamic value a template sees as data, function argument and result (Go's interface{}).
#pragma once

#include <cstdint>
#include <initializer_list>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include "absl/time/time.h"

namespace optimus::tmpl {

// An instant with the zone it is shown in, like Go's time.Time.
struct GoTime {
  absl::Time instant;
  absl::TimeZone zone;
};

class Value;
using List = std::vector<Value>;
// Ordered by key, which is also the order Go's range visits a map in.
using Map = std::map<std::string, Value, std::less<>>;

// Null doubles as Go's nil and as "no value" (a missing map key): both print as <no value>
// when an action outputs them and as <nil> inside print/printf, as Go does for
// map[string]interface{} data. Lists and maps share their storage, so copies are cheap.
class Value {
 public:
  enum class Kind { kNull, kBool, kInt, kDouble, kString, kTime, kList, kMap };

  Value() = default;
  Value(std::nullptr_t) {}
  Value(bool b) : v_(b) {}
  Value(int i) : v_(static_cast<int64_t>(i)) {}
  Value(int64_t i) : v_(i) {}
  Value(double d) : v_(d) {}
  Value(const char* s) : v_(std::string(s)) {}
  Value(std::string s) : v_(std::move(s)) {}
  Value(std::string_view s) : v_(std::string(s)) {}
  Value(GoTime t) : v_(std::move(t)) {}
  Value(List l) : v_(std::make_shared<const List>(std::move(l))) {}
  Value(Map m) : v_(std::make_shared<const Map>(std::move(m))) {}

  static Value MakeList(std::initializer_list<Value> items) { return Value(List(items)); }
  static Value MakeMap(std::initializer_list<std::pair<const std::string, Value>> items) {
    return Value(Map(items));
  }

  Kind kind() const { return static_cast<Kind>(v_.index()); }
  bool is_null() const { return kind() == Kind::kNull; }
  bool is_bool() const { return kind() == Kind::kBool; }
  bool is_int() const { return kind() == Kind::kInt; }
  bool is_double() const { return kind() == Kind::kDouble; }
  bool is_string() const { return kind() == Kind::kString; }
  bool is_time() const { return kind() == Kind::kTime; }
  bool is_list() const { return kind() == Kind::kList; }
  bool is_map() const { return kind() == Kind::kMap; }

  // Accessors require the matching kind (checked by std::get).
  bool as_bool() const { return std::get<bool>(v_); }
  int64_t as_int() const { return std::get<int64_t>(v_); }
  double as_double() const { return std::get<double>(v_); }
  const std::string& as_string() const { return std::get<std::string>(v_); }
  const GoTime& as_time() const { return std::get<GoTime>(v_); }
  const List& as_list() const { return *std::get<std::shared_ptr<const List>>(v_); }
  const Map& as_map() const { return *std::get<std::shared_ptr<const Map>>(v_); }

  // The element for key in a map, or nullptr when absent (or when this is not a map).
  const Value* Find(std::string_view key) const;

  // Go's notion of truth for if/with/and/or/not: false, 0, "", empty list/map, nil are false.
  bool Truthy() const;

  // Go's type name for messages ("string", "int", "float64", "[]interface {}", ...).
  std::string TypeName() const;

 private:
  std::variant<std::monostate, bool, int64_t, double, std::string, GoTime,
               std::shared_ptr<const List>, std::shared_ptr<const Map>>
      v_;
};

// fmt.Sprint of one value ("%v"): lists as [a b], maps as map[k:v], nil as <nil>, times as
// Go's Time.String(), floats in Go's shortest %g form.
std::string FormatValue(const Value& v);

// Go's %v of a float64: shortest digits, exponent form when the exponent is < -4 or >= 6.
std::string FormatGoFloat(double d);

}  // namespace optimus::tmpl
