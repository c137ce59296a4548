// Flag parsing for the client commands.
#include "flags.h"

#include "absl/strings/str_split.h"

namespace optimus::cli {

void Flags::String(const std::string& name, char short_name, std::string* out) {
  specs_[name] = Spec{Kind::kString, out};
  if (short_name != 0) short_names_[short_name] = name;
}

void Flags::List(const std::string& name, char short_name, std::vector<std::string>* out,
                 bool split_commas) {
  specs_[name] = Spec{Kind::kList, out, split_commas};
  if (short_name != 0) short_names_[short_name] = name;
}

void Flags::Bool(const std::string& name, char short_name, bool* out) {
  specs_[name] = Spec{Kind::kBool, out};
  if (short_name != 0) short_names_[short_name] = name;
}

bool Flags::Fail(const std::string& message) {
  error_ = command_ + ": " + message + " (see '" + command_ + " --help')";
  return false;
}

bool Flags::Assign(const std::string& name, const Spec& spec, const std::string& value) {
  const int times = ++set_[name];
  switch (spec.kind) {
    case Kind::kString:
      if (times > 1) return Fail("flag --" + name + " given twice");
      *static_cast<std::string*>(spec.out) = value;
      return true;
    case Kind::kList: {
      auto* list = static_cast<std::vector<std::string>*>(spec.out);
      if (spec.split_commas) {
        for (absl::string_view part : absl::StrSplit(value, ',', absl::SkipWhitespace())) {
          list->emplace_back(part);
        }
      } else {
        list->push_back(value);
      }
      return true;
    }
    case Kind::kBool:
      if (value == "true" || value == "1" || value.empty()) {
        *static_cast<bool*>(spec.out) = true;
      } else if (value == "false" || value == "0") {
        *static_cast<bool*>(spec.out) = false;
      } else {
        return Fail("flag --" + name + " takes true or false, not \"" + value + "\"");
      }
      return true;
  }
  return true;
}

bool Flags::Parse(int argc, char** argv) {
  bool only_positional = false;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (only_positional || arg.empty() || arg[0] != '-' || arg == "-") {
      positional_.push_back(arg);
      continue;
    }
    if (arg == "--") {
      only_positional = true;
      continue;
    }
    if (arg == "-h" || arg == "--help") {
      help_ = true;
      return true;
    }
    std::string name;
    std::string value;
    bool has_value = false;
    if (arg.rfind("--", 0) == 0) {
      name = arg.substr(2);
      if (const size_t eq = name.find('='); eq != std::string::npos) {
        value = name.substr(eq + 1);
        name = name.substr(0, eq);
        has_value = true;
      }
    } else {
      if (arg.size() != 2) return Fail("unknown flag " + arg);
      auto it = short_names_.find(arg[1]);
      if (it == short_names_.end()) return Fail("unknown flag " + arg);
      name = it->second;
    }
    auto spec = specs_.find(name);
    if (spec == specs_.end()) return Fail("unknown flag --" + name);
    if (!has_value && spec->second.kind != Kind::kBool) {
      if (i + 1 >= argc) return Fail("flag --" + name + " needs a value");
      value = argv[++i];
    }
    if (!Assign(name, spec->second, value)) return false;
  }
  return true;
}

std::optional<int> Flags::ParseCommand(int argc, char** argv, const char* help, std::ostream& out,
                                       std::ostream& err, size_t max_positional) {
  if (!Parse(argc, argv)) {
    err << error_ << "\n";
    return 2;
  }
  if (help_) {
    out << help;
    return 0;
  }
  if (positional_.size() > max_positional) {
    Fail("unexpected argument \"" + positional_[max_positional] + "\"");
    err << error_ << "\n";
    return 2;
  }
  return std::nullopt;
}

}  // namespace optimus::cli
