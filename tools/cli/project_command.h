// `optimus project register` and `optimus namespace register|list`.
#pragma once

#include <ostream>

namespace optimus::cli {

// argv[0] is "project" / "namespace", argv[1] the verb.
int RunProjectCommand(int argc, char** argv, std::ostream& out, std::ostream& err);
int RunNamespaceCommand(int argc, char** argv, std::ostream& out, std::ostream& err);

}  // namespace optimus::cli
