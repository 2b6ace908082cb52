// SlotPuller: one pull of a store from a source slot into one of this host's
// slots, as the engine runs them: a task's sync and verification
// (RunTask), a final pull within a budget (FinalPull), and what every pull
// and every catch-up cycle is built from (the channel to a source, a
// client of it, a StoreSyncContext over the engine's database, filesystem
// seam and clock).
//
// Threads: every method may be called from any thread. RunTask and
// FinalPull run on the caller's thread and wait for their source, bounded
// by the peer time limits (peer_client.h) and the caller's cancellation
// flag, which ends their calls in flight within about 100 ms; FinalPull
// also ends at its budget. Callbacks are called on the caller's thread,
// with no lock held.
#ifndef SLOTKEEPER_REPLICATOR_SYNC_SLOT_PULLER_H_
#define SLOTKEEPER_REPLICATOR_SYNC_SLOT_PULLER_H_

#include <grpcpp/grpcpp.h>

#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "base/clock.h"
#include "proto/model.pb.h"
#include "replicator/sync/guard_state.h"
#include "replicator/sync/hash_cache.h"
#include "replicator/sync/peer_client.h"
#include "replicator/sync/quarantine_index.h"
#include "replicator/sync/slot_roots.h"
#include "replicator/sync/store_sync.h"
#include "replicator/sync/target_fs.h"
#include "replicator/sync/verify.h"

namespace slotkeeper::sync {

// The outcome of a task, as the agent reports it (agent.proto TaskUpdate).
struct TaskOutcome {
  std::string task_id;
  v1::TaskState state = v1::TASK_STATE_UNSPECIFIED;  // DONE / FAILED / ...
  v1::TaskProgress progress;
  std::string error;
  bool verified = false;  // content hashes compared with the source
  std::vector<std::string> blocked_users;
};

// A replication task into one of this host's slots (SyncEngine::StartTask).
struct TaskSpec {
  std::string task_id;
  v1::TaskKind kind = v1::TASK_KIND_UNSPECIFIED;
  std::string store;
  std::string target_slot;
  std::string source_address;
  std::string source_slot;
};

// What pulls work with. Nothing is owned; all must outlive the puller.
struct PullerDeps {
  rocksdb::DB* db = nullptr;  // checkpoints and the target's hash cache
  SlotRoots* slots = nullptr;
  HashCache* cache = nullptr;  // what a verification reads local hashes from
  QuarantineIndex* quarantine = nullptr;
  GuardStore* guards = nullptr;
  Clock* clock = nullptr;
  TargetFs* fs = nullptr;
  StoreSyncOptions sync;  // per pull
  PeerTimeouts peer;      // every call to a source
};

class SlotPuller {
 public:
  using ProgressCallback = std::function<void(const std::string& task_id, const v1::TaskProgress&)>;
  // A task's verification of its slot against its source, which started at
  // `started` (engine monotonic clock).
  using VerifiedCallback =
      std::function<void(const TaskSpec& spec, absl::Duration started, const VerifyReport& report)>;

  // A client of a source slot with the stub it calls through.
  struct Source {
    std::unique_ptr<v1::ReplicaPeer::Stub> stub;
    std::unique_ptr<PeerClient> client;
  };

  explicit SlotPuller(PullerDeps deps) : deps_(std::move(deps)) {}

  // The channel to `address`, made once and shared by every pull, cycle and
  // command that talks to it.
  std::shared_ptr<grpc::Channel> ChannelTo(const std::string& address) ABSL_LOCKS_EXCLUDED(mu_);
  // A client of `address`/`slot` whose calls end once `*cancelled` is set
  // (may be null).
  Source Connect(const std::string& address, const std::string& slot,
                 const std::atomic<bool>* cancelled);
  // A store sync from `source` into `target_slot` (root `target_root`),
  // counting into `counters`; no progress callback, no cancellation.
  StoreSyncContext Context(const PeerClient* source, const std::string& store, int target_root,
                           const std::string& target_slot, SyncCounters* counters) const;

  // A task: TASK_RE_REPLICATE and TASK_CATCH_UP sync the store, then
  // verify; TASK_VERIFY only verifies. CANCELLED once `*cancelled` is set;
  // FAILED with the error otherwise (a difference found, a user blocked by
  // the mass-deletion guard). Every verification that ran is handed to
  // `on_verified`.
  TaskOutcome RunTask(const TaskSpec& spec, const ProgressCallback& on_progress,
                      const VerifiedCallback& on_verified, std::atomic<bool>* cancelled);
  // A one-shot sync of every user of `store` from `source_address`/
  // `source_slot` into `target_slot` (root `root`), cancelled at `budget`
  // (engine clock) by setting `*cancelled`. OK only when every user was
  // synced; otherwise the error says how far it got (DEADLINE_EXCEEDED at
  // the budget).
  absl::Status FinalPull(const std::string& store, const std::string& target_slot, const Fd& root,
                         const std::string& source_address, const std::string& source_slot,
                         absl::Duration budget, std::atomic<bool>* cancelled);

 private:
  const PullerDeps deps_;
  absl::Mutex mu_;
  std::map<std::string, std::shared_ptr<grpc::Channel>> channels_ ABSL_GUARDED_BY(mu_);
};

}  // namespace slotkeeper::sync

#endif  // SLOTKEEPER_REPLICATOR_SYNC_SLOT_PULLER_H_
