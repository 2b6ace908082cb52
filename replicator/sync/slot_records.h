// SlotRecords: what the data path remembers about each of its host's slots
// across restarts (sync_state.proto SlotRecord, "s/<slot>" keys in the data
// path's RocksDB): the slot's accepted identity and whether a verification
// is pending, whether it serves as master and since when, whether its next
// catch-up must look for stranded mail, and the scrub's figures.
//
// Thread-safe: every update is a read-modify-write under one lock, so two
// threads changing different fields of one slot's record never lose either
// change. Does not own the database, which must outlive it.
#ifndef SLOTKEEPER_REPLICATOR_SYNC_SLOT_RECORDS_H_
#define SLOTKEEPER_REPLICATOR_SYNC_SLOT_RECORDS_H_

#include <functional>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "replicator/sync/sync_state.pb.h"

namespace rocksdb {
class DB;
}

namespace slotkeeper::sync {

class SlotRecords {
 public:
  explicit SlotRecords(rocksdb::DB* db) : db_(db) {}

  // The slot's record; an empty one when there is none (or it cannot be
  // read).
  SlotRecord Get(const std::string& slot);
  // Applies `change` to the slot's record and writes it (synced: a lost
  // "verification pending" would let a wiped replica count as in sync).
  absl::Status Update(const std::string& slot, const std::function<void(SlotRecord*)>& change);

 private:
  rocksdb::DB* const db_;
  absl::Mutex mu_;  // serialises read-modify-write
};

}  // namespace slotkeeper::sync

#endif  // SLOTKEEPER_REPLICATOR_SYNC_SLOT_RECORDS_H_
