// Questions the authoring commands ask: on a terminal they are asked one by one (with help,
// defaults, choices and re-asking after a bad answer); in CI every answer comes from flags or
// an answers file, and whatever is missing or wrong is listed at once.
#pragma once

#include <functional>
#include <istream>
#include <map>
#include <optional>
#include <ostream>
#include <string>
#include <vector>

namespace optimus::cli {

struct Ask {
  std::string key;     // where a given answer is looked up: "name", "PROJECT", ...
  std::string prompt;  // "Job name"
  std::string help;
  std::string default_value;
  std::vector<std::string> options;  // when set, the answer must be one of them
  bool required = true;              // an empty answer is refused
  // "" when the answer is acceptable, else why not.
  std::function<std::string(const std::string&)> check;
};

class Prompter {
 public:
  // `answers` are given answers by key (flags, --answer K=V, an answers file).
  Prompter(std::istream& in, std::ostream& out, bool interactive,
           std::map<std::string, std::string> answers = {})
      : in_(in), out_(out), interactive_(interactive), answers_(std::move(answers)) {}

  bool interactive() const { return interactive_; }

  // The answer to `ask`: the given one, else (on a terminal) what the user types, else the
  // default. nullopt when there is no acceptable answer; problems() then says why.
  std::optional<std::string> Get(const Ask& ask);
  // Keys of given answers that no question used (most often a typo in a key).
  std::vector<std::string> Unused() const;

  const std::vector<std::string>& problems() const { return problems_; }
  void Problem(std::string message) { problems_.push_back(std::move(message)); }

 private:
  std::string Check(const Ask& ask, const std::string& answer) const;

  std::istream& in_;
  std::ostream& out_;
  bool interactive_;
  std::map<std::string, std::string> answers_;
  std::map<std::string, bool> used_;
  std::vector<std::string> problems_;
};

// Reads an answers file: a YAML map of key to scalar. Problems are appended to `problems`.
std::map<std::string, std::string> ReadAnswersFile(const std::string& path,
                                                   std::vector<std::string>& problems);

// Adds KEY=VALUE strings (from repeated --answer flags) to `answers`.
void AddAnswerFlags(const std::vector<std::string>& flags,
                    std::map<std::string, std::string>& answers,
                    std::vector<std::string>& problems);

}  // namespace optimus::cli
