// The behaviour every Database adapter must show; instantiated for SQLite and PostgreSQL.
//
// An adapter's test file defines a factory and writes
//   INSTANTIATE_TEST_SUITE_P(Sqlite, StoreContractTest, ::testing::Values(factory));
// The cases themselves live in store_contract.cc, linked into each test binary.
#pragma once

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <functional>
#include <memory>
#include <string>

#include "optimus/store/database.h"

namespace optimus::store {

struct DatabaseFactory {
  std::string name;
  // A fresh, empty database (a new file, or a new schema) for one test. Null when the
  // adapter's server is unavailable (the test has then already been skipped or failed).
  std::function<std::unique_ptr<Database>()> make;
};

inline std::ostream& operator<<(std::ostream& os, const DatabaseFactory& f) { return os << f.name; }

class StoreContractTest : public ::testing::TestWithParam<DatabaseFactory> {
 protected:
  void SetUp() override {
    db_ = GetParam().make();
    if (db_ == nullptr) GTEST_SKIP() << "no database";
  }
  std::unique_ptr<Database> db_;
};

}  // namespace optimus::store
