// The engine's background care of its host's slots, every `tick`:
//   - the message index and deletion log (deletion_log.h): each user whose
//     generation changed (the source side's change tracker) has its Maildir
//     unique names observed; on a master slot, names gone are logged as
//     deleted. Replicas are observed too, so that a replica promoted to
//     master has its baseline already;
//   - stranded messages a slot holds in its quarantine whose names its
//     mailbox holds again (the new master reconciled them and this slot
//     synced them back) are marked reconciled;
//   - a master slot's identity (slot_layout.h): the instance file is
//     written if missing, and a change behind the agent's back is recorded
//     (SlotRecord.verify_pending: reported as identity_changed);
//   - every `purge_interval`, the quarantine is purged to its caps
//     (quarantine_purge.h).
// Everything it does is local disk and database work; on a read-only
// filesystem the writes fail and are logged, the rest goes on.
//
// Thread-safety: every method from any thread; rounds run one at a time.
#ifndef SLOTKEEPER_REPLICATOR_SYNC_MAINTENANCE_H_
#define SLOTKEEPER_REPLICATOR_SYNC_MAINTENANCE_H_

#include <cstdint>
#include <map>
#include <string>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "base/clock.h"
#include "replicator/sync/change_tracker.h"
#include "replicator/sync/deletion_log.h"
#include "replicator/sync/quarantine_index.h"
#include "replicator/sync/quarantine_purge.h"
#include "replicator/sync/slot_records.h"
#include "replicator/sync/slot_roots.h"
#include "replicator/sync/target_fs.h"

namespace slotkeeper::sync {

struct MaintenanceOptions {
  absl::Duration tick = absl::Seconds(10);
  absl::Duration purge_interval = absl::Minutes(10);
  int quarantine_keep_days = 14;
  int quarantine_min_keep_days = 7;
  // Share of a slot's capacity its quarantine may take (0: no size cap).
  double quarantine_max_share = 0.1;
  // Slot capacities in bytes (slot name -> bytes); a slot without one (or
  // 0) counts its filesystem's size.
  std::map<std::string, uint64_t> capacity_bytes;
};

// The objects it works with. Nothing is owned; all must outlive it.
struct MaintenanceDeps {
  SlotRoots* slots = nullptr;
  SlotRecords* records = nullptr;
  QuarantineIndex* quarantine = nullptr;
  DeletionLog* deletion_log = nullptr;
  ChangeTracker* tracker = nullptr;
  Clock* clock = nullptr;
  TargetFs* fs = nullptr;
};

class Maintenance {
 public:
  Maintenance(MaintenanceDeps deps, MaintenanceOptions options);
  ~Maintenance();  // Stop()

  void Start();
  // Ends the thread (waits for the round in progress).
  void Stop();
  // Starts a round now (a slot was promoted: its deletion log needs its
  // baseline).
  void Wake();
  // One round over every slot, on the caller's thread. `purge`: also purge
  // the quarantines (else as their interval says).
  void RunOnce(bool purge = false);
  // Brings the message index and deletion log of `slot` up to date now, on
  // the caller's thread (before the log is served or used: a deletion made
  // since the last round counts).
  void IndexNow(const std::string& slot);

 private:
  void Loop();
  // The message index of the slot's changed users; on a master, deletions
  // logged; stranded messages back in the mailbox marked reconciled.
  void IndexSlot(const std::string& slot, int root, bool master)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(round_mu_);
  void CheckMasterIdentity(const std::string& slot, int root);
  void Purge(const std::string& slot, int root);

  const MaintenanceDeps deps_;
  const MaintenanceOptions options_;
  absl::Mutex round_mu_;  // one round at a time (the thread's, RunOnce's)
  // Per slot and user ("slot\nuser"), the generation last indexed.
  std::map<std::string, uint64_t> indexed_ ABSL_GUARDED_BY(round_mu_);
  std::map<std::string, absl::Duration> last_purge_ ABSL_GUARDED_BY(round_mu_);

  absl::Mutex mu_;
  bool stop_ ABSL_GUARDED_BY(mu_) = false;
  bool wake_ ABSL_GUARDED_BY(mu_) = false;
  std::thread thread_;
};

}  // namespace slotkeeper::sync

#endif  // SLOTKEEPER_REPLICATOR_SYNC_MAINTENANCE_H_
