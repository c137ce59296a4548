// Execution logs in the object store: each chunk an executor sends is one object,
// <log prefix><attempt>/<chunk, 10 digits>, written whole (a chunk cut off by a crash is never
// seen in part), so a run's log is readable while it is going and survives its executor.
// Chunks are flushed to disk together at most once a second (a file store fsyncing each chunk
// was a tenth of the server's CPU under many short runs): a power failure may lose the last
// second of logs, never a chunk in part; a crash of the server loses nothing.
#pragma once

#include <atomic>
#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "optimus/blob/blob_store.h"
#include "optimus/core/v1/dispatch.pb.h"

namespace optimus::dispatcher {

inline constexpr size_t kMaxChunkBytes = 1 << 20;

struct LogRead {
  std::string data;
  int64_t last_chunk = 0;
  int32_t attempt = 0;
};

class LogStore {
 public:
  explicit LogStore(blob::BlobStore& blob) : blob_(blob) {}

  // Writes chunk `chunk` (1, 2, ...) of the execution's current attempt; sending it again
  // replaces it. InvalidArgument for a chunk number below 1 or data over 1 MiB.
  absl::Status Append(const core::v1::Execution& e, int64_t chunk, const std::string& data);

  // The chunks after `after_chunk` of `attempt` (0: the execution's current one), up to about
  // `max_bytes` (whole chunks; at least one).
  absl::StatusOr<LogRead> Read(const core::v1::Execution& e, int32_t attempt, int64_t after_chunk,
                               size_t max_bytes = 4 << 20);

  static std::string ChunkKey(const core::v1::Execution& e, int32_t attempt, int64_t chunk);

 private:
  blob::BlobStore& blob_;
  std::atomic<int64_t> synced_ms_{0};  // steady clock, when chunks were last flushed
};

}  // namespace optimus::dispatcher
