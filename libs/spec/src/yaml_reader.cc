// Typed YAML reads with locations and type diagnostics, shared by every loader.
#include "yaml_reader.h"

#include <cstdlib>
#include <regex>
#include <set>

namespace optimus::spec::internal {

std::string JoinPath(const std::string& prefix, const std::string& key) {
  return prefix.empty() ? key : prefix + "." + key;
}

std::string IndexPath(const std::string& prefix, size_t index) {
  return prefix + "[" + std::to_string(index) + "]";
}

std::string KindName(const YamlNode& node) {
  switch (node.kind()) {
    case YamlNode::Kind::kMap:
      return "a map";
    case YamlNode::Kind::kSequence:
      return "a list";
    case YamlNode::Kind::kScalar:
      return "a scalar \"" + node.Scalar() + "\"";
    default:
      return "nothing";
  }
}

std::optional<YamlNode> YamlReader::ParseMap(const std::string& content) {
  auto parsed = ParseYaml(content);
  if (auto* error = std::get_if<YamlError>(&parsed)) {
    diagnostics_.Error(Location{file_, error->line, error->column}, "",
                       "malformed YAML: " + error->message);
    return std::nullopt;
  }
  YamlNode root = std::move(std::get<YamlNode>(parsed));
  if (root.IsNull()) {
    Record("", root);
    return YamlNode::Map(root.line(), root.column());
  }
  if (!root.IsMap()) {
    Error(root, "", "the document must be a map of fields, got " + KindName(root));
    return std::nullopt;
  }
  Record("", root);
  return root;
}

Location YamlReader::At(const YamlNode& node) const {
  if (node.line() == 0) return Location{file_, 0, 0};
  return Location{file_, node.line(), node.column()};
}

void YamlReader::Error(const YamlNode& at, const std::string& path, std::string message) {
  diagnostics_.Error(At(at), path, std::move(message));
}

void YamlReader::Warning(const YamlNode& at, const std::string& path, std::string message) {
  diagnostics_.Warning(At(at), path, std::move(message));
}

void YamlReader::Record(const std::string& path, const YamlNode& node) {
  if (locations_ != nullptr) (*locations_)[path] = At(node);
}

const YamlNode* YamlReader::Get(const YamlNode& map, const char* key, const std::string& path) {
  if (!map.IsMap()) return nullptr;
  const YamlNode& value = map[key];
  if (!value.IsDefined() || value.IsNull()) return nullptr;
  Record(path, value);
  return &value;
}

bool YamlReader::ExpectMap(const YamlNode& node, const std::string& path) {
  if (node.IsMap()) return true;
  Error(node, path, "want a map, got " + KindName(node));
  return false;
}

bool YamlReader::ExpectList(const YamlNode& node, const std::string& path) {
  if (node.IsSequence()) return true;
  Error(node, path, "want a list, got " + KindName(node));
  return false;
}

const YamlNode* YamlReader::GetMap(const YamlNode& map, const char* key, const std::string& path) {
  auto value = Get(map, key, path);
  if (!value || !ExpectMap(*value, path)) return nullptr;
  return value;
}

const YamlNode* YamlReader::GetList(const YamlNode& map, const char* key, const std::string& path) {
  auto value = Get(map, key, path);
  if (!value || !ExpectList(*value, path)) return nullptr;
  return value;
}

bool YamlReader::ToString(const YamlNode& node, const std::string& path, std::string& out) {
  if (!node.IsScalar()) {
    Error(node, path, "want a string, got " + KindName(node));
    return false;
  }
  out = node.Scalar();
  return true;
}

bool YamlReader::ToInt(const YamlNode& node, const std::string& path, int& out) {
  static const std::regex kInt("[-+]?[0-9]{1,9}");
  if (!node.IsScalar() || !std::regex_match(node.Scalar(), kInt)) {
    Error(node, path, "want an integer, got " + KindName(node));
    return false;
  }
  out = std::atoi(node.Scalar().c_str());
  return true;
}

bool YamlReader::ToBool(const YamlNode& node, const std::string& path, bool& out) {
  if (node.IsScalar()) {
    const std::string& s = node.Scalar();
    if (s == "true" || s == "True" || s == "TRUE" || s == "yes" || s == "on") {
      out = true;
      return true;
    }
    if (s == "false" || s == "False" || s == "FALSE" || s == "no" || s == "off") {
      out = false;
      return true;
    }
  }
  Error(node, path, "want true or false, got " + KindName(node));
  return false;
}

void YamlReader::String(const YamlNode& map, const char* key, const std::string& prefix,
                        std::string& out) {
  const std::string path = JoinPath(prefix, key);
  if (auto v = Get(map, key, path)) ToString(*v, path, out);
}

void YamlReader::Int(const YamlNode& map, const char* key, const std::string& prefix, int& out) {
  const std::string path = JoinPath(prefix, key);
  if (auto v = Get(map, key, path)) ToInt(*v, path, out);
}

void YamlReader::OptInt(const YamlNode& map, const char* key, const std::string& prefix,
                        std::optional<int>& out) {
  const std::string path = JoinPath(prefix, key);
  int value = 0;
  if (auto v = Get(map, key, path); v && ToInt(*v, path, value)) out = value;
}

void YamlReader::Bool(const YamlNode& map, const char* key, const std::string& prefix, bool& out) {
  const std::string path = JoinPath(prefix, key);
  if (auto v = Get(map, key, path)) ToBool(*v, path, out);
}

void YamlReader::OptBool(const YamlNode& map, const char* key, const std::string& prefix,
                         std::optional<bool>& out) {
  const std::string path = JoinPath(prefix, key);
  bool value = false;
  if (auto v = Get(map, key, path); v && ToBool(*v, path, value)) out = value;
}

void YamlReader::Strings(const YamlNode& map, const char* key, const std::string& prefix,
                         std::vector<std::string>& out) {
  const std::string path = JoinPath(prefix, key);
  auto list = GetList(map, key, path);
  if (!list) return;
  for (size_t i = 0; i < list->size(); ++i) {
    const std::string item_path = IndexPath(path, i);
    Record(item_path, (*list)[i]);
    std::string value;
    if (ToString((*list)[i], item_path, value)) out.push_back(value);
  }
}

void YamlReader::Map(const YamlNode& map, const char* key, const std::string& prefix,
                     StringMap& out) {
  const std::string path = JoinPath(prefix, key);
  if (auto m = GetMap(map, key, path)) MapNode(*m, path, out);
}

void YamlReader::MapNode(const YamlNode& node, const std::string& path, StringMap& out) {
  for (const auto& kv : node.entries()) {
    std::string key;
    if (!ToString(kv.first, path, key)) continue;
    const std::string item_path = JoinPath(path, key);
    if (out.count(key) > 0) {
      Error(kv.first, item_path, "duplicate key (remove one of them)");
      continue;
    }
    Record(item_path, kv.first);
    std::string value;
    if (kv.second.IsNull()) {
      out[key] = "";
    } else if (ToString(kv.second, item_path, value)) {
      out[key] = value;
    }
  }
}

void YamlReader::CheckKeys(const YamlNode& map, const std::string& path,
                           std::initializer_list<const char*> known) {
  if (!map.IsMap()) return;
  std::set<std::string> seen;
  for (const auto& kv : map.entries()) {
    if (!kv.first.IsScalar()) continue;
    const std::string& key = kv.first.Scalar();
    if (!seen.insert(key).second) {
      // yaml-cpp keeps the first value without a word; Optimus (yaml.v3) rejects the file.
      Error(kv.first, JoinPath(path, key), "duplicate key (remove one of them)");
      continue;
    }
    bool found = false;
    for (const char* k : known) found = found || key == k;
    if (!found) {
      Warning(kv.first, JoinPath(path, key), "unknown field, ignored (check the spelling)");
    }
  }
}

nlohmann::json ToJson(const YamlNode& node) {
  switch (node.kind()) {
    case YamlNode::Kind::kMap: {
      nlohmann::json out = nlohmann::json::object();
      for (const auto& kv : node.entries()) {
        out[kv.first.IsScalar() ? kv.first.Scalar() : kv.first.Dump()] = ToJson(kv.second);
      }
      return out;
    }
    case YamlNode::Kind::kSequence: {
      nlohmann::json out = nlohmann::json::array();
      for (const auto& item : node.items()) out.push_back(ToJson(item));
      return out;
    }
    case YamlNode::Kind::kScalar: {
      const std::string& s = node.Scalar();
      if (node.quoted()) return s;  // quoted: always a string
      static const std::regex kInt("[-+]?[0-9]+");
      static const std::regex kFloat("[-+]?([0-9]+\\.[0-9]*|\\.[0-9]+)([eE][-+]?[0-9]+)?");
      if (s == "true" || s == "True" || s == "TRUE") return true;
      if (s == "false" || s == "False" || s == "FALSE") return false;
      if (s == "null" || s == "~" || s.empty()) return nullptr;
      if (std::regex_match(s, kInt) && s.size() < 19) return std::stoll(s);
      if (std::regex_match(s, kFloat)) return std::stod(s);
      return s;
    }
    default:
      return nullptr;
  }
}

}  // namespace optimus::spec::internal
