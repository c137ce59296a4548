// Typed reads of YAML nodes that record each field's location and report type problems.
#pragma once

#include <initializer_list>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "optimus/spec/diagnostics.h"
#include "optimus/spec/model.h"
#include "yaml_node.h"

namespace optimus::spec::internal {

std::string JoinPath(const std::string& prefix, const std::string& key);
std::string IndexPath(const std::string& prefix, size_t index);
// "a map", "a list", "a string", "nothing"
std::string KindName(const YamlNode& node);

class YamlReader {
 public:
  YamlReader(std::string file, Diagnostics& diagnostics,
             std::map<std::string, Location>* locations = nullptr)
      : file_(std::move(file)), diagnostics_(diagnostics), locations_(locations) {}

  const std::string& file() const { return file_; }
  Diagnostics& diagnostics() { return diagnostics_; }

  // The document's root map; nullopt (with a diagnostic) for malformed YAML or another kind.
  // An empty document gives an empty map.
  std::optional<YamlNode> ParseMap(const std::string& content);

  Location At(const YamlNode& node) const;
  Location FileLocation() const { return Location{file_, 0, 0}; }
  void Error(const YamlNode& at, const std::string& path, std::string message);
  void Warning(const YamlNode& at, const std::string& path, std::string message);

  // The value of `key` in `map` when present and not null; records its location.
  const YamlNode* Get(const YamlNode& map, const char* key, const std::string& path);
  // Like Get, and also checks the kind; reports and returns nullopt on a mismatch.
  const YamlNode* GetMap(const YamlNode& map, const char* key, const std::string& path);
  const YamlNode* GetList(const YamlNode& map, const char* key, const std::string& path);

  bool ExpectMap(const YamlNode& node, const std::string& path);
  bool ExpectList(const YamlNode& node, const std::string& path);

  // Scalar conversions of a node already found; false (with a diagnostic) on a mismatch.
  bool ToString(const YamlNode& node, const std::string& path, std::string& out);
  bool ToInt(const YamlNode& node, const std::string& path, int& out);
  bool ToBool(const YamlNode& node, const std::string& path, bool& out);

  // Reads `key` of `map` into `out` when present; leaves `out` alone otherwise.
  void String(const YamlNode& map, const char* key, const std::string& prefix, std::string& out);
  void Int(const YamlNode& map, const char* key, const std::string& prefix, int& out);
  void OptInt(const YamlNode& map, const char* key, const std::string& prefix,
              std::optional<int>& out);
  void Bool(const YamlNode& map, const char* key, const std::string& prefix, bool& out);
  void OptBool(const YamlNode& map, const char* key, const std::string& prefix,
               std::optional<bool>& out);
  void Strings(const YamlNode& map, const char* key, const std::string& prefix,
               std::vector<std::string>& out);
  // A map of scalars; nested maps or lists are reported.
  void Map(const YamlNode& map, const char* key, const std::string& prefix, StringMap& out);
  void MapNode(const YamlNode& node, const std::string& path, StringMap& out);

  // Warns about keys of `map` not in `known` (most often a typo that would silently be ignored).
  void CheckKeys(const YamlNode& map, const std::string& path,
                 std::initializer_list<const char*> known);

  void Record(const std::string& path, const YamlNode& node);

 private:
  std::string file_;
  Diagnostics& diagnostics_;
  std::map<std::string, Location>* locations_;
};

// A YAML node as JSON, with plain scalars typed by the YAML core schema (int, float, bool, null).
nlohmann::json ToJson(const YamlNode& node);

}  // namespace optimus::spec::internal
