// Batched reports: items queued while a call is in flight go together in the next call, each
// caller gets its own item's answer (or the call's failure), and limits split batches.
#include "optimus/executor/reporter.h"

#include <gtest/gtest.h>

#include <atomic>
#include <condition_variable>
#include <mutex>
#include <thread>
#include <vector>

namespace optimus::executor {
namespace {

core::v1::ReportItem Start(const std::string& id) {
  core::v1::ReportItem item;
  item.mutable_start()->set_execution_id(id);
  return item;
}

core::v1::ReportItem Input(const std::string& id) {
  core::v1::ReportItem item;
  item.mutable_run_input()->set_execution_id(id);
  return item;
}

std::string IdOf(const core::v1::ReportItem& item) {
  return item.has_start() ? item.start().execution_id() : item.run_input().execution_id();
}

// A dispatcher that holds its first call until released and records every batch.
struct FakeDispatcher {
  std::mutex mu;
  std::condition_variable cv;
  bool released = false;
  std::vector<std::vector<std::string>> batches;

  grpc::Status Answer(const core::v1::ReportRequest& request, core::v1::ReportResponse* response) {
    std::unique_lock lock(mu);
    std::vector<std::string> ids;
    for (const auto& item : request.items()) ids.push_back(IdOf(item));
    batches.push_back(ids);
    cv.notify_all();
    cv.wait(lock, [&] { return released; });
    for (const auto& item : request.items()) {
      core::v1::ReportResult& r = *response->add_results();
      const std::string id = IdOf(item);
      if (id.starts_with("gone")) {
        r.set_code(grpc::StatusCode::FAILED_PRECONDITION);
        r.set_message("the lease of " + id + " is no longer held");
      } else if (item.has_run_input()) {
        (*r.mutable_run_input()->mutable_envs())["EXECUTION"] = id;
      }
    }
    return grpc::Status::OK;
  }
};

TEST(Reporter, ItemsQueuedDuringACallShareTheNextAndEachGetsItsOwnAnswer) {
  FakeDispatcher fake;
  Reporter reporter([&](const auto& rq, auto* rs) { return fake.Answer(rq, rs); },
                    Reporter::Limits{.senders = 1});
  std::thread first([&] { EXPECT_TRUE(reporter.Call(Start("a")).ok()); });
  {
    std::unique_lock lock(fake.mu);
    fake.cv.wait(lock, [&] { return fake.batches.size() == 1; });  // "a" is in flight
  }
  std::vector<std::thread> callers;
  std::atomic<int> ok{0}, refused{0};
  for (const std::string id : {"b", "gone-c", "d"}) {
    callers.emplace_back([&, id] {
      core::v1::JobRunInputResponse input;
      grpc::Status s = reporter.Call(Input(id), &input);
      if (s.ok()) {
        EXPECT_EQ(input.envs().at("EXECUTION"), id);
        ++ok;
      } else {
        EXPECT_EQ(s.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
        EXPECT_EQ(s.error_message(), "the lease of gone-c is no longer held");
        ++refused;
      }
    });
  }
  // All three wait behind the call in flight; then the dispatcher answers.
  while (reporter.queued() < 3) std::this_thread::yield();
  {
    std::lock_guard lock(fake.mu);
    fake.released = true;
    fake.cv.notify_all();
  }
  first.join();
  for (auto& t : callers) t.join();
  EXPECT_EQ(ok.load(), 2);
  EXPECT_EQ(refused.load(), 1);
  ASSERT_EQ(fake.batches.size(), 2u);
  EXPECT_EQ(fake.batches[0], std::vector<std::string>{"a"});
  EXPECT_EQ(fake.batches[1].size(), 3u);  // b, gone-c and d in one call
  EXPECT_EQ(reporter.calls(), 2);
}

TEST(Reporter, AFailedCallIsEveryItemsAnswer) {
  Reporter reporter([](const auto&, auto*) {
    return grpc::Status(grpc::StatusCode::UNAVAILABLE, "dispatcher restarting");
  });
  grpc::Status s = reporter.Call(Start("a"));
  EXPECT_EQ(s.error_code(), grpc::StatusCode::UNAVAILABLE);
  EXPECT_EQ(s.error_message(), "dispatcher restarting");
}

TEST(Reporter, AnAnswerWithTooFewResultsIsAnError) {
  Reporter reporter([](const auto&, core::v1::ReportResponse*) { return grpc::Status::OK; });
  grpc::Status s = reporter.Call(Start("a"));
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INTERNAL);
  EXPECT_EQ(s.error_message(), "the dispatcher answered 0 of 1 report items");
}

TEST(Reporter, LimitsSplitBatches) {
  FakeDispatcher fake;
  Reporter reporter([&](const auto& rq, auto* rs) { return fake.Answer(rq, rs); },
                    Reporter::Limits{.senders = 1, .max_items = 8, .max_run_inputs = 2});
  std::thread first([&] { EXPECT_TRUE(reporter.Call(Start("first")).ok()); });
  {
    std::unique_lock lock(fake.mu);
    fake.cv.wait(lock, [&] { return fake.batches.size() == 1; });
  }
  std::vector<std::thread> callers;
  for (int i = 0; i < 5; ++i) {
    callers.emplace_back(
        [&, i] { EXPECT_TRUE(reporter.Call(Input("i" + std::to_string(i))).ok()); });
  }
  while (reporter.queued() < 5) std::this_thread::yield();
  {
    std::lock_guard lock(fake.mu);
    fake.released = true;
    fake.cv.notify_all();
  }
  first.join();
  for (auto& t : callers) t.join();
  // Five run inputs at most two a call: 2 + 2 + 1 after the first call.
  ASSERT_EQ(fake.batches.size(), 4u);
  EXPECT_EQ(fake.batches[1].size(), 2u);
  EXPECT_EQ(fake.batches[2].size(), 2u);
  EXPECT_EQ(fake.batches[3].size(), 1u);
}

}  // namespace
}  // namespace optimus::executor
