// Files the authoring commands write.
#pragma once

#include <filesystem>
#include <string>

namespace optimus::cli {

// Writes `content` to `path` through a temporary file and a rename: a reader sees the old file
// or the new one, never half of it. False with `error` set when it cannot.
bool WriteFileAtomically(const std::filesystem::path& path, const std::string& content,
                         std::string& error);

}  // namespace optimus::cli
