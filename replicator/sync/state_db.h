// The data path's RocksDB: hash caches ("h/" keys, hash_cache.h) and
// checkpoints ("c/" keys, checkpoint_store.h). It lives in the agent's data
// dir (or slotsync's --state dir). One process at a time holds it; within
// the process the handle is thread-safe.
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

}  // namespace slotkeeper::sync

#endif  // SLOTKEEPER_REPLICATOR_SYNC_STATE_DB_H_
