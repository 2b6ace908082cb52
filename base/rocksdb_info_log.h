// Bounds on RocksDB's info log (the LOG and LOG.old.* files RocksDB writes
// into a database's directory), shared by the coordinator's state store and
// the agent's data-path database. Left alone, RocksDB keeps every LOG.old.*
// (one per open, and one per roll) and lets LOG grow without limit: on a
// daemon that runs for months that fills the state directory.
//
// Only the info log is bounded here. `recycle_log_file_num` (reusing write-
// ahead-log files) is deliberately not set: it concerns the WAL, not these
// logs, and changes how a crash is recovered.
#ifndef SLOTKEEPER_BASE_ROCKSDB_INFO_LOG_H_
#define SLOTKEEPER_BASE_ROCKSDB_INFO_LOG_H_

#include <cstddef>

#include "rocksdb/options.h"

namespace slotkeeper {

struct InfoLogLimits {
  size_t keep_files;      // LOG plus LOG.old.* kept (keep_log_file_num)
  size_t max_file_bytes;  // LOG rolls to LOG.old.* past this (max_log_file_size)
};

// The coordinator's state store: its log is the one operators read after a
// storage problem, so a little more of it is kept.
inline constexpr InfoLogLimits kCoordinatorInfoLog = {5, 16 << 20};
// The agent's data-path database.
inline constexpr InfoLogLimits kAgentInfoLog = {2, 4 << 20};

// Sets keep_log_file_num, max_log_file_size and a size-only roll
// (log_file_time_to_roll = 0) on `options`.
void BoundInfoLog(const InfoLogLimits& limits, rocksdb::DBOptions& options);

}  // namespace slotkeeper

#endif  // SLOTKEEPER_BASE_ROCKSDB_INFO_LOG_H_
