// `optimus plugin install -c FILE`: installs the plugin artifacts a server config names (what a
// server or its init container runs before the server starts).
#pragma once

#include <ostream>

namespace optimus::cli {

// argv[0] is "install". Exit codes: 0 installed, 1 an artifact failed (nothing changed), 2 bad
// flags or config.
int RunPluginInstallCommand(int argc, char** argv, std::ostream& out, std::ostream& err);

}  // namespace optimus::cli
