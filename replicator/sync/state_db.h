// The data path's RocksDB: hash caches ("h/" keys) and checkpoints ("c/").
// It lives in the agent's data dir (or slotsync's --state dir).
#ifndef SLOTKEEPER_REPLICATOR_SYNC_STATE_DB_H_
#define SLOTKEEPER_REPLICATOR_SYNC_STATE_DB_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "rocksdb/db.h"

namespace slotkeeper::sync {

// Opens (creating) the database in directory `dir`. FAILED_PRECONDITION
// when another process holds it.
absl::StatusOr<std::unique_ptr<rocksdb::DB>> OpenStateDb(const std::string& dir);

// Opens an existing database read-only: no recovery writes, no fsync, so a
// "nothing changed" check costs almost nothing. NOT_FOUND when there is none.
absl::StatusOr<std::unique_ptr<rocksdb::DB>> OpenStateDbReadOnly(const std::string& dir);

}  // namespace slotkeeper::sync

#endif  // SLOTKEEPER_REPLICATOR_SYNC_STATE_DB_H_
