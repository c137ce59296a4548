// Execution logs as chunk objects (see log_store.h).
#include "optimus/dispatcher/log_store.h"

#include <chrono>
#include <cstdio>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace optimus::dispatcher {

std::string LogStore::ChunkKey(const core::v1::Execution& e, int32_t attempt, int64_t chunk) {
  char number[24];
  std::snprintf(number, sizeof number, "%010lld", static_cast<long long>(chunk));
  // `<attempt>-<chunk>` in the execution's folder: a run's log makes one object, not a folder
  // per attempt as well (on a file store, a new inode costs more than the write).
  return absl::StrCat(e.log_prefix(), attempt, "-", number);
}

absl::Status LogStore::Append(const core::v1::Execution& e, int64_t chunk,
                              const std::string& data) {
  if (chunk < 1 || chunk > 9999999999) {
    return absl::InvalidArgumentError("log chunks are numbered from 1, got " +
                                      std::to_string(chunk));
  }
  if (data.size() > kMaxChunkBytes) {
    return absl::InvalidArgumentError("a log chunk holds at most 1 MiB, got " +
                                      std::to_string(data.size()) + " bytes");
  }
  if (absl::Status s = blob_.PutUnsynced(ChunkKey(e, e.attempt(), chunk), data); !s.ok()) {
    return s;
  }
  const int64_t now = std::chrono::duration_cast<std::chrono::milliseconds>(
                          std::chrono::steady_clock::now().time_since_epoch())
                          .count();
  int64_t last = synced_ms_.load();
  if (now - last >= 1000 && synced_ms_.compare_exchange_strong(last, now)) return blob_.Sync();
  return absl::OkStatus();
}

absl::StatusOr<LogRead> LogStore::Read(const core::v1::Execution& e, int32_t attempt,
                                       int64_t after_chunk, size_t max_bytes) {
  LogRead out;
  out.attempt = attempt > 0 ? attempt : e.attempt();
  out.last_chunk = after_chunk;
  std::string prefix = absl::StrCat(e.log_prefix(), out.attempt, "-");
  auto objects = blob_.List(prefix);
  if (objects.ok() && objects->empty()) {
    // As earlier versions wrote them: `<attempt>/<chunk>`.
    prefix = absl::StrCat(e.log_prefix(), out.attempt, "/");
    objects = blob_.List(prefix);
  }
  if (!objects.ok()) return objects.status();
  for (const auto& object : *objects) {
    int64_t chunk = 0;
    if (!absl::SimpleAtoi(object.key.substr(prefix.size()), &chunk) || chunk <= after_chunk) {
      continue;
    }
    if (!out.data.empty() && out.data.size() + static_cast<size_t>(object.size) > max_bytes) break;
    auto content = blob_.Get(object.key);
    if (!content.ok()) return content.status();
    out.data += *content;
    out.last_chunk = chunk;
  }
  return out;
}

}  // namespace optimus::dispatcher
