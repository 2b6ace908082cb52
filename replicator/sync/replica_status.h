// What a replica's catch-up records, and whether the replica is in sync
// and how far behind it may be: pure functions over that record, so that
// the rules are tested from literal cases.
//
// With push replication, a live change feed that has everything it
// announced up to a moment durable here stands for a catch-up completed at
// that moment, and the lag is the age of the oldest announced change not
// yet durable (0 when none).
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

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "proto/peer.pb.h"
#include "replicator/sync/verify.h"

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
  // Push replication (change_follower.h), as the loop's follower sees it
  // when the record is read: "push", "poll" or "batch"; with a live feed,
  // the moment up to which every announced change is durable here and the
  // date of the oldest that is not (engine monotonic).
  std::string feed = "poll";
  bool feed_live = false;
  std::optional<absl::Duration> feed_caught_up_to;
  std::optional<absl::Duration> feed_oldest_pending;
};

// How one catch-up cycle ended (catch_up_cycle.h).
struct CycleOutcome {
  absl::Duration started;   // engine monotonic clock
  int64_t finished_ms = 0;  // engine wall clock
  // The store sync, or what kept it from running (the slot's root, its
  // identity).
  absl::Status sync = absl::UnknownError("no cycle");
  // The lag the master's listing showed (also when the sync failed later).
  int64_t lag_ms = 0;
  std::vector<std::string> blocked_users;
  // The verification after an identity change; OK when none ran.
  absl::Status verified;
  // The identity changed and no verification has passed since.
  bool verify_pending = false;
  // What the sync moved: bytes received from the master, files copied.
  uint64_t bytes_received = 0;
  uint64_t files_copied = 0;
  // A whole catch-up (the master listed), not only the users its change
  // feed announced.
  bool full = true;
  // The users this cycle synced, at these generations (the master's
  // listing, or the announced batch); set only when the sync completed.
  v1::ListUsersResponse synced;
};

// Every catch-up cycle of this engine's loops since it started, for metrics:
// cycles by outcome, what they moved and how long they took.
struct CatchUpTotals {
  uint64_t cycles_ok = 0;
  uint64_t cycles_failed = 0;
  uint64_t bytes_received = 0;
  uint64_t files_copied = 0;
  double seconds = 0;        // engine monotonic clock, summed over cycles
  uint64_t push_cycles = 0;  // of those, cycles of pushed users only
};

// Records a finished cycle: its error (the sync's, else the guard's, else
// the verification's), the listed lag (kept at its largest while cycles
// fail), and the start of a complete cycle as the newest catch-up.
void RecordCycle(const CycleOutcome& outcome, CatchUpRecord* record);

// Records a task's verification of the replica against its master, started
// at `started`: one that found no difference counts as a catch-up; one
// that found some holds the replica out of sync until one finds none.
void RecordVerification(const VerifyReport& report, absl::Duration started, CatchUpRecord* record);

// How a final pull into a replica slot ended (engine.h FinalPull), as the
// slot's resumed loop records it.
struct FinalPullOutcome {
  absl::Duration started;   // engine monotonic clock
  int64_t finished_ms = 0;  // engine wall clock
  absl::Status pull = absl::UnknownError("no pull");
  std::string source_slot;
  // The slot's identity changed and no verification has passed since.
  bool verify_pending = false;
  // What the loop paused for the pull had recorded of verifications.
  bool verification_failed = false;
};

// Records a final pull into the record of the loop that resumed after it,
// which follows `followed_slot`: a complete pull from that slot, with no
// verification pending, is a complete catch-up as of the pull's start (the
// coordinator that asked for the pull promotes the best copy, and this one
// must not look worse for having pulled). A record that already has a
// catch-up, or any other pull, is left as it is.
void RecordFinalPull(const FinalPullOutcome& outcome, const std::string& followed_slot,
                     CatchUpRecord* record);

struct ReplicaVerdict {
  bool in_sync = false;
  int64_t lag_ms = 0;
  std::string why_not;  // empty when in sync
};

ReplicaVerdict JudgeReplica(const CatchUpRecord& record, absl::Duration now,
                            absl::Duration stale_after);

}  // namespace slotkeeper::sync

#endif  // SLOTKEEPER_REPLICATOR_SYNC_REPLICA_STATUS_H_
