// Helpers shared by the spec tests: reading test data and finding diagnostics.
#pragma once

#include <fstream>
#include <sstream>
#include <string>

#include "optimus/spec/diagnostics.h"

namespace optimus::spec::testutil {

inline std::string TestData(const std::string& relative) {
  return std::string(OPTIMUS_SPEC_TESTDATA) + "/" + relative;
}

inline std::string ReadTestData(const std::string& relative) {
  std::ifstream in(TestData(relative));
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

// The only diagnostic for `field_path`; "" when there is none (or more than one, listed).
inline std::string Only(const Diagnostics& d, const std::string& field_path) {
  std::string found;
  int n = 0;
  for (const auto& item : d.items()) {
    if (item.field_path == field_path) {
      found += (n++ ? " | " : "") + item.ToString();
    }
  }
  return found;
}

}  // namespace optimus::spec::testutil
