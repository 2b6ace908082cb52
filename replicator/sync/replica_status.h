// Whether a replica is in sync, and how far behind it may be: a pure
// judgement over what its catch-up loop recorded, so that the rule is
// tested from literal cases.
//
// The rule: a replica is in sync only when, in this process, a catch-up of
// every user has completed (or a verification against its master passed),
// the newest finished cycle succeeded with nothing blocked, no verification
// has found it different since, its identity has not changed without a
// verification since, and the newest such success started at most
// `stale_after` ago. A fresh process (an agent restart) therefore starts out
// of sync whatever the disk holds; a source that fails, times out or hangs
// makes it out of sync within `stale_after` at the latest. While it is out
// of sync its lag is at least the time since that success started (since
// the assignment when there was none), so the lag keeps growing while the
// master cannot be reached.
#ifndef SLOTKEEPER_REPLICATOR_SYNC_REPLICA_STATUS_H_
#define SLOTKEEPER_REPLICATOR_SYNC_REPLICA_STATUS_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/time/time.h"

namespace slotkeeper::sync {

// What one replica's catch-up has achieved in this process. Times are the
// engine clock's monotonic time.
struct CatchUpRecord {
  absl::Duration assigned_at;
  // Start of the newest cycle that synced every user (or verification that
  // found no difference); nullopt: none yet.
  std::optional<absl::Duration> caught_up_at;
  // The newest finished cycle synced every user, none blocked.
  bool last_cycle_ok = false;
  // A verification found differences; cleared by one that finds none.
  bool verification_failed = false;
  // The slot's identity changed (slot_layout.h) and no full sync with a
  // verification has passed since: its content is unknown.
  bool identity_changed = false;
  // Lag the master's listing showed at the start of the newest cycle that
  // got one.
  int64_t listed_lag_ms = 0;
  int64_t last_success_ms = 0;  // wall clock of the newest completed cycle; 0: none
  std::string last_error;       // of the newest finished cycle or verification
  std::vector<std::string> blocked_users;
};

struct ReplicaVerdict {
  bool in_sync = false;
  int64_t lag_ms = 0;
  std::string why_not;  // empty when in sync
};

ReplicaVerdict JudgeReplica(const CatchUpRecord& record, absl::Duration now,
                            absl::Duration stale_after);

}  // namespace slotkeeper::sync

#endif  // SLOTKEEPER_REPLICATOR_SYNC_REPLICA_STATUS_H_
