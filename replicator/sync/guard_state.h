// The mass-deletion guard: whether a user's sync may remove (or rewrite)
// what it plans to, judged against what the replica held recently; and the
// guard's memory of each user (GuardStore).
//
// A plan's removals are the Maildir messages it moves aside: gone from the
// master, or with other content under the same path or the same unique
// name (a rewrite loses the old content as surely as a deletion). They are
// added to the removals of earlier syncs within a sliding window (a day by
// default) and compared with the high-water mark of the user's message
// count over that window, so deleting 2% a minute is caught when the sum
// passes the share, not only a single big step. A user is blocked when
// that sum is more than `max_removal_share` of the high-water mark and at
// least `min_removals_to_block` (2 by default: removing one message, the
// commonest thing a user does, is never a mass deletion, while 11 -> 2 or
// 3 -> 1 is; small mailboxes are protected by the share like large ones).
//
// A blocked user stays blocked, across syncs and restarts, until an operator
// unblocks it: the next sync then applies whatever the master says, once,
// and the window starts again from that sync.
//
// JudgeRemovals and RecordSync are pure. GuardStore keeps the records in the
// data path's RocksDB ("g/<slot>\n<user>", sync_state.proto GuardRecord);
// thread-safe; does not own the database.
#ifndef SLOTKEEPER_REPLICATOR_SYNC_GUARD_STATE_H_
#define SLOTKEEPER_REPLICATOR_SYNC_GUARD_STATE_H_

#include <cstdint>
#include <functional>
#include <map>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "replicator/sync/sync_state.pb.h"

namespace rocksdb {
class DB;
}

namespace slotkeeper::sync {

struct GuardOptions {
  double max_removal_share = 0.10;
  uint64_t min_removals_to_block = 2;
  absl::Duration window = absl::Hours(24);
};

// One planned sync of a user, as the guard sees it.
struct GuardInput {
  uint64_t removals = 0;         // messages the plan moves aside
  uint64_t messages_before = 0;  // messages the replica holds now
  uint64_t messages_after = 0;   // messages it will hold (0: not known)
};

struct GuardVerdict {
  bool blocked = false;
  std::string reason;  // with the evidence, when blocked
};

// Whether the plan must not be applied. `record` is the user's memory (its
// blocked flag is not looked at here); `now_ms` the engine wall clock.
GuardVerdict JudgeRemovals(const GuardOptions& options, const GuardRecord& record, int64_t now_ms,
                           const GuardInput& input);

// The user's record after an applied sync: the removals and message counts
// added to the current hour, hours that left the window dropped.
GuardRecord RecordSync(const GuardOptions& options, GuardRecord record, int64_t now_ms,
                       const GuardInput& input);

// The highest message count within the window (0: no record).
uint64_t HighWaterMark(const GuardOptions& options, const GuardRecord& record, int64_t now_ms);

class GuardStore {
 public:
  explicit GuardStore(rocksdb::DB* db) : db_(db) {}

  GuardRecord Get(const std::string& slot, const std::string& user);
  // Applies `change` to the user's record and writes it (synced when
  // `durable`: a block and an unblock must survive a crash; the window's
  // counts may be lost); one change at a time, so a sync's update never
  // undoes an operator's Unblock.
  absl::Status Update(const std::string& slot, const std::string& user, bool durable,
                      const std::function<void(GuardRecord*)>& change);
  // Users of the slot the guard holds blocked, with why.
  std::map<std::string, std::string> Blocked(const std::string& slot);
  // Lets the next sync of a blocked user apply once; nothing for a user
  // that is not blocked.
  absl::Status Unblock(const std::string& slot, const std::string& user);
  // Forgets the slot's records (it was released).
  absl::Status Clear(const std::string& slot);

 private:
  rocksdb::DB* const db_;
  absl::Mutex mu_;  // serialises read-modify-write
};

}  // namespace slotkeeper::sync

#endif  // SLOTKEEPER_REPLICATOR_SYNC_GUARD_STATE_H_
