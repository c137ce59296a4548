// A parsed YAML document as a small immutable tree with 1-based line and column on every node.
// libyaml does the scanning (it is several times faster than yaml-cpp on spec-sized files and
// keeps its marks); this tree is all the loaders see.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

namespace optimus::spec::internal {

class YamlNode {
 public:
  enum class Kind { kUndefined, kNull, kScalar, kSequence, kMap };
  using Entry = std::pair<YamlNode, YamlNode>;

  YamlNode() = default;
  static YamlNode Scalar(std::string value, bool quoted, int line, int column);
  static YamlNode Sequence(int line, int column);
  static YamlNode Map(int line, int column);
  // The node a missing key or index gives: not defined, no place.
  static const YamlNode& Undefined();

  Kind kind() const { return kind_; }
  bool IsDefined() const { return kind_ != Kind::kUndefined; }
  // Plain "", "~", "null", "Null" and "NULL" (the YAML core schema's null).
  bool IsNull() const { return kind_ == Kind::kNull; }
  bool IsScalar() const { return kind_ == Kind::kScalar; }
  bool IsSequence() const { return kind_ == Kind::kSequence; }
  bool IsMap() const { return kind_ == Kind::kMap; }

  // The text of a scalar (or of a null, as written); "" for collections.
  const std::string& Scalar() const { return scalar_; }
  // True when the scalar was quoted, a block scalar or tagged !!str: always a string.
  bool quoted() const { return quoted_; }
  int line() const { return line_; }
  int column() const { return column_; }

  // Items of a sequence or entries of a map; 0 for anything else.
  size_t size() const;
  const std::vector<YamlNode>& items() const { return items_; }
  const std::vector<Entry>& entries() const { return entries_; }
  // Undefined() when out of range or not a sequence.
  const YamlNode& operator[](size_t index) const;
  // The value of the first entry whose key is the scalar `key`; Undefined() when none.
  const YamlNode& operator[](std::string_view key) const;
  const YamlNode& operator[](const char* key) const { return (*this)[std::string_view(key)]; }

  void Append(YamlNode item) { items_.push_back(std::move(item)); }
  void Append(YamlNode key, YamlNode value);
  // A count of this node and all below it (bounds alias expansion).
  size_t Weight() const;

  // A short YAML-like rendering, used to name a non-scalar map key in messages.
  std::string Dump() const;

 private:
  Kind kind_ = Kind::kUndefined;
  bool quoted_ = false;
  int line_ = 0;
  int column_ = 0;
  std::string scalar_;
  std::vector<YamlNode> items_;
  std::vector<Entry> entries_;
};

struct YamlError {
  std::string message;
  int line = 0;  // 1-based; 0 when unknown
  int column = 0;
};

// The first document of `content`. An empty document is a null node. Anchors and aliases are
// expanded (up to a bound that stops "billion laughs" documents) and `<<` merge keys applied.
std::variant<YamlNode, YamlError> ParseYaml(std::string_view content);

}  // namespace optimus::spec::internal
