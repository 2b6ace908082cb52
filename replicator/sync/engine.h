// SyncEngine: the data path as the agent (replicatord) uses it.
//
// One engine per agent process. It owns the data path's RocksDB (hash caches
// and checkpoints, in `data_dir`), serves ReplicaPeer for the host's slots,
// runs replication tasks (full re-replication, catch-up, verification), keeps
// rolling catch-up loops for the slots this host holds replicas in, and
// reports their state.
//
//   auto engine = SyncEngine::Create(data_dir, {{"slot3", "/srv/u1/slot3"}},
//                                    RealClock(), DefaultTargetFs(),
//                                    EngineOptions());
//   grpc::ServerBuilder b; (*engine)->RegisterService(&b);
//   (*engine)->StartTask("t-17", v1::TASK_RE_REPLICATE, "store-a", "slot3",
//                        "10.0.0.4:7001", "slot1", on_progress, on_done);
//   (*engine)->AssignReplica("slot3", "store-a", "10.0.0.4:7001", "slot1");
//
// Threads: each task and each replica catch-up loop runs on a thread of its
// own; callbacks are called from those threads (never with an engine lock
// held) and must be quick. Every public method is thread-safe. Like the
// clock (intervals, quarantine dates, rates), the filesystem seam every write
// into a replica slot goes through (target_fs.h) is injected.
//
// Never waiting on a source: the agent calls this engine with its own locks
// held (a slot's lock during promotion, demotion and fencing), so no public
// method waits for a source or for a sync thread's RPC, except the three
// commands that exist to wait for one (FinalPull, RestoreQuarantined,
// Reconcile), which the agent calls under no slot lock and which end within
// their budget or the peer time limits. Stopping work
// (CancelTask, UnassignReplica, StopPulling, AssignReplica replacing a loop)
// only signals it and returns; the work's calls in flight are cancelled
// within about 100 ms (peer_client.h) and its thread winds down on its own.
// Two methods wait for threads, bounded by options.wind_down_timeout (real
// time) and never for a source: ReleaseSlot (nothing may still write into
// the slot it empties) and Stop. A loop that replaces another on the same
// slot starts copying once the old one has ended; a task may copy into a
// slot beside its loop.
//
// Source-side generations come from recursive inotify watches (scan
// fallback, periodic full scan); the same events give delta manifests ("what
// changed since generation G"), used by catch-ups when
// options.sync.user.use_delta is set, so that an incremental sync looks at
// the changed paths only. An interrupted transfer resumes within the file
// at the next attempt (fetch.h).
//
// Data safety, per slot:
//   - identity (slot_layout.h): every catch-up cycle first compares the
//     replica slot's identity with the one recorded; a change (the slot
//     emptied, replaced or mounted over) voids its checkpoints and hash
//     cache entries and keeps it out of sync until a full sync and a
//     verification against the master pass (identity_changed meanwhile);
//   - roles: OnRoleChanged(MASTER) starts the slot's deletion log; a slot
//     that was master and becomes a replica looks for stranded mail in its
//     first complete catch-up (those of its messages the new master lacks
//     and does not list as deleted go to its quarantine as "stranded");
//   - the scrub (scrub_runner.h) and the maintenance round
//     (maintenance.h: message index, deletion log, quarantine purge, a
//     master's identity) run on threads of their own; a corrupt file found
//     on a replica is moved aside and fetched again at the next catch-up;
//   - FinalPull here; the operator's other commands (UnblockUser,
//     PurgeQuarantine, RestoreQuarantined, Reconcile) through safety()
//     (safety_commands.h).
#ifndef SLOTKEEPER_REPLICATOR_SYNC_ENGINE_H_
#define SLOTKEEPER_REPLICATOR_SYNC_ENGINE_H_

#include <grpcpp/grpcpp.h>

#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "base/clock.h"
#include "proto/model.pb.h"
#include "replicator/sync/checkpoint_store.h"
#include "replicator/sync/deletion_log.h"
#include "replicator/sync/guard_state.h"
#include "replicator/sync/maintenance.h"
#include "replicator/sync/peer_service.h"
#include "replicator/sync/quarantine_index.h"
#include "replicator/sync/replica_status.h"
#include "replicator/sync/safety_commands.h"
#include "replicator/sync/safety_source.h"
#include "replicator/sync/scrub_runner.h"
#include "replicator/sync/slot_records.h"
#include "replicator/sync/slot_roots.h"
#include "replicator/sync/store_sync.h"
#include "replicator/sync/verify.h"

namespace slotkeeper::sync {

struct EngineOptions {
  StoreSyncOptions sync;  // per task / catch-up cycle
  PeerTimeouts peer;      // every call to a source (peer_client.h)
  absl::Duration catch_up_interval = absl::Seconds(5);
  // A replica whose newest completed catch-up started longer ago than this
  // is not in sync (replica_status.h). Longer than catch_up_interval.
  absl::Duration stale_after = absl::Seconds(30);
  absl::Duration full_scan_interval = absl::Minutes(10);  // source side
  // The maintenance round (quarantine caps, message index) and the scrub.
  // The scrub is off unless enabled (the agent enables it by default).
  MaintenanceOptions maintenance;
  ScrubRunnerOptions scrub = {/*enabled=*/false};
  // Longest final pull when the command gives no time.
  absl::Duration final_pull_default = absl::Seconds(30);
  // How long ReleaseSlot and Stop wait for stopped work to end (its calls are
  // cancelled at once; what remains is local disk work).
  absl::Duration wind_down_timeout = absl::Seconds(5);
  // Who may read the slots through the peer service (not owned; null:
  // everyone, for tools and tests).
  const PeerAuthorizer* authorizer = nullptr;
};

// The outcome of a task, as the agent reports it (agent.proto TaskUpdate).
struct TaskOutcome {
  std::string task_id;
  v1::TaskState state = v1::TASK_STATE_UNSPECIFIED;  // DONE / FAILED / ...
  v1::TaskProgress progress;
  std::string error;
  bool verified = false;  // content hashes compared with the source
  std::vector<std::string> blocked_users;
};

// One slot's replication and data-safety state: a replica's rolling
// replication, or a master's (role SLOT_MASTER: only the data-safety
// fields).
struct ReplicaState {
  std::string slot;
  std::string store;
  v1::SlotRole role = v1::SLOT_REPLICA;
  std::string master_address;
  std::string master_slot;
  // In sync: the age of the oldest change the master had not yet given this
  // replica at the start of the newest cycle (master clock; 0 when none).
  // Otherwise at least the time since the newest completed catch-up started
  // (since the assignment when none): it grows while the master cannot be
  // reached.
  int64_t lag_ms = 0;
  // Engine wall clock when the newest cycle completed; 0: none in this
  // process.
  int64_t last_success_ms = 0;
  // replica_status.h: caught up in this process, the newest cycle complete,
  // recently, nothing blocked, no difference found by a verification.
  bool in_sync = false;
  std::string last_error;  // why it is not in sync; empty when it is
  // Users the mass-deletion guard holds (until UnblockUser), with why.
  std::vector<std::string> blocked_users;
  v1::ScrubStatus scrub;
  uint64_t quarantine_items = 0;
  uint64_t quarantine_bytes = 0;
  uint64_t stranded_messages = 0;  // not yet reconciled
  // The slot's identity changed behind the agent's back: its content is
  // unknown until a full sync and a verification pass.
  bool identity_changed = false;
};

class SyncEngine {
 public:
  using ProgressCallback = std::function<void(const std::string& task_id, const v1::TaskProgress&)>;
  using DoneCallback = std::function<void(const TaskOutcome&)>;

  // `slots`: this host's slot name -> absolute directory. `clock` and `fs`
  // (every write the engine makes into a replica slot; DefaultTargetFs()
  // outside tests) are not owned and must outlive the engine. Fails if the
  // database cannot be opened (another process holds it) or a slot path is
  // not absolute.
  static absl::StatusOr<std::unique_ptr<SyncEngine>> Create(
      const std::string& data_dir, std::map<std::string, std::string> slots, Clock* clock,
      TargetFs* fs, EngineOptions options);
  // Stop(), then waits for whatever still runs.
  ~SyncEngine();

  // Adds the ReplicaPeer service (source side) to the agent's server. The
  // engine must outlive the server.
  void RegisterService(grpc::ServerBuilder* builder);

  // Starts a task on this host as the target: TASK_RE_REPLICATE and
  // TASK_CATCH_UP copy `store` from `source_address`/`source_slot` into
  // `target_slot` (resuming from checkpoints), then verify by content hash;
  // TASK_VERIFY only compares. ALREADY_EXISTS for a running task id,
  // NOT_FOUND for an unknown slot, INVALID_ARGUMENT for bad input.
  absl::Status StartTask(const std::string& task_id, v1::TaskKind kind, const std::string& store,
                         const std::string& target_slot, const std::string& source_address,
                         const std::string& source_slot, ProgressCallback on_progress,
                         DoneCallback on_done);
  // Asks a running task to stop and returns; its calls in flight are
  // cancelled and its DoneCallback reports CANCELLED. NOT_FOUND when no such
  // task runs.
  absl::Status CancelTask(const std::string& task_id);

  // This host's `slot` is a replica of `store` whose master is
  // `master_address`/`master_slot`: keep catching up every
  // catch_up_interval. Replaces a different assignment of the slot (the old
  // loop is stopped; the new one copies once it ended); the same assignment
  // again changes nothing.
  absl::Status AssignReplica(const std::string& slot, const std::string& store,
                             const std::string& master_address, const std::string& master_slot);
  // Stops rolling replication into `slot` and returns at once. NOT_FOUND
  // when the slot has no assignment.
  absl::Status UnassignReplica(const std::string& slot);
  // The slot became a master: stops every copy into it (its catch-up loop
  // and the tasks targeting it) and returns at once.
  void StopPulling(const std::string& slot);
  // The control side changed the slot's role. MASTER: StopPulling, and the
  // slot's deletion log starts now (its checkpoints are void: its content
  // will differ from any source's generation). REPLICA after MASTER: its
  // next complete catch-up looks for stranded mail. Local database writes
  // only; never waits for a thread or a source.
  void OnRoleChanged(const std::string& slot, v1::SlotRole role);
  // A one-shot sync of every user of `store` from `source_address`/
  // `source_slot` into the replica slot `target_slot`, on the caller's
  // thread, cancelled at `budget` (engine clock; zero: final_pull_default).
  // The slot's catch-up loop pauses meanwhile and resumes after. OK only
  // when every user was synced; otherwise the error says how far it got
  // (DEADLINE_EXCEEDED at the budget). Never writes on the source.
  absl::Status FinalPull(const std::string& store, const std::string& target_slot,
                         const std::string& source_address, const std::string& source_slot,
                         absl::Duration budget);
  // The slot no longer holds `store`: stop replication and the tasks into
  // it, wait (up to wind_down_timeout) until they ended, move every user and
  // the store marker to the slot's quarantine, forget checkpoints.
  // FAILED_PRECONDITION if the slot's marker names another store;
  // UNAVAILABLE (retry) if some work had not ended in time.
  absl::Status ReleaseSlot(const std::string& slot, const std::string& store);
  // Cancels every task and loop, waits up to wind_down_timeout for their
  // threads, and refuses new work from then on (FAILED_PRECONDITION).
  void Stop();

  // Every assigned replica's state now (in_sync and lag_ms judged at the
  // engine clock's present), and every master slot's.
  std::vector<ReplicaState> ReplicationStatus();
  // One maintenance round (message index, deletion log, quarantine purge)
  // and, with `scrub`, one scrub pass of every slot, on the caller's thread
  // (tests; the threads do this on their own).
  void RunMaintenance(bool scrub = false);

  // The source side's core, for in-process use and tests.
  PeerCore* peer() { return peer_.get(); }
  // The operator's data-safety commands (unblock, purge, restore,
  // reconcile) on this host's slots.
  SafetyCommands* safety() { return safety_commands_.get(); }

 private:
  // A task's and a loop's `finished` is set (under mu_) by its thread as
  // the last thing it does.
  struct Task {
    std::string target_slot;
    std::atomic<bool> cancelled{false};
    std::thread thread;
    bool finished = false;
  };
  struct Replica {
    ReplicaState state;    // the assignment (slot, store, master); fixed
    CatchUpRecord record;  // guarded by mu_
    // Corrupt files the scrub found, to be moved aside and fetched again
    // (guarded by mu_); then those awaiting a complete cycle (loop only).
    std::vector<ScrubFinding> repairs;
    std::vector<ScrubFinding> repairing;
    std::atomic<bool> stop{false};
    std::thread thread;
    bool finished = false;
  };

  SyncEngine(std::unique_ptr<rocksdb::DB> db, std::map<std::string, std::string> slots,
             Clock* clock, TargetFs* fs, EngineOptions options);
  // A store sync into `target_slot` (root `target_root`) from `source`.
  StoreSyncContext SyncContext(const PeerClient* source, const std::string& store, int target_root,
                               const std::string& target_slot, SyncCounters* counters);
  absl::StatusOr<std::shared_ptr<const Fd>> SlotRoot(const std::string& slot);
  std::shared_ptr<grpc::Channel> ChannelTo(const std::string& address);
  TaskOutcome RunTask(const std::string& task_id, v1::TaskKind kind, const std::string& store,
                      const std::string& target_slot, const std::string& source_address,
                      const std::string& source_slot, const ProgressCallback& on_progress,
                      const std::atomic<bool>* cancelled);
  void CatchUpLoop(Replica* replica);
  // One catch-up cycle (engine_catch_up.cc): identity, repairs, the store
  // sync (looking for stranded mail after a role change), a verification
  // when the identity changed; the outcome goes to the replica's record.
  void CatchUpCycle(Replica* replica, const PeerClient& master);
  // Compares the replica slot's identity with the recorded one; on a change
  // voids its checkpoints and hash cache entries. Whether a verification is
  // pending (the identity changed, now or in an earlier cycle).
  absl::StatusOr<bool> CheckIdentity(const std::string& slot, int root);
  // Moves the files the scrub found corrupt aside (missing ones have
  // nothing to move) and forgets their users' checkpoints, so this cycle
  // fetches them again.
  void StartRepairs(Replica* replica, const SlotQuarantine& quarantine);
  // Counts the repairs of the cycle that completed: the files are back.
  void FinishRepairs(Replica* replica, int root);
  // A verification of the whole slot against its master; on success the
  // slot's changed identity is accepted.
  absl::Status VerifyAfterIdentityChange(const std::string& slot, int root,
                                         const PeerClient& master);
  // FinalPull's sync, cancelled at `budget`; the outcome as FinalPull
  // reports it.
  absl::Status RunFinalPull(const std::string& store, const std::string& target_slot,
                            const Fd& root, const std::string& source_address,
                            const std::string& source_slot, absl::Duration budget,
                            std::atomic<bool>* cancelled);
  // The slots the scrub covers now, and where a replica's repairs go
  // (engine_safety.cc).
  std::vector<ScrubTarget> ScrubTargets() ABSL_LOCKS_EXCLUDED(mu_);
  void OnCorrupt(const std::string& slot, const ScrubFinding& finding) ABSL_LOCKS_EXCLUDED(mu_);
  // A task's verification of `slot` against `source_address`/`source_slot`,
  // started at `started`: counts for the slot's catch-up when that is its
  // master.
  void NoteVerification(const std::string& slot, const std::string& source_address,
                        const std::string& source_slot, absl::Duration started,
                        const VerifyReport& report) ABSL_LOCKS_EXCLUDED(mu_);
  // Waits until `next` (engine clock: a cycle starts catch_up_interval after
  // the previous one started, at once when that took longer); false once the
  // loop is to stop.
  bool AwaitNextCycle(Replica* replica, absl::Duration next);
  // Signals the slot's loop (and a scrub pass of the slot) to stop and
  // moves the loop to retired_.
  void RetireLocked(const std::string& slot) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void CancelTasksIntoLocked(const std::string& slot) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Whether a stopped loop of `slot` still runs.
  bool StoppedLoopInLocked(const std::string& slot) const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Whether a stopped loop or a task still runs that writes into `slot`.
  bool WritingIntoLocked(const std::string& slot) const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Joins the threads of finished tasks and retired loops and drops them.
  void Reap() ABSL_LOCKS_EXCLUDED(mu_);

  std::unique_ptr<rocksdb::DB> db_;
  SlotRoots slots_;
  Clock* const clock_;
  TargetFs* const fs_;
  const EngineOptions options_;
  std::unique_ptr<RocksHashCache> cache_;
  // The data path's records (state_db.h), shared by every part.
  SlotRecords records_;
  QuarantineIndex quarantine_;
  GuardStore guards_;
  DeletionLog deletion_log_;
  CheckpointStore checkpoints_;
  std::unique_ptr<PeerCore> peer_;
  std::unique_ptr<SafetySource> safety_;  // the source side of the safety calls
  std::unique_ptr<ReplicaPeerService> service_;
  std::unique_ptr<Maintenance> maintenance_;
  std::unique_ptr<ScrubRunner> scrub_;
  std::unique_ptr<SafetyCommands> safety_commands_;

  absl::Mutex mu_;
  std::map<std::string, std::shared_ptr<grpc::Channel>> channels_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, std::unique_ptr<Task>> tasks_ ABSL_GUARDED_BY(mu_);
  // Replica slots with a catch-up loop; each loop updates its state under
  // mu_.
  std::map<std::string, std::unique_ptr<Replica>> replicas_ ABSL_GUARDED_BY(mu_);
  // Loops told to stop, kept until their threads are joined.
  std::vector<std::unique_ptr<Replica>> retired_ ABSL_GUARDED_BY(mu_);
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
};

}  // namespace slotkeeper::sync

#endif  // SLOTKEEPER_REPLICATOR_SYNC_ENGINE_H_
