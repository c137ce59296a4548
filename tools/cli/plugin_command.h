// `optimus plugin list` and `optimus plugin sync`: what the server has, and a copy of its YAML
// plugins in the project's .plugins/ so that every engineer's `job create` asks the same questions.
#pragma once

#include <ostream>

namespace optimus::cli {

// argv[0] is "list" / "sync". Exit codes: 0 done, 1 refused by the server, 2 bad flags or config,
// or an unreachable server.
int RunPluginListCommand(int argc, char** argv, std::ostream& out, std::ostream& err);
int RunPluginSyncCommand(int argc, char** argv, std::ostream& out, std::ostream& err);

}  // namespace optimus::cli
