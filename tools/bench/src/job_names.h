// The job names a benchmark asks about: one per line of a file, blank lines skipped.
#pragma once

#include <fstream>
#include <string>
#include <vector>

namespace optimus::bench {

inline std::vector<std::string> ReadJobNames(const std::string& path) {
  std::vector<std::string> jobs;
  std::ifstream in(path);
  for (std::string line; std::getline(in, line);) {
    if (!line.empty()) jobs.push_back(line);
  }
  return jobs;
}

}  // namespace optimus::bench
