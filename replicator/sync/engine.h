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
// Threads: the engine is a facade over collaborators that each own their
// threads and their lock: TaskRunner (task_runner.h: each task on a thread
// of its own), CatchUpLoops (catch_up_loops.h: a thread per replica slot,
// each running a CatchUpCycle, catch_up_cycle.h, every catch_up_interval),
// the maintenance and scrub threads. Callbacks are called from those
// threads with no engine lock held and must be quick. Every public method
// is thread-safe. Like the clock (intervals, quarantine dates, rates), the
// filesystem seam every write into a replica slot goes through
// (target_fs.h) is injected.
//
// Never waiting on a source: the agent calls this engine with its own locks
// held (a slot's lock during promotion, demotion and fencing), so no public
// method waits for a source or for a sync thread's RPC, except the three
// commands that exist to wait for one (FinalPull, RestoreQuarantined,
// Reconcile), which the agent calls under no slot lock and which end within
// their budget or the peer time limits. Stopping work (CancelTask,
// UnassignReplica, StopPulling, AssignReplica replacing a loop) only signals
// it and returns (task_runner.h, catch_up_loops.h); the work's calls in
// flight are cancelled within about 100 ms (peer_client.h). Two methods wait
// for threads, bounded by options.wind_down_timeout (real time) and never
// for a source: ReleaseSlot (nothing may still write into the slot it
// empties) and Stop. A task may copy into a slot beside its loop.
//
// Push replication: every replica loop follows its master's change feed
// (WatchChanges, change_feed.h on the source, change_follower.h here) and
// syncs the announced users within milliseconds; the lag it reports is the
// age of the oldest announced change not yet durable here.
//
// Source-side generations come from recursive inotify watches (scan
// fallback, periodic full scan); the same events give delta manifests ("what
// changed since generation G"), used by catch-ups when
// options.sync.user.use_delta is set, so that an incremental sync looks at
// the changed paths only. An interrupted transfer resumes within the file
// at the next attempt (fetch.h).
//
// Data safety, per slot:
//   - identity (slot_layout.h, catch_up_cycle.h): every catch-up cycle
//     first compares the replica slot's identity with the one recorded; a
//     change (the slot emptied, replaced or mounted over) voids its
//     checkpoints and hash cache entries and keeps it out of sync until a
//     full sync and a verification against the master pass
//     (identity_changed meanwhile);
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

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "base/clock.h"
#include "proto/model.pb.h"
#include "replicator/sync/catch_up_loops.h"
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
#include "replicator/sync/slot_puller.h"
#include "replicator/sync/slot_records.h"
#include "replicator/sync/slot_roots.h"
#include "replicator/sync/store_sync.h"
#include "replicator/sync/task_runner.h"

namespace slotkeeper::sync {

struct EngineOptions {
  StoreSyncOptions sync;  // per task / catch-up cycle
  PeerTimeouts peer;      // every call to a source (peer_client.h)
  absl::Duration catch_up_interval = absl::Seconds(5);
  // Push replication (change_follower.h): each replica follows its master's
  // change feed and syncs announced users at once; whole catch-ups then run
  // every safety_net_interval (every catch_up_interval while the master
  // gives no feed). False: polling only.
  bool push = true;
  absl::Duration safety_net_interval = absl::Minutes(5);
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
  // How it follows its master: "push", "poll" or "batch" (catch_up_loops.h).
  std::string feed;
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
  using ProgressCallback = SlotPuller::ProgressCallback;
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
  // The slot's catch-up loop pauses meanwhile and resumes after; a complete
  // pull from the slot it follows counts as its catch-up. OK only
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
  // The rolling catch-up's figures since the engine started (metrics).
  CatchUpTotals CatchUpFigures();
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
  SyncEngine(std::unique_ptr<rocksdb::DB> db, std::map<std::string, std::string> slots,
             Clock* clock, TargetFs* fs, EngineOptions options);
  // The catch-up loops' collaborators: cycles over the engine's parts.
  CatchUpLoopsDeps LoopsDeps();
  // The slots the scrub covers now (engine_safety.cc).
  std::vector<ScrubTarget> ScrubTargets();
  // Joins the threads of finished tasks and stopped loops.
  void Reap();

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
  std::unique_ptr<SlotPuller> puller_;
  std::unique_ptr<Maintenance> maintenance_;
  std::unique_ptr<ScrubRunner> scrub_;
  std::unique_ptr<SafetyCommands> safety_commands_;
  // Last: their threads use everything above, so they are joined first.
  // Tasks record verifications in the loops: tasks go before loops.
  std::unique_ptr<CatchUpLoops> loops_;
  std::unique_ptr<TaskRunner> tasks_;
};

}  // namespace slotkeeper::sync

#endif  // SLOTKEEPER_REPLICATOR_SYNC_ENGINE_H_
