// The execution plane's commands refuse what they cannot send, before asking any server.
#include "execution_command.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <sstream>
#include <string>
#include <vector>

namespace optimus::cli {
namespace {

using ::testing::HasSubstr;

struct Ran {
  int code;
  std::string out, err;
};

Ran Invoke(int (*command)(int, char**, std::ostream&, std::ostream&),
           std::vector<std::string> args) {
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  std::ostringstream out, err;
  const int code = command(static_cast<int>(argv.size()), argv.data(), out, err);
  return {code, out.str(), err.str()};
}

TEST(ExecutionCommands, RefuseBadFlagsBeforeAskingTheServer) {
  const std::vector<std::string> target = {"--host", "127.0.0.1:1", "-p", "p"};
  auto r = Invoke(RunJobExecuteCommand, {"execute"});
  EXPECT_EQ(r.code, 2);
  EXPECT_THAT(r.err, HasSubstr("name the job"));
  r = Invoke(RunJobExecuteCommand,
             {"execute", "j", "--scheduled-at", "yesterday", "--host", "h:1"});
  EXPECT_EQ(r.code, 2);
  EXPECT_THAT(r.err, HasSubstr("is not an RFC 3339 time"));
  r = Invoke(RunJobExecuteCommand,
             {"execute", "j", "--env", "NOEQUALS", "--host", "h:1", "-p", "p"});
  EXPECT_EQ(r.code, 2);
  EXPECT_THAT(r.err, HasSubstr("--env takes KEY=VALUE, got \"NOEQUALS\""));
  r = Invoke(RunJobExecuteCommand, {"execute", "j", "--timeout", "-5", "--host", "h:1", "-p", "p"});
  EXPECT_EQ(r.code, 2);
  EXPECT_THAT(r.err, HasSubstr("--timeout takes whole seconds above 0"));
  r = Invoke(RunExecutionCommand, {"execution", "explode"});
  EXPECT_EQ(r.code, 2);
  EXPECT_THAT(r.err, HasSubstr("unknown command 'explode' (list, describe, cancel, logs)"));
  r = Invoke(RunExecutionCommand, {"execution", "describe", "--host", "h:1", "-p", "p"});
  EXPECT_EQ(r.code, 2);
  EXPECT_THAT(r.err, HasSubstr("give the execution id"));
  r = Invoke(RunExecutionCommand, {"execution"});
  EXPECT_EQ(r.code, 2);
  EXPECT_THAT(r.err, HasSubstr("Usage: optimus execution"));
  r = Invoke(RunTaskCommand, {"task", "execute", "t", "--arg", "=x", "--host", "h:1", "-p", "p"});
  EXPECT_EQ(r.code, 2);
  EXPECT_THAT(r.err, HasSubstr("--arg takes KEY=VALUE"));
  r = Invoke(RunTaskCommand, {"task", "create", "--host", "h:1"});
  EXPECT_EQ(r.code, 2);
  EXPECT_THAT(r.err, HasSubstr("--file FILE"));
  r = Invoke(RunExecutorCommand, {"executor", "token", "--valid", "soon", "--host", "h:1"});
  EXPECT_EQ(r.code, 2);
  EXPECT_THAT(r.err, HasSubstr("--valid takes whole seconds"));
  r = Invoke(RunExecutorCommand, {"executor", "--help"});
  EXPECT_EQ(r.code, 0);
  EXPECT_THAT(r.out, HasSubstr("optimus executor list|token|revoke"));
}

TEST(ExecutionCommands, AnUnreachableServerIsExitTwoAndNamed) {
  auto r = Invoke(RunExecutorCommand, {"executor", "list", "--host", "127.0.0.1:1"});
  EXPECT_EQ(r.code, 2);
  EXPECT_THAT(r.err, HasSubstr("cannot ask the server at 127.0.0.1:1"));
}

}  // namespace
}  // namespace optimus::cli
