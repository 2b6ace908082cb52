// QuarantineIndex: the list of what each slot's quarantine holds, with why
// (proto/peer.proto QuarantineItem), so that the quarantine can be listed,
// restored from and purged by age and size without walking it.
//
// Kept in the data path's RocksDB ("q/<slot>\n<item id>" keys, values
// sync_state.proto QuarantineRecord). The item id is the file's path below
// the slot's .quarantine directory ("DAY/USER/PATH[.N]"). The index is
// written right after the file has moved, not synced: a crash may lose the
// newest entries (their files stay on disk and are purged by age with their
// day directory), never invent one (an entry whose file is gone is dropped
// when it is read).
//
// Per-slot totals (items, bytes, unreconciled stranded messages) are kept in
// memory, counted from the database at a slot's first use and updated with
// every change, so that a health report costs no database scan.
//
// Thread-safe. Does not own the database, which must outlive the index.
#ifndef SLOTKEEPER_REPLICATOR_SYNC_QUARANTINE_INDEX_H_
#define SLOTKEEPER_REPLICATOR_SYNC_QUARANTINE_INDEX_H_

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "replicator/sync/sync_state.pb.h"

namespace rocksdb {
class DB;
}

namespace slotkeeper::sync {

// Reasons a file is quarantined (QuarantineItem.reason).
inline constexpr char kReasonRemoved[] = "removed";          // gone from the master
inline constexpr char kReasonOverwritten[] = "overwritten";  // replaced by other content
inline constexpr char kReasonReleased[] = "released";        // the slot left the store
inline constexpr char kReasonCorrupt[] = "corrupt";          // a scrub found it bad
inline constexpr char kReasonStranded[] = "stranded";        // an old master's message
// A temporary file of an interrupted sync (never a copy of mail by itself).
inline constexpr char kReasonLeftover[] = "leftover";

struct QuarantineTotals {
  uint64_t items = 0;
  uint64_t bytes = 0;
  uint64_t stranded = 0;  // stranded and not reconciled
};

class QuarantineIndex {
 public:
  explicit QuarantineIndex(rocksdb::DB* db) : db_(db) {}

  absl::Status Put(const std::string& slot, const QuarantineRecord& record);
  // Drops entries (their files were removed); unknown ids are ignored.
  absl::Status Remove(const std::string& slot, const std::vector<std::string>& ids);
  std::optional<QuarantineRecord> Get(const std::string& slot, const std::string& id);
  // Every entry of the slot (or of one user, `user` not empty) in id order
  // (day, then user, then path), each handed to `visit`; false from it stops.
  void ForEach(const std::string& slot, const std::string& user,
               const std::function<bool(const QuarantineRecord&)>& visit);
  // Marks stranded messages reconciled (the master holds them again).
  absl::Status MarkReconciled(const std::string& slot, const std::vector<std::string>& ids);
  QuarantineTotals Totals(const std::string& slot);
  // Forgets every entry of the slot.
  absl::Status Clear(const std::string& slot);

 private:
  // The slot's totals, counted from the database on first use.
  QuarantineTotals& TotalsLocked(const std::string& slot) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void CountLocked(const QuarantineRecord& record, int sign, QuarantineTotals* totals)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  rocksdb::DB* const db_;
  absl::Mutex mu_;  // serialises writes with the totals
  std::map<std::string, QuarantineTotals> totals_ ABSL_GUARDED_BY(mu_);
};

}  // namespace slotkeeper::sync

#endif  // SLOTKEEPER_REPLICATOR_SYNC_QUARANTINE_INDEX_H_
