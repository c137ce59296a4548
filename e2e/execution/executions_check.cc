// The distributed execution e2e's helper, talking to the real servers:
//   executions_check produce BUS_URI PROJECT TASK COUNT [DUPLICATES]
//     publishes COUNT execution requests of catalog task TASK on optimus.executions.requests
//     (keys e2e/0 .. e2e/COUNT-1), then DUPLICATES of them again (the same keys)
//   executions_check verify BUS_URI DB_URI COUNT
//     reads optimus.job.runs from its start and the dispatcher's executions table, and checks
//     that they agree: COUNT executions, each with exactly one terminal event, matching its
//     state in the database.
// Prints "ok: …" / "FAIL: …" lines; exits 0 when everything held.
#include <chrono>
#include <cstdio>
#include <map>
#include <set>
#include <string>

#include "absl/strings/numbers.h"
#include "optimus/bus/open_bus.h"
#include "optimus/events/v1/executions.pb.h"
#include "optimus/events/v1/runs.pb.h"
#include "optimus/pipeline/pipeline.h"
#include "optimus/store/database.h"

namespace {

using optimus::events::v1::JobRunEvent;

int Produce(const std::string& uri, const std::string& project, const std::string& task, int count,
            int duplicates) {
  auto bus = optimus::bus::OpenBus(uri, "executions-check");
  if (!bus.ok()) {
    std::printf("FAIL: %s\n", std::string(bus.status().message()).c_str());
    return 1;
  }
  if (auto s = optimus::pipeline::EnsurePipelineTopics(**bus); !s.ok()) {
    std::printf("FAIL: topics: %s\n", std::string(s.message()).c_str());
    return 1;
  }
  auto publisher = (*bus)->NewPublisher();
  if (!publisher.ok()) return 1;
  std::vector<optimus::bus::OutgoingMessage> batch;
  for (int i = 0; i < count + duplicates; ++i) {
    optimus::events::v1::ExecutionRequest r;
    r.set_request_key("e2e/" + std::to_string(i % count));
    r.set_project(project);
    r.set_task(task);
    r.set_requested_by("executions_check");
    batch.push_back(optimus::pipeline::ProtoRecord(optimus::pipeline::kExecutionRequestsTopic,
                                                   project + "/" + task, r));
    if (batch.size() == 500 || i + 1 == count + duplicates) {
      if (auto s = (*publisher)->PublishBatch(batch); !s.ok()) {
        std::printf("FAIL: publish: %s\n", std::string(s.message()).c_str());
        return 1;
      }
      batch.clear();
    }
  }
  std::printf("ok: %d execution requests published on optimus.executions.requests (%d again)\n",
              count + duplicates, duplicates);
  return 0;
}

bool Terminal(const JobRunEvent& e) {
  const std::string& s = e.execution_state();
  return s == "succeeded" || s == "failed" || s == "cancelled" || s == "timed_out";
}

int Verify(const std::string& uri, const std::string& db_uri, int count) {
  int failures = 0;
  const auto check = [&](bool ok, const std::string& what) {
    std::printf("%s: %s\n", ok ? "ok" : "FAIL", what.c_str());
    if (!ok) ++failures;
  };
  auto db = optimus::store::OpenDatabase(db_uri, "dispatcher");
  if (!db.ok()) {
    std::printf("FAIL: %s\n", std::string(db.status().message()).c_str());
    return 1;
  }
  auto rows = (*db)->Execute("SELECT id, state, attempt FROM executions");
  if (!rows.ok()) {
    std::printf("FAIL: %s\n", std::string(rows.status().message()).c_str());
    return 1;
  }
  std::map<std::string, std::pair<std::string, int64_t>> stored;
  for (const auto& row : rows->rows) stored[row.Text(0)] = {row.Text(1), row.Int(2)};
  check(static_cast<int>(stored.size()) == count, std::to_string(stored.size()) +
                                                      " executions stored for " +
                                                      std::to_string(count) + " request keys");

  auto bus = optimus::bus::OpenBus(uri, "executions-check");
  if (!bus.ok()) return 1;
  auto consumer = (*bus)->NewConsumer(
      "executions-check-" +
      std::to_string(std::chrono::steady_clock::now().time_since_epoch().count()));
  if (!consumer.ok() || !(*consumer)->Subscribe({optimus::pipeline::kJobRunsTopic}).ok()) return 1;
  std::set<std::string> seen_events;
  std::map<std::string, std::vector<JobRunEvent>> terminal;  // by execution
  std::map<std::string, int> events;
  int64_t records = 0, repeats = 0;
  auto quiet_since = std::chrono::steady_clock::now();
  const auto give_up = std::chrono::steady_clock::now() + std::chrono::minutes(3);
  while (std::chrono::steady_clock::now() < give_up) {
    auto batch = (*consumer)->Poll(std::chrono::milliseconds(500), 5000);
    if (!batch.ok()) return 1;
    if (batch->empty()) {
      const bool all = terminal.size() >= stored.size();
      if (std::chrono::steady_clock::now() - quiet_since > std::chrono::seconds(all ? 3 : 30))
        break;
      continue;
    }
    quiet_since = std::chrono::steady_clock::now();
    for (const auto& m : *batch) {
      ++records;
      JobRunEvent e;
      if (!e.ParseFromString(m.payload) || e.execution_id().empty()) continue;
      // The outbox relay publishes at least once: a crash between publish and mark repeats
      // records, with the same event id.
      if (!seen_events.insert(e.event_id()).second) {
        ++repeats;
        continue;
      }
      ++events[e.execution_id()];
      if (Terminal(e)) terminal[e.execution_id()].push_back(e);
    }
  }
  (*consumer)->Close();
  int missing = 0, twice = 0, mismatched = 0;
  for (const auto& [id, state] : stored) {
    auto it = terminal.find(id);
    if (it == terminal.end()) {
      if (++missing <= 3) {
        std::printf("  no terminal event for %s (%s, attempt %lld; %d events seen)\n", id.c_str(),
                    state.first.c_str(), static_cast<long long>(state.second), events[id]);
      }
    } else if (it->second.size() != 1) {
      ++twice;
    } else if (it->second.front().execution_state() != state.first ||
               it->second.front().attempt() != state.second) {
      ++mismatched;
    }
  }
  if (missing > 0) {
    auto pending = (*db)->Execute("SELECT count(*) FROM outbox WHERE published_at_ms IS NULL");
    if (pending.ok()) {
      std::printf("  the outbox holds %lld unpublished events\n",
                  static_cast<long long>(pending->rows[0].Int(0)));
    }
  }
  check(missing == 0, std::to_string(missing) + " executions without a terminal event on Kafka");
  check(twice == 0, std::to_string(twice) + " executions with more than one terminal event");
  check(mismatched == 0, std::to_string(mismatched) +
                             " terminal events disagreeing with the database (state, attempt)");
  check(terminal.size() == stored.size(),
        std::to_string(terminal.size()) + " executions on Kafka, " + std::to_string(stored.size()) +
            " in the database (" + std::to_string(records) + " records, " +
            std::to_string(repeats) + " repeated by the relay)");
  return failures == 0 ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  const std::string mode = argc > 1 ? argv[1] : "";
  int n = 0, d = 0;
  if (mode == "produce" && argc >= 6 && absl::SimpleAtoi(argv[5], &n)) {
    if (argc > 6 && !absl::SimpleAtoi(argv[6], &d)) return 2;
    return Produce(argv[2], argv[3], argv[4], n, d);
  }
  if (mode == "verify" && argc == 5 && absl::SimpleAtoi(argv[4], &n)) {
    return Verify(argv[2], argv[3], n);
  }
  std::fprintf(stderr,
               "usage: executions_check produce BUS_URI PROJECT TASK COUNT [DUPLICATES]\n"
               "       executions_check verify BUS_URI DB_URI COUNT\n");
  return 2;
}
