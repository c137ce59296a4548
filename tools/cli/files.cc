// Atomic file writes for the authoring commands.
#include "files.h"

#include <fstream>

namespace optimus::cli {

namespace fs = std::filesystem;

bool WriteFileAtomically(const fs::path& path, const std::string& content, std::string& error) {
  const fs::path tmp = path.string() + ".tmp";
  {
    std::ofstream file(tmp, std::ios::binary | std::ios::trunc);
    file << content;
    if (!file.flush()) {
      error = "cannot write " + tmp.generic_string();
      return false;
    }
  }
  std::error_code ec;
  fs::rename(tmp, path, ec);
  if (ec) {
    error = "cannot write " + path.generic_string() + ": " + ec.message();
    return false;
  }
  return true;
}

}  // namespace optimus::cli
