// Embedded bus on SQLite: topics, partitioned records, group positions.
#include "optimus/bus/embedded_bus.h"

#include <chrono>
#include <condition_variable>
#include <map>
#include <mutex>
#include <set>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "optimus/bus/header_codec.h"
#include "optimus/store/migrations.h"
#include "optimus/store/sqlite_database.h"

namespace optimus::bus {
namespace {

using store::Database;
using store::Transaction;

constexpr char kChannel[] = "optimus_bus";

const std::vector<store::Migration>& BusMigrations() {
  static const auto* migrations = new std::vector<store::Migration>{
      {1, "log",
       "CREATE TABLE bus_topics (name TEXT PRIMARY KEY, partitions BIGINT NOT NULL);"
       "CREATE TABLE bus_records (topic TEXT NOT NULL, part BIGINT NOT NULL, offs BIGINT NOT NULL,"
       " msg_key TEXT NOT NULL, payload ${BLOB} NOT NULL, headers ${BLOB} NOT NULL,"
       " ts_ms BIGINT NOT NULL, PRIMARY KEY (topic, part, offs));"
       "CREATE TABLE bus_group_offsets (group_id TEXT NOT NULL, topic TEXT NOT NULL,"
       " part BIGINT NOT NULL, next_offset BIGINT NOT NULL, PRIMARY KEY (group_id, topic, part))"},
      {2, "topic config, tombstones",
       "ALTER TABLE bus_topics ADD COLUMN compacted BIGINT NOT NULL DEFAULT 0;"
       "ALTER TABLE bus_topics ADD COLUMN retention_ms BIGINT NOT NULL DEFAULT -1;"
       "ALTER TABLE bus_records ADD COLUMN tombstone BIGINT NOT NULL DEFAULT 0;"
       "CREATE INDEX bus_records_by_key ON bus_records (topic, part, msg_key, offs);"
       "CREATE INDEX bus_records_by_time ON bus_records (topic, ts_ms)"},
  };
  return *migrations;
}

// FNV-1a: stable across processes and releases, so a key always lands in the same partition.
uint32_t HashKey(std::string_view key) {
  uint32_t h = 2166136261u;
  for (unsigned char c : key) {
    h ^= c;
    h *= 16777619u;
  }
  return h;
}

// Topic metadata shared by the publisher and consumers of one bus.
class Topics {
 public:
  Topics(Database& db, int default_partitions) : db_(db), default_partitions_(default_partitions) {}

  // The partition count of `topic`, creating it inside `tx` when it does not exist (with
  // `config`, or the defaults when null).
  absl::StatusOr<int> Partitions(Transaction& tx, const std::string& topic,
                                 const TopicConfig* config = nullptr) {
    {
      std::lock_guard lock(mu_);
      if (auto it = cache_.find(topic); it != cache_.end()) return it->second;
    }
    TopicConfig defaults;
    defaults.partitions = default_partitions_;
    const TopicConfig& c = config != nullptr ? *config : defaults;
    auto created = tx.Execute(
        "INSERT INTO bus_topics (name, partitions, compacted, retention_ms) VALUES ($1, $2, $3, $4)"
        " ON CONFLICT (name) DO NOTHING",
        {topic, static_cast<int64_t>(c.partitions), static_cast<int64_t>(c.compacted ? 1 : 0),
         c.retention_ms});
    if (!created.ok()) return created.status();
    auto row = tx.Execute("SELECT partitions FROM bus_topics WHERE name = $1", {topic});
    if (!row.ok()) return row.status();
    const int partitions = static_cast<int>(row->rows.at(0).Int(0));
    std::lock_guard lock(mu_);
    cache_[topic] = partitions;
    return partitions;
  }

  Database& db() { return db_; }

 private:
  Database& db_;
  int default_partitions_;
  std::mutex mu_;
  std::map<std::string, int> cache_;
};

class EmbeddedPublisher : public Publisher {
 public:
  explicit EmbeddedPublisher(std::shared_ptr<Topics> topics) : topics_(std::move(topics)) {}

  absl::Status PublishBatch(const std::vector<OutgoingMessage>& messages) override {
    if (messages.empty()) return absl::OkStatus();
    const int64_t now = absl::ToUnixMillis(absl::Now());
    return topics_->db().InTransaction([&](Transaction& tx) -> absl::Status {
      std::map<std::pair<std::string, int>, int64_t> next;
      for (const OutgoingMessage& m : messages) {
        if (m.topic.empty()) return absl::InvalidArgumentError("bus: message has no topic");
        auto partitions = topics_->Partitions(tx, m.topic);
        if (!partitions.ok()) return partitions.status();
        const int part = static_cast<int>(HashKey(m.key) % static_cast<uint32_t>(*partitions));
        auto [it, inserted] = next.try_emplace({m.topic, part}, 0);
        if (inserted) {
          auto max = tx.Execute("SELECT MAX(offs) FROM bus_records WHERE topic = $1 AND part = $2",
                                {m.topic, static_cast<int64_t>(part)});
          if (!max.ok()) return max.status();
          it->second = max->rows.at(0).IsNull(0) ? 0 : max->rows.at(0).Int(0) + 1;
        }
        auto row = tx.Execute(
            "INSERT INTO bus_records (topic, part, offs, msg_key, payload, headers, ts_ms,"
            " tombstone) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
            {m.topic, static_cast<int64_t>(part), it->second++, m.key,
             store::Blob{m.tombstone ? std::string() : m.payload},
             store::Blob{EncodeHeaders(m.headers)}, now, static_cast<int64_t>(m.tombstone)});
        if (!row.ok()) return row.status();
      }
      return tx.Notify(kChannel);
    });
  }

 private:
  std::shared_ptr<Topics> topics_;
};

class EmbeddedConsumer : public Consumer {
 public:
  EmbeddedConsumer(std::shared_ptr<Topics> topics, std::string group, int poll_interval_ms)
      : topics_(std::move(topics)), group_(std::move(group)), poll_interval_ms_(poll_interval_ms) {}

  absl::Status Subscribe(const std::vector<std::string>& topics) override {
    positions_.clear();
    return topics_->db().InTransaction([&](Transaction& tx) -> absl::Status {
      for (const std::string& topic : topics) {
        auto partitions = topics_->Partitions(tx, topic);
        if (!partitions.ok()) return partitions.status();
        for (int part = 0; part < *partitions; ++part) positions_[{topic, part}] = 0;
        // A row per partition from the first subscription on, so retention never deletes what
        // this group has not read yet, even before its first commit.
        for (int part = 0; part < *partitions; ++part) {
          auto joined = tx.Execute(
              "INSERT INTO bus_group_offsets (group_id, topic, part, next_offset)"
              " VALUES ($1, $2, $3, 0) ON CONFLICT (group_id, topic, part) DO NOTHING",
              {group_, topic, static_cast<int64_t>(part)});
          if (!joined.ok()) return joined.status();
        }
        auto committed = tx.Execute(
            "SELECT part, next_offset FROM bus_group_offsets WHERE group_id = $1 AND topic = $2",
            {group_, topic});
        if (!committed.ok()) return committed.status();
        for (const store::Row& row : committed->rows) {
          positions_[{topic, static_cast<int>(row.Int(0))}] = row.Int(1);
        }
      }
      return absl::OkStatus();
    });
  }

  absl::StatusOr<std::vector<Message>> Poll(std::chrono::milliseconds timeout,
                                            size_t max_messages) override {
    if (positions_.empty()) return absl::FailedPreconditionError("bus: Poll before Subscribe");
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    for (;;) {
      auto batch = Fetch(max_messages);
      if (!batch.ok() || !batch->empty()) return batch;
      const auto now = std::chrono::steady_clock::now();
      if (now >= deadline) return batch;
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - now);
      topics_->db().WaitForNotification(
          kChannel, static_cast<int>(std::min<int64_t>(left.count(), poll_interval_ms_)));
    }
  }

  absl::Status Commit(const Message& message) override {
    return topics_->db()
        .Execute(
            "INSERT INTO bus_group_offsets (group_id, topic, part, next_offset)"
            " VALUES ($1, $2, $3, $4) ON CONFLICT (group_id, topic, part) DO UPDATE"
            " SET next_offset = excluded.next_offset"
            " WHERE bus_group_offsets.next_offset < excluded.next_offset",
            {group_, message.topic, static_cast<int64_t>(message.partition), message.offset + 1})
        .status();
  }

  void Close() override { positions_.clear(); }

 private:
  // Reads the next records of every partition from the in-memory positions, round-robin
  // across partitions so one busy partition does not starve the others: each round offers
  // every partition an equal share of the room left, until the batch is full or a round finds
  // nothing more.
  absl::StatusOr<std::vector<Message>> Fetch(size_t max_messages) {
    std::vector<Message> out;
    std::set<std::pair<std::string, int>> drained;
    auto positions = positions_;  // kept only if the whole read succeeds: nothing is skipped
    absl::Status status = topics_->db().InReadTransaction([&](Transaction& tx) -> absl::Status {
      while (out.size() < max_messages && drained.size() < positions.size()) {
        const size_t active = positions.size() - drained.size();
        const size_t share = std::max<size_t>(1, (max_messages - out.size()) / active);
        for (auto& [where, position] : positions) {
          if (out.size() >= max_messages) break;
          if (drained.count(where) != 0) continue;
          const auto limit = std::min(share, max_messages - out.size());
          auto rows = tx.Execute(
              "SELECT offs, msg_key, payload, headers, ts_ms, tombstone FROM bus_records"
              " WHERE topic = $1 AND part = $2 AND offs >= $3 ORDER BY offs LIMIT $4",
              {where.first, static_cast<int64_t>(where.second), position,
               static_cast<int64_t>(limit)});
          if (!rows.ok()) return rows.status();
          if (rows->rows.size() < limit) drained.insert(where);
          for (const store::Row& row : rows->rows) {
            Message m;
            m.topic = where.first;
            m.partition = where.second;
            m.offset = row.Int(0);
            m.key = row.Text(1);
            m.payload = row.Text(2);
            auto headers = DecodeHeaders(row.Text(3));
            if (!headers.ok()) {
              return absl::DataLossError(absl::StrCat("bus: record ", where.first, "/",
                                                      where.second, "/", m.offset, ": ",
                                                      headers.status().message()));
            }
            m.headers = *std::move(headers);
            m.timestamp_ms = row.Int(4);
            m.tombstone = row.Int(5) != 0;
            position = m.offset + 1;
            out.push_back(std::move(m));
          }
        }
      }
      return absl::OkStatus();
    });
    if (!status.ok()) return status;
    positions_ = std::move(positions);
    return out;
  }

  std::shared_ptr<Topics> topics_;
  std::string group_;
  int poll_interval_ms_;
  std::map<std::pair<std::string, int>, int64_t> positions_;
};

class EmbeddedBusImpl : public EmbeddedBus {
 public:
  EmbeddedBusImpl(std::unique_ptr<Database> db, EmbeddedBusOptions options)
      : db_(std::move(db)),
        options_(std::move(options)),
        topics_(std::make_shared<Topics>(*db_, options_.default_partitions)) {
    if (options_.maintenance_interval_ms > 0) {
      maintenance_ = std::jthread([this](std::stop_token stop) { MaintenanceLoop(stop); });
    }
  }

  ~EmbeddedBusImpl() override {
    if (maintenance_.joinable()) {
      maintenance_.request_stop();
      wake_.notify_all();
      maintenance_.join();
    }
  }

  absl::StatusOr<std::unique_ptr<Publisher>> NewPublisher() override {
    return std::unique_ptr<Publisher>(std::make_unique<EmbeddedPublisher>(topics_));
  }

  absl::StatusOr<std::unique_ptr<Consumer>> NewConsumer(const std::string& group) override {
    if (group.empty()) return absl::InvalidArgumentError("bus: consumer group is empty");
    return std::unique_ptr<Consumer>(
        std::make_unique<EmbeddedConsumer>(topics_, group, options_.poll_interval_ms));
  }

  absl::Status EnsureTopic(const std::string& topic, const TopicConfig& config) override {
    if (topic.empty()) return absl::InvalidArgumentError("bus: topic name is empty");
    if (config.partitions < 1) return absl::InvalidArgumentError("bus: partitions must be >= 1");
    return db_->InTransaction([&](Transaction& tx) -> absl::Status {
      return topics_->Partitions(tx, topic, &config).status();
    });
  }

  absl::StatusOr<int64_t> RunMaintenance(int64_t now_ms) override {
    int64_t deleted = 0;
    absl::Status status = db_->InTransaction([&](Transaction& tx) -> absl::Status {
      // Compacted topics: a record is obsolete once a newer one has the same key; a tombstone
      // goes too once it is older than a day and nothing older remains for its key.
      auto superseded = tx.Execute(
          "DELETE FROM bus_records WHERE topic IN (SELECT name FROM bus_topics WHERE compacted = 1)"
          " AND EXISTS (SELECT 1 FROM bus_records newer WHERE newer.topic = bus_records.topic"
          " AND newer.part = bus_records.part AND newer.msg_key = bus_records.msg_key"
          " AND newer.offs > bus_records.offs)");
      if (!superseded.ok()) return superseded.status();
      auto tombstones = tx.Execute(
          "DELETE FROM bus_records WHERE tombstone = 1 AND ts_ms < $1"
          " AND topic IN (SELECT name FROM bus_topics WHERE compacted = 1)",
          {now_ms - kTombstoneRetentionMs});
      if (!tombstones.ok()) return tombstones.status();
      deleted = superseded->affected_rows + tombstones->affected_rows;
      // Other topics: records past their retention, unless a group has yet to commit them. A
      // topic at a time, by the time index: one statement over all of them read every record
      // of the bus each round, under the write lock.
      auto topics = tx.Execute(
          "SELECT name, retention_ms FROM bus_topics WHERE compacted = 0 AND retention_ms >= 0");
      if (!topics.ok()) return topics.status();
      for (const store::Row& topic : topics->rows) {
        auto expired = tx.Execute(
            "DELETE FROM bus_records WHERE topic = $1 AND ts_ms < $2 AND NOT EXISTS (SELECT 1 "
            "FROM bus_group_offsets g WHERE g.topic = bus_records.topic AND g.part = "
            "bus_records.part AND g.next_offset <= bus_records.offs)",
            {topic.Text(0), now_ms - topic.Int(1)});
        if (!expired.ok()) return expired.status();
        deleted += expired->affected_rows;
      }
      return absl::OkStatus();
    });
    if (!status.ok()) return status;
    return deleted;
  }

 private:
  static constexpr int64_t kTombstoneRetentionMs = 24 * 3600 * 1000LL;

  void MaintenanceLoop(std::stop_token stop) {
    std::mutex mu;
    std::unique_lock lock(mu);
    while (!stop.stop_requested()) {
      wake_.wait_for(lock, std::chrono::milliseconds(options_.maintenance_interval_ms),
                     [&] { return stop.stop_requested(); });
      if (stop.stop_requested()) break;
      // A failure here only delays clean-up; the next round tries again.
      (void)RunMaintenance(absl::ToUnixMillis(absl::Now()));
    }
  }

  std::unique_ptr<Database> db_;
  EmbeddedBusOptions options_;
  std::shared_ptr<Topics> topics_;
  std::condition_variable_any wake_;
  std::jthread maintenance_;
};

}  // namespace

absl::StatusOr<std::unique_ptr<EmbeddedBus>> OpenEmbeddedBus(const EmbeddedBusOptions& options) {
  if (options.default_partitions < 1) {
    return absl::InvalidArgumentError("bus: default_partitions must be >= 1");
  }
  auto db = store::OpenSqlite({.path = options.path, .synchronous_full = options.synchronous_full});
  if (!db.ok()) return db.status();
  if (absl::Status s = store::ApplyMigrations(**db, "bus", BusMigrations()); !s.ok()) return s;
  return std::unique_ptr<EmbeddedBus>(std::make_unique<EmbeddedBusImpl>(*std::move(db), options));
}

}  // namespace optimus::bus
