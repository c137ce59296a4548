// A dispatcher schema on a fresh SQLite file (or PostgreSQL schema), with the events its outbox
// holds, for the store and dispatcher tests.
#pragma once

#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

#include "optimus/dispatcher/dispatcher.h"
#include "optimus/events/v1/runs.pb.h"
#include "optimus/store/migrations.h"
#include "optimus/testing/testing.h"

namespace optimus::dispatcher {

inline std::unique_ptr<store::Database> OpenDispatcherDb(const std::string& uri,
                                                         const std::string& schema) {
  auto db = store::OpenDatabase(uri, schema);
  EXPECT_TRUE(db.ok()) << db.status();
  if (!db.ok()) return nullptr;
  EXPECT_TRUE(store::ApplyMigrations(**db, "store", store::CoreMigrations()).ok());
  absl::Status s = store::ApplyMigrations(**db, "dispatcher", Dispatcher::Migrations());
  EXPECT_TRUE(s.ok()) << s;
  return *std::move(db);
}

// The optimus.job.runs events enqueued after id `*after` (advanced past them).
inline std::vector<events::v1::JobRunEvent> RunEvents(store::Database& db, int64_t* after) {
  auto rows = db.Execute(
      "SELECT id, payload FROM outbox WHERE topic = 'optimus.job.runs' AND id > $1 ORDER BY id",
      {*after});
  EXPECT_TRUE(rows.ok()) << rows.status();
  std::vector<events::v1::JobRunEvent> out;
  if (!rows.ok()) return out;
  for (const auto& row : rows->rows) {
    *after = row.Int(0);
    out.emplace_back().ParseFromString(row.Text(1));
  }
  return out;
}

inline std::vector<std::string> Types(const std::vector<events::v1::JobRunEvent>& events) {
  std::vector<std::string> out;
  for (const auto& e : events) out.push_back(e.type());
  return out;
}

// A shell task execution of project p.
inline NewExecution ShellTask(const std::string& name, const std::string& script,
                              int32_t priority = 0, const std::string& pool = "") {
  NewExecution e;
  e.kind = "task";
  e.project = "p";
  e.name = name;
  e.priority = priority;
  e.pool = pool;
  auto* step = e.plan.add_steps();
  step->set_kind(core::v1::ExecutionStep::KIND_TASK);
  step->set_name(name);
  step->set_script(script);
  return e;
}

}  // namespace optimus::dispatcher
