// Runs a CLI command function in-process and captures what it prints, for the command tests.
#pragma once

#include <ostream>
#include <sstream>
#include <string>
#include <vector>

namespace optimus::cli {

struct CommandRun {
  int code;
  std::string out;
  std::string err;
};

// `command` has the shape of every Run*Command: (argc, argv, out, err); argv[0] is `name`.
template <typename Command>
CommandRun RunCommand(Command command, const std::string& name, std::vector<std::string> args) {
  args.insert(args.begin(), name);
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  std::ostringstream out, err;
  const int code = command(static_cast<int>(argv.size()), argv.data(), out, err);
  return {code, out.str(), err.str()};
}

// The same for the asking commands: (argc, argv, in, out, err, interactive), reading `input`.
template <typename Command>
CommandRun RunAsking(Command command, const std::string& name, std::vector<std::string> args,
                     const std::string& input, bool interactive) {
  args.insert(args.begin(), name);
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  std::istringstream in(input);
  std::ostringstream out, err;
  const int code = command(static_cast<int>(argv.size()), argv.data(), in, out, err, interactive);
  return {code, out.str(), err.str()};
}

}  // namespace optimus::cli
