// Checkpoints: per target slot and user, the source state (instance id,
// generation) the replica's copy of the user is known to hold. A store sync
// skips a user whose checkpoint equals the source's listing, and asks for a
// delta since it otherwise; it writes one only after the user's files and
// renames are durable.
//
// Kept in the data path's RocksDB ("c/<slot>\n<user>" keys; state_db.h).
// Not synced: a checkpoint lost in a crash only costs a re-walk of the user.
//
// Thread-safe (RocksDB is). Does not own the database, which must outlive
// the store.
#ifndef SLOTKEEPER_REPLICATOR_SYNC_CHECKPOINT_STORE_H_
#define SLOTKEEPER_REPLICATOR_SYNC_CHECKPOINT_STORE_H_

#include <cstdint>
#include <optional>
#include <string>

#include "absl/status/status.h"

namespace rocksdb {
class DB;
}

namespace slotkeeper::sync {

class CheckpointStore {
 public:
  explicit CheckpointStore(rocksdb::DB* db) : db_(db) {}

  struct Checkpoint {
    std::string instance_id;
    uint64_t generation = 0;
  };

  // The user's checkpoint in `target_slot`; nullopt when there is none (or
  // it cannot be read).
  std::optional<Checkpoint> Get(const std::string& target_slot, const std::string& user);
  absl::Status Put(const std::string& target_slot, const std::string& user,
                   const Checkpoint& checkpoint);
  // Forgets every checkpoint of a slot (it was released or wiped).
  absl::Status Clear(const std::string& target_slot);

 private:
  rocksdb::DB* const db_;
};

}  // namespace slotkeeper::sync

#endif  // SLOTKEEPER_REPLICATOR_SYNC_CHECKPOINT_STORE_H_
