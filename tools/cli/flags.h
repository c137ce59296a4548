// The flag parser every `optimus` client command shares: --long VALUE, --long=VALUE, -s VALUE,
// boolean switches, repeatable flags and positional arguments, with one-line errors.
#pragma once

#include <map>
#include <optional>
#include <ostream>
#include <string>
#include <vector>

namespace optimus::cli {

class Flags {
 public:
  // `command` names the command in errors: "optimus job create".
  explicit Flags(std::string command) : command_(std::move(command)) {}

  // A flag with a value; `short_name` is 0 when there is none.
  void String(const std::string& name, char short_name, std::string* out);
  // A flag that may be given many times; comma-separated values are split when `split_commas`.
  void List(const std::string& name, char short_name, std::vector<std::string>* out,
            bool split_commas = false);
  // A switch without a value (--name); --name=false turns it off.
  void Bool(const std::string& name, char short_name, bool* out);

  // Parses argv[1..argc). False with error() set on a bad flag; help() tells whether -h or
  // --help was seen (parsing stops there).
  bool Parse(int argc, char** argv);

  // Parse, for a command's entry point: nullopt to go on, else the exit code to return now
  // (0 after printing `help` to `out` for -h/--help; 2 after printing the error to `err`,
  // also for positional arguments when `max_positional` are allowed and more were given).
  std::optional<int> ParseCommand(int argc, char** argv, const char* help, std::ostream& out,
                                  std::ostream& err, size_t max_positional = 0);

  const std::vector<std::string>& positional() const { return positional_; }
  bool help() const { return help_; }
  bool WasSet(const std::string& name) const { return set_.count(name) > 0; }
  // "optimus job create: unknown flag --x (see 'optimus job create --help')"
  const std::string& error() const { return error_; }

 private:
  enum class Kind { kString, kList, kBool };
  struct Spec {
    Kind kind;
    void* out;
    bool split_commas = false;
  };
  bool Fail(const std::string& message);
  bool Assign(const std::string& name, const Spec& spec, const std::string& value);

  std::string command_;
  std::map<std::string, Spec> specs_;
  std::map<char, std::string> short_names_;
  std::map<std::string, int> set_;
  std::vector<std::string> positional_;
  bool help_ = false;
  std::string error_;
};

}  // namespace optimus::cli
