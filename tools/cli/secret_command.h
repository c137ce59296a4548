// `optimus secret set|list|delete`: the project's secrets on the server.
#pragma once

#include <ostream>

namespace optimus::cli {

// argv[0] is "secret", argv[1] the verb.
int RunSecretCommand(int argc, char** argv, std::ostream& out, std::ostream& err);

}  // namespace optimus::cli
