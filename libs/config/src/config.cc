// Config loading: YAML file + environment + overrides, checked against the declared schema.
#include "optimus/config/config.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cstdlib>
#include <iostream>
#include <sstream>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"

extern char** environ;

namespace optimus::config {
namespace {

const char* TypeName(Type type) {
  switch (type) {
    case Type::kString:
      return "string";
    case Type::kInt:
      return "integer";
    case Type::kBool:
      return "boolean";
    case Type::kDuration:
      return "duration";
    case Type::kStringList:
      return "list of strings";
    case Type::kYaml:
      return "YAML value";
  }
  return "?";
}

size_t EditDistance(const std::string& a, const std::string& b) {
  std::vector<size_t> row(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    size_t diagonal = row[0];
    row[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      const size_t above = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diagonal = above;
    }
  }
  return row[b.size()];
}

std::string Suggestion(const Schema& schema, const std::string& name) {
  const Key* best = nullptr;
  size_t best_distance = 4;
  for (const Key& key : schema.keys()) {
    const size_t d = EditDistance(key.name, name);
    if (d < best_distance) {
      best_distance = d;
      best = &key;
    }
  }
  return best == nullptr ? "" : absl::StrCat(" (did you mean '", best->name, "'?)");
}

bool IsPrefixOfAKey(const Schema& schema, const std::string& prefix) {
  for (const Key& key : schema.keys()) {
    if (key.name.size() > prefix.size() && key.name.compare(0, prefix.size(), prefix) == 0 &&
        key.name[prefix.size()] == '.') {
      return true;
    }
  }
  return false;
}

// Milliseconds from "250ms", "5s", "2m", "1h" or a bare number of milliseconds.
std::optional<int64_t> ParseDurationMs(const std::string& text) {
  static const std::pair<const char*, int64_t> kUnits[] = {
      {"ms", 1}, {"s", 1000}, {"m", 60000}, {"h", 3600000}};
  int64_t n = 0;
  if (absl::SimpleAtoi(text, &n)) return n;
  for (const auto& [suffix, factor] : kUnits) {
    absl::string_view body(text);
    if (absl::ConsumeSuffix(&body, suffix) && absl::SimpleAtoi(body, &n)) return n * factor;
  }
  return std::nullopt;
}

std::optional<bool> ParseBool(const std::string& text) {
  const std::string lower = absl::AsciiStrToLower(text);
  if (lower == "true" || lower == "yes" || lower == "on" || lower == "1") return true;
  if (lower == "false" || lower == "no" || lower == "off" || lower == "0") return false;
  return std::nullopt;
}

// Checks one raw value against its key; returns the normalised value or an error line.
absl::StatusOr<std::string> Validate(const Key& key, const std::string& raw,
                                     const std::string& origin) {
  auto fail = [&](const std::string& why) {
    return absl::InvalidArgumentError(
        absl::StrCat("config key '", key.name, "' ", why, " (from ", origin, ")"));
  };
  switch (key.type) {
    case Type::kString:
    case Type::kStringList:
      if (!key.one_of.empty() &&
          std::find(key.one_of.begin(), key.one_of.end(), raw) == key.one_of.end()) {
        return fail(
            absl::StrCat("must be one of ", absl::StrJoin(key.one_of, ", "), ", got '", raw, "'"));
      }
      return raw;
    case Type::kYaml:
      try {
        YAML::Load(raw);
      } catch (const YAML::Exception& e) {
        return fail(absl::StrCat("must be YAML or JSON text: ", e.what()));
      }
      return raw;
    case Type::kBool: {
      auto b = ParseBool(raw);
      if (!b) return fail(absl::StrCat("must be true or false, got '", raw, "'"));
      return std::string(*b ? "true" : "false");
    }
    case Type::kInt:
    case Type::kDuration: {
      std::optional<int64_t> n;
      if (key.type == Type::kInt) {
        int64_t parsed = 0;
        if (absl::SimpleAtoi(raw, &parsed)) n = parsed;
      } else {
        n = ParseDurationMs(raw);
      }
      if (!n) {
        return fail(absl::StrCat(
            "must be ", key.type == Type::kInt ? "an integer" : "a duration like 500ms, 5s or 2m",
            ", got '", raw, "'"));
      }
      if (key.min && *n < *key.min)
        return fail(absl::StrCat("must be at least ", *key.min, ", got ", *n));
      if (key.max && *n > *key.max)
        return fail(absl::StrCat("must be at most ", *key.max, ", got ", *n));
      return std::to_string(*n);
    }
  }
  return raw;
}

struct RawValue {
  std::string value;
  std::string origin;
};

// One line of YAML for a structured value (logs and environment variables read it back).
void SetFlowStyle(YAML::Node node) {
  if (!node.IsMap() && !node.IsSequence()) return;
  node.SetStyle(YAML::EmitterStyle::Flow);
  for (auto item : node) {
    if (node.IsMap()) {
      SetFlowStyle(item.second);
    } else {
      SetFlowStyle(item);
    }
  }
}

// Flattens a YAML document into dotted keys, reporting unknown keys and shapes.
void Flatten(const Schema& schema, const YAML::Node& node, const std::string& prefix,
             const std::string& file, std::map<std::string, RawValue>& out,
             std::vector<std::string>& errors) {
  for (const auto& item : node) {
    const std::string segment = item.first.as<std::string>();
    const std::string name = prefix.empty() ? segment : absl::StrCat(prefix, ".", segment);
    const YAML::Node& value = item.second;
    const std::string origin = absl::StrCat(file, ":", item.first.Mark().line + 1);
    const Key* key = schema.Find(name);
    if (key == nullptr) {
      if (value.IsMap() && IsPrefixOfAKey(schema, name)) {
        Flatten(schema, value, name, file, out, errors);
      } else {
        errors.push_back(
            absl::StrCat("unknown config key '", name, "' at ", origin, Suggestion(schema, name)));
      }
      continue;
    }
    if (value.IsNull()) continue;
    if (key->type == Type::kYaml) {
      YAML::Node flow = YAML::Clone(value);
      SetFlowStyle(flow);
      YAML::Emitter text;
      text << flow;
      out[name] = {text.c_str(), origin};
      continue;
    }
    if (key->type == Type::kStringList) {
      if (value.IsSequence()) {
        std::vector<std::string> items;
        for (const auto& element : value) {
          if (!element.IsScalar()) {
            errors.push_back(absl::StrCat("config key '", name,
                                          "' must be a list of strings (from ", origin, ")"));
            break;
          }
          items.push_back(element.as<std::string>());
        }
        out[name] = {absl::StrJoin(items, ","), origin};
        continue;
      }
    }
    if (!value.IsScalar()) {
      errors.push_back(absl::StrCat(
          "config key '", name, "' must be ", key->type == Type::kInt ? "an " : "a ",
          TypeName(key->type), ", got a ", value.IsMap() ? "map" : "list", " (from ", origin, ")"));
      continue;
    }
    out[name] = {value.as<std::string>(), origin};
  }
}

}  // namespace

Schema& Schema::Add(Key key) {
  for (Key& existing : keys_) {
    if (existing.name == key.name) {
      existing = std::move(key);  // A component may tighten a shared key's default.
      return *this;
    }
  }
  keys_.push_back(std::move(key));
  return *this;
}

Schema& Schema::Merge(const Schema& other) {
  for (const Key& key : other.keys_) Add(key);
  return *this;
}

const Key* Schema::Find(const std::string& name) const {
  for (const Key& key : keys_) {
    if (key.name == name) return &key;
  }
  return nullptr;
}

std::string Schema::Describe() const {
  std::vector<const Key*> sorted;
  for (const Key& key : keys_) sorted.push_back(&key);
  std::sort(sorted.begin(), sorted.end(), [](auto* a, auto* b) { return a->name < b->name; });
  std::ostringstream out;
  for (const Key* key : sorted) {
    out << key->name << " (" << TypeName(key->type);
    if (!key->default_value.empty()) out << ", default " << key->default_value;
    if (key->required) out << ", required";
    out << ")\n    " << key->description << "\n    env: " << EnvName(key->name) << "\n";
  }
  return out.str();
}

std::string EnvName(const std::string& key) {
  std::string out = "OPTIMUS_";
  for (char c : key)
    out.push_back(c == '.' ? '_' : absl::ascii_toupper(static_cast<unsigned char>(c)));
  return out;
}

std::map<std::string, std::string> ProcessEnvironment() {
  std::map<std::string, std::string> env;
  for (char** e = environ; e != nullptr && *e != nullptr; ++e) {
    const std::string entry(*e);
    const size_t eq = entry.find('=');
    if (eq != std::string::npos) env[entry.substr(0, eq)] = entry.substr(eq + 1);
  }
  return env;
}

absl::StatusOr<Config> Load(const Schema& schema, const std::string& yaml_path,
                            const std::map<std::string, std::string>& env,
                            const std::map<std::string, std::string>& overrides) {
  std::vector<std::string> errors;
  std::map<std::string, RawValue> raw;
  if (!yaml_path.empty()) {
    try {
      YAML::Node root = YAML::LoadFile(yaml_path);
      if (root.IsMap()) {
        Flatten(schema, root, "", yaml_path, raw, errors);
      } else if (!root.IsNull()) {
        errors.push_back(absl::StrCat(yaml_path, ": the config file must be a YAML map"));
      }
    } catch (const YAML::BadFile&) {
      return absl::NotFoundError(absl::StrCat("cannot read config file ", yaml_path));
    } catch (const YAML::ParserException& e) {
      return absl::InvalidArgumentError(
          absl::StrCat(yaml_path, ":", e.mark.line + 1, ":", e.mark.column + 1, ": ", e.msg));
    }
  }
  for (const Key& key : schema.keys()) {
    const std::string env_name = EnvName(key.name);
    if (auto it = env.find(env_name); it != env.end()) raw[key.name] = {it->second, "$" + env_name};
  }
  for (const auto& [name, value] : overrides) {
    if (schema.Find(name) == nullptr) {
      errors.push_back(
          absl::StrCat("unknown config key '", name, "' in --set", Suggestion(schema, name)));
      continue;
    }
    raw[name] = {value, "--set"};
  }

  Config config;
  config.schema_ = schema;
  for (const Key& key : config.schema_.keys()) {
    Config::Entry entry;
    entry.secret = key.secret;
    if (auto it = raw.find(key.name); it != raw.end()) {
      auto valid = Validate(key, it->second.value, it->second.origin);
      if (!valid.ok()) {
        errors.emplace_back(valid.status().message());
        continue;
      }
      entry.value = *valid;
      entry.origin = it->second.origin;
    } else if (!key.default_value.empty()) {
      auto valid = Validate(key, key.default_value, "default");
      if (!valid.ok()) {
        errors.emplace_back(valid.status().message());
        continue;
      }
      entry.value = *valid;
      entry.origin = "default";
    } else if (key.required) {
      errors.push_back(absl::StrCat("config key '", key.name,
                                    "' is required: set it in the config file or ",
                                    EnvName(key.name)));
      continue;
    } else {
      continue;
    }
    config.values_[key.name] = std::move(entry);
  }
  if (!errors.empty()) return absl::InvalidArgumentError(absl::StrJoin(errors, "\n"));
  return config;
}

const Config::Entry& Config::Get(const std::string& name, Type type) const {
  const Key* key = schema_.Find(name);
  if (key == nullptr || key->type != type) {
    std::cerr << "optimus::config: '" << name << "' is not a declared " << TypeName(type) << "\n";
    std::abort();
  }
  static const Entry* empty = new Entry();
  auto it = values_.find(name);
  return it == values_.end() ? *empty : it->second;
}

std::string Config::String(const std::string& name) const { return Get(name, Type::kString).value; }

int64_t Config::Int(const std::string& name) const {
  int64_t n = 0;
  return absl::SimpleAtoi(Get(name, Type::kInt).value, &n) ? n : 0;
}

bool Config::Bool(const std::string& name) const { return Get(name, Type::kBool).value == "true"; }

int64_t Config::DurationMs(const std::string& name) const {
  int64_t n = 0;
  return absl::SimpleAtoi(Get(name, Type::kDuration).value, &n) ? n : 0;
}

std::string Config::Yaml(const std::string& name) const { return Get(name, Type::kYaml).value; }

std::vector<std::string> Config::StringList(const std::string& name) const {
  const std::string& value = Get(name, Type::kStringList).value;
  if (value.empty()) return {};
  std::vector<std::string> items;
  for (absl::string_view item : absl::StrSplit(value, ',')) {
    item = absl::StripAsciiWhitespace(item);
    if (!item.empty()) items.emplace_back(item);
  }
  return items;
}

bool Config::Has(const std::string& name) const { return values_.count(name) > 0; }

std::string Config::Origin(const std::string& name) const {
  auto it = values_.find(name);
  return it == values_.end() ? "unset" : it->second.origin;
}

std::map<std::string, std::string> Config::Redacted() const {
  std::map<std::string, std::string> out;
  for (const auto& [name, entry] : values_) {
    out[name] = entry.secret ? "***" : entry.value;
  }
  return out;
}

}  // namespace optimus::config
