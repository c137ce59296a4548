// Declared configuration: every component lists its keys (type, default, bounds, help), and
// values come from a YAML file and OPTIMUS_* environment variables, validated at start.
//
// A key `bus.kafka.brokers` is `bus: {kafka: {brokers: …}}` in YAML and
// OPTIMUS_BUS_KAFKA_BROKERS in the environment; the environment wins over the file.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace optimus::config {

// kYaml: a structured value (a list or map), kept as YAML text: in the file it is written in
// place; in the environment and --set it is YAML or JSON text (flow style).
enum class Type { kString, kInt, kBool, kDuration, kStringList, kYaml };

struct Key {
  std::string name;  // Dotted path, lower_snake segments.
  Type type = Type::kString;
  std::string default_value;  // As it would be written in YAML; "" means no default.
  std::string description;
  bool required = false;
  std::optional<int64_t> min;  // For kInt and kDuration (milliseconds).
  std::optional<int64_t> max;
  std::vector<std::string> one_of;  // Allowed values for kString, when not empty.
  bool secret = false;              // Never printed in full (tokens, passwords).
};

// The keys a program accepts, gathered from its components.
class Schema {
 public:
  Schema& Add(Key key);
  Schema& Merge(const Schema& other);
  const std::vector<Key>& keys() const { return keys_; }
  const Key* Find(const std::string& name) const;

  // A reference table of every key, for --help-config and docs.
  std::string Describe() const;

 private:
  std::vector<Key> keys_;
};

// Validated values. Accessors take names that the schema declares; asking for an undeclared
// key or the wrong type is a programming error and aborts.
class Config {
 public:
  std::string String(const std::string& name) const;
  int64_t Int(const std::string& name) const;
  bool Bool(const std::string& name) const;
  int64_t DurationMs(const std::string& name) const;
  std::vector<std::string> StringList(const std::string& name) const;
  std::string Yaml(const std::string& name) const;  // "" when unset
  bool Has(const std::string& name) const;          // Set explicitly or by default.

  // Where a key's value came from: "default", "<file>:<line>" or "$OPTIMUS_…".
  std::string Origin(const std::string& name) const;

  // Every effective value, secrets masked, for the start-up log line.
  std::map<std::string, std::string> Redacted() const;

 private:
  friend absl::StatusOr<Config> Load(const Schema&, const std::string&,
                                     const std::map<std::string, std::string>&,
                                     const std::map<std::string, std::string>&);
  struct Entry {
    bool secret = false;
    std::string value;  // Normalised text; lists joined with ','.
    std::string origin;
  };
  const Entry& Get(const std::string& name, Type type) const;

  Schema schema_;
  std::map<std::string, Entry> values_;
};

// Loads and validates. `yaml_path` may be empty (no file). `env` is the process environment
// (only OPTIMUS_* entries are read); `overrides` are command-line `--set key=value` values,
// which win over both. Every problem found is reported in one error, one per line, each naming
// the key and where its value came from.
absl::StatusOr<Config> Load(const Schema& schema, const std::string& yaml_path,
                            const std::map<std::string, std::string>& env,
                            const std::map<std::string, std::string>& overrides = {});

// The process environment as a map.
std::map<std::string, std::string> ProcessEnvironment();

// OPTIMUS_BUS_KAFKA_BROKERS for bus.kafka.brokers.
std::string EnvName(const std::string& key);

}  // namespace optimus::config
