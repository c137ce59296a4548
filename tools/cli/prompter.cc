// Asking, checking and collecting answers for the authoring commands.
#include "prompter.h"

#include "optimus/spec/diagnostics.h"
#include "optimus/spec/loaders.h"
#include "optimus/spec/project_reader.h"

namespace optimus::cli {

std::string Prompter::Check(const Ask& ask, const std::string& answer) const {
  if (answer.empty()) return ask.required ? "an answer is required" : "";
  if (!ask.options.empty()) {
    bool found = false;
    for (const std::string& o : ask.options) found = found || o == answer;
    if (!found) {
      std::string list;
      for (const std::string& o : ask.options) list += (list.empty() ? "" : ", ") + o;
      return "\"" + answer + "\" is not one of: " + list;
    }
  }
  return ask.check ? ask.check(answer) : "";
}

std::optional<std::string> Prompter::Get(const Ask& ask) {
  if (auto it = answers_.find(ask.key); it != answers_.end()) {
    used_[ask.key] = true;
    const std::string why = Check(ask, it->second);
    if (why.empty()) return it->second;
    if (!interactive_) {
      problems_.push_back(ask.key + ": " + why);
      return std::nullopt;
    }
    out_ << ask.key << ": " << why << "\n";
  }
  if (!interactive_) {
    const std::string why = Check(ask, ask.default_value);
    if (why.empty()) return ask.default_value;
    problems_.push_back(ask.key + ": " +
                        (ask.default_value.empty() ? "no answer given (" + ask.prompt + ")" : why));
    return std::nullopt;
  }
  if (!ask.help.empty()) out_ << "  " << ask.help << "\n";
  if (!ask.options.empty()) {
    for (size_t i = 0; i < ask.options.size(); ++i) {
      out_ << "  " << (i + 1) << ") " << ask.options[i] << "\n";
    }
  }
  for (;;) {
    out_ << "? " << ask.prompt;
    if (!ask.default_value.empty()) out_ << " [" << ask.default_value << "]";
    out_ << ": " << std::flush;
    std::string line;
    if (!std::getline(in_, line)) {
      out_ << "\n";
      problems_.push_back(ask.key + ": no answer (the input ended)");
      return std::nullopt;
    }
    while (!line.empty() && (line.back() == '\r' || line.back() == ' ')) line.pop_back();
    while (!line.empty() && line.front() == ' ') line.erase(0, 1);
    if (line.empty()) line = ask.default_value;
    // A choice may be picked by its number too.
    if (!ask.options.empty() && !line.empty() &&
        line.find_first_not_of("0123456789") == std::string::npos && line.size() < 4) {
      const size_t index = std::stoul(line);
      if (index >= 1 && index <= ask.options.size()) line = ask.options[index - 1];
    }
    const std::string why = Check(ask, line);
    if (why.empty()) return line;
    out_ << "  " << why << "\n";
  }
}

std::vector<std::string> Prompter::Unused() const {
  std::vector<std::string> out;
  for (const auto& [key, value] : answers_) {
    if (used_.count(key) == 0) out.push_back(key);
  }
  return out;
}

std::map<std::string, std::string> ReadAnswersFile(const std::string& path,
                                                   std::vector<std::string>& problems) {
  spec::Diagnostics diagnostics;
  std::map<std::string, std::string> answers;
  if (auto content = spec::ReadFile(path, path, diagnostics)) {
    if (auto map = spec::LoadStringMap(path, *content, diagnostics)) answers = std::move(*map);
  }
  for (const auto& d : diagnostics.items()) problems.push_back(d.ToString());
  return answers;
}

void AddAnswerFlags(const std::vector<std::string>& flags,
                    std::map<std::string, std::string>& answers,
                    std::vector<std::string>& problems) {
  for (const std::string& flag : flags) {
    const size_t eq = flag.find('=');
    if (eq == std::string::npos || eq == 0) {
      problems.push_back("--answer \"" + flag + "\" is not KEY=VALUE");
      continue;
    }
    answers[flag.substr(0, eq)] = flag.substr(eq + 1);
  }
}

}  // namespace optimus::cli
