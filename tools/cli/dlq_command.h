// `optimus dlq list TOPIC`: the records of a dead-letter topic and why each is there.
#pragma once

#include <ostream>

namespace optimus::cli {

// argv[0] is "dlq", argv[1] the verb.
int RunDlqCommand(int argc, char** argv, std::ostream& out, std::ostream& err);

}  // namespace optimus::cli
