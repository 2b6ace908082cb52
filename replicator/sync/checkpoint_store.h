// Checkpoints: per target slot and user, the source state (instance id,
// source slot, generation) the replica's copy of the user is known to hold,
// and which copy holds it (the target slot's identity, slot_layout.h). A
// store sync skips a user whose checkpoint equals the source's listing, and
// asks for a delta since it otherwise, only when the checkpoint names the
// same source slot and the slot's current identity: a checkpoint of a copy
// that was emptied or replaced since says nothing about what is there now.
// It writes one only after the user's files and renames are durable.
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
    std::string instance_id;  // the source process's
    uint64_t generation = 0;
    std::string source_slot;
    std::string replica_identity;  // SlotIdentity::ToString() of the target

    // Whether it speaks of this source instance and slot and of this copy:
    // only then may its generation be compared with the source's.
    bool SameCopy(const std::string& source_instance, const std::string& source,
                  const std::string& identity) const {
      return instance_id == source_instance && source_slot == source &&
             replica_identity == identity;
    }
  };

  // The user's checkpoint in `target_slot`; nullopt when there is none (or
  // it cannot be read).
  std::optional<Checkpoint> Get(const std::string& target_slot, const std::string& user);
  absl::Status Put(const std::string& target_slot, const std::string& user,
                   const Checkpoint& checkpoint);
  // Forgets every checkpoint of a slot (it was released or wiped).
  absl::Status Clear(const std::string& target_slot);
  // Forgets one user's checkpoint (its next sync walks both trees).
  absl::Status Forget(const std::string& target_slot, const std::string& user);

 private:
  rocksdb::DB* const db_;
};

}  // namespace slotkeeper::sync

#endif  // SLOTKEEPER_REPLICATOR_SYNC_CHECKPOINT_STORE_H_
