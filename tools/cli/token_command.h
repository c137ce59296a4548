// `optimus token new|hash`: make bearer tokens and the auth.tokens entries servers keep of them.
#pragma once

#include <istream>
#include <ostream>

namespace optimus::cli {

// argv[0] is "token", argv[1] the verb; `in` is read by `hash`.
int RunTokenCommand(int argc, char** argv, std::istream& in, std::ostream& out, std::ostream& err);

}  // namespace optimus::cli
