// Embedded bus on SQLite: topics, partitioned records, group positions.
#include "optimus/bus/embedded_bus.h"

#include <chrono>
#include <map>
#include <mutex>

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

  // The partition count of `topic`, creating it inside `tx` when it does not exist.
  absl::StatusOr<int> Partitions(Transaction& tx, const std::string& topic, int create_with = 0) {
    {
      std::lock_guard lock(mu_);
      if (auto it = cache_.find(topic); it != cache_.end()) return it->second;
    }
    auto created = tx.Execute(
        "INSERT INTO bus_topics (name, partitions) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING",
        {topic, static_cast<int64_t>(create_with > 0 ? create_with : default_partitions_)});
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
            "INSERT INTO bus_records (topic, part, offs, msg_key, payload, headers, ts_ms)"
            " VALUES ($1, $2, $3, $4, $5, $6, $7)",
            {m.topic, static_cast<int64_t>(part), it->second++, m.key, store::Blob{m.payload},
             store::Blob{EncodeHeaders(m.headers)}, now});
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
  // across partitions so one busy partition does not starve the others.
  absl::StatusOr<std::vector<Message>> Fetch(size_t max_messages) {
    std::vector<Message> out;
    const size_t per_partition = std::max<size_t>(1, max_messages / positions_.size());
    absl::Status status = topics_->db().InReadTransaction([&](Transaction& tx) -> absl::Status {
      for (auto& [where, position] : positions_) {
        if (out.size() >= max_messages) break;
        const auto limit = std::min(per_partition, max_messages - out.size());
        auto rows = tx.Execute(
            "SELECT offs, msg_key, payload, headers, ts_ms FROM bus_records"
            " WHERE topic = $1 AND part = $2 AND offs >= $3 ORDER BY offs LIMIT $4",
            {where.first, static_cast<int64_t>(where.second), position,
             static_cast<int64_t>(limit)});
        if (!rows.ok()) return rows.status();
        for (const store::Row& row : rows->rows) {
          Message m;
          m.topic = where.first;
          m.partition = where.second;
          m.offset = row.Int(0);
          m.key = row.Text(1);
          m.payload = row.Text(2);
          auto headers = DecodeHeaders(row.Text(3));
          if (!headers.ok()) {
            return absl::DataLossError(absl::StrCat("bus: record ", where.first, "/", where.second,
                                                    "/", m.offset, ": ",
                                                    headers.status().message()));
          }
          m.headers = *std::move(headers);
          m.timestamp_ms = row.Int(4);
          position = m.offset + 1;
          out.push_back(std::move(m));
        }
      }
      return absl::OkStatus();
    });
    if (!status.ok()) return status;
    return out;
  }

  std::shared_ptr<Topics> topics_;
  std::string group_;
  int poll_interval_ms_;
  std::map<std::pair<std::string, int>, int64_t> positions_;
};

class EmbeddedBus : public Bus {
 public:
  EmbeddedBus(std::unique_ptr<Database> db, EmbeddedBusOptions options)
      : db_(std::move(db)),
        options_(std::move(options)),
        topics_(std::make_shared<Topics>(*db_, options_.default_partitions)) {}

  absl::StatusOr<std::unique_ptr<Publisher>> NewPublisher() override {
    return std::unique_ptr<Publisher>(std::make_unique<EmbeddedPublisher>(topics_));
  }

  absl::StatusOr<std::unique_ptr<Consumer>> NewConsumer(const std::string& group) override {
    if (group.empty()) return absl::InvalidArgumentError("bus: consumer group is empty");
    return std::unique_ptr<Consumer>(
        std::make_unique<EmbeddedConsumer>(topics_, group, options_.poll_interval_ms));
  }

  absl::Status EnsureTopic(const std::string& topic, int partitions) override {
    if (topic.empty()) return absl::InvalidArgumentError("bus: topic name is empty");
    if (partitions < 1) return absl::InvalidArgumentError("bus: partitions must be >= 1");
    return db_->InTransaction([&](Transaction& tx) -> absl::Status {
      return topics_->Partitions(tx, topic, partitions).status();
    });
  }

 private:
  std::unique_ptr<Database> db_;
  EmbeddedBusOptions options_;
  std::shared_ptr<Topics> topics_;
};

}  // namespace

absl::StatusOr<std::unique_ptr<Bus>> OpenEmbeddedBus(const EmbeddedBusOptions& options) {
  if (options.default_partitions < 1) {
    return absl::InvalidArgumentError("bus: default_partitions must be >= 1");
  }
  auto db = store::OpenSqlite({.path = options.path, .synchronous_full = options.synchronous_full});
  if (!db.ok()) return db.status();
  if (absl::Status s = store::ApplyMigrations(**db, "bus", BusMigrations()); !s.ok()) return s;
  return std::unique_ptr<Bus>(std::make_unique<EmbeddedBus>(*std::move(db), options));
}

}  // namespace optimus::bus
