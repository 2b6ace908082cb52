// The coordinator core: the cluster model, the decisions, the journal.
//
// A façade without gRPC and without threads of its own. The gRPC services
// (agent_service.h, automation_service.h) validate and convert, then call
// it; slotmgrd's ticker thread calls Tick() every heartbeat to advance
// timers (silence, grace periods, leases, replace_after, retries). Reads go
// through queries() (queries.h).
//
// The Coordinator owns the one mutex and the state under it: the model
// (ClusterModel: hosts, stores, tasks; model.h), the user index, the
// automation record, and the collaborators that own the rest: Journal
// (events, routing feed), CommandOutbox (commands to agents), LeaseTable
// (lease bounds), MasterWatch (whether masters serve, refused promotions,
// the failsafe evidence), Promoter (failover and promotion), TaskManager
// (re-replication tasks), BlockedUsers
// (the mass-deletion guard's notices). The collaborators have no locks of their
// own; the façade calls them with `mu_` held. Health is derived by
// DeriveHealth (health.h), a function of the model. The methods are spread
// over files by what they implement: registration.cc (Register, Hello; what
// agents find on disk is slot_contents.h), reports.cc (reports, acks, task
// updates), failover.cc (Tick: silence, the brakes, units due to be
// declared lost), coordinator.cc (loading and committing). Operator actions
// are functions over a Mutation run by Mutate: the Automation API's changes
// are operator_actions.h, the data-safety actions data_safety.h. The
// guards on automation (the evidence brake, blast-radius limits, host
// pauses, flap damping) are automation_guard.h; declaring units lost, with
// a second opinion first, is lost_units.h; reinstating them, reinstate.h.
//
// Every change is written through the injected StateStore as one batch with
// its events before the method returns (a Txn, txn.h), so a restarted
// coordinator (Create() loads the store) resumes exactly where it stopped.
// Timers are timestamps in the model, so they are recomputed from what was
// persisted. Silence, leases and failover grace are measured on the
// monotonic clock (a wall-clock step must never shorten them); persisted
// stamps and what clients see are wall time. Things deliberately not
// restored from disk: when each
// host was last heard (a restarted coordinator counts silence from its own
// start, so its downtime never looks like every host's) and lease bounds
// (every master lease is taken as valid for a full lease from the restart,
// since a renewal may have just been sent; lease_table.h), and when each
// failover grace began (it starts again from the restart).
//
// Thread-safe: every public method takes the one mutex `mu_`. Time comes
// from the injected Clock only. The StateStore and Clock are not owned and
// must outlive the coordinator.
#ifndef SLOTKEEPER_SLOTMGR_COORDINATOR_H_
#define SLOTKEEPER_SLOTMGR_COORDINATOR_H_

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/functional/function_ref.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "base/clock.h"
#include "proto/agent.pb.h"
#include "proto/automation.pb.h"
#include "proto/model.pb.h"
#include "slotmgr/blocked_users.h"
#include "slotmgr/cluster_view.h"
#include "slotmgr/command_outbox.h"
#include "slotmgr/config.h"
#include "slotmgr/health.h"
#include "slotmgr/journal.h"
#include "slotmgr/lease_table.h"
#include "slotmgr/master_watch.h"
#include "slotmgr/model.h"
#include "slotmgr/mutation.h"
#include "slotmgr/promoter.h"
#include "slotmgr/queries.h"
#include "slotmgr/state.pb.h"
#include "slotmgr/state_store.h"
#include "slotmgr/task_manager.h"
#include "slotmgr/txn.h"
#include "slotmgr/view_builder.h"

namespace slotkeeper::slotmgr {

class Coordinator {
 public:
  // Loads the persisted model from `store`.
  static absl::StatusOr<std::unique_ptr<Coordinator>> Create(StateStore* store, Clock* clock,
                                                             CoordinatorConfig config);

  // ---- Agent side (agent_service.h) -------------------------------------
  // Registers or reconciles a host's inventory. INVALID_ARGUMENT names what is
  // malformed.
  absl::StatusOr<v1::RegisterResponse> Register(const v1::RegisterRequest& request);
  // Starts a session: every unacknowledged command will be sent again.
  // NOT_FOUND for an unregistered host, FAILED_PRECONDITION for a stale session.
  absl::Status Hello(const v1::SessionHello& hello);
  // Applies a health report; returns the lease renewal to send back (if the
  // host holds masters). Nothing changes when it fails.
  absl::StatusOr<std::optional<v1::LeaseRenewal>> ApplyReport(const std::string& host,
                                                              const std::string& session_id,
                                                              const v1::HealthReport& report);
  // NOT_FOUND for a command id never issued to this host (nothing changes);
  // an id already acknowledged is a duplicate and returns OK.
  absl::Status ApplyAck(const std::string& host, const v1::CommandAck& ack);
  // Progress or the outcome of a task, from its target host only. A DONE
  // counts only with `verified`.
  absl::Status ApplyTaskUpdate(const std::string& host, const v1::TaskUpdate& update);
  // Commands for `host` not yet sent in its current session (marks them sent).
  std::vector<v1::Command> TakeCommandsToSend(const std::string& host);
  // The stream of `host`'s session `session_id` ended. If it is still the
  // host's current session, its replicas are no longer in sync (nothing
  // proves they keep up) and the host proves nothing for the failsafe rule.
  void SessionEnded(const std::string& host, const std::string& session_id);

  // Advances timers: host silence, failover, replace_after, scheduling.
  absl::Status Tick();

  // ---- Automation side (automation_service.h): changes ----------------------
  // Runs an operator action (mutation.h; the Automation API's changes are
  // operator_actions.h) under the lock, then derives health again when it
  // asks and commits what it noted. On an error from the action nothing is
  // committed.
  template <typename T>
  absl::StatusOr<T> Mutate(absl::FunctionRef<absl::StatusOr<T>(Mutation&)> action) {
    absl::MutexLock lock(&mu_);
    Txn txn;
    FailoverEnv env = FailoverEnvLocked();
    Mutation m = MutationLocked(txn);
    m.failover = &env;
    absl::StatusOr<T> result = action(m);
    if (!result.ok()) return result;
    if (m.recompute) RecomputeLocked(txn);
    if (absl::Status s = CommitLocked(txn); !s.ok()) return s;
    return result;
  }

  // ---- Reads (queries.h): status, lists, lookups, ksck, watches, grants --
  const Queries& queries() const { return queries_; }

 private:
  Coordinator(StateStore* store, Clock* clock, CoordinatorConfig config);
  absl::Status LoadLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Writes what `txn` noted as one batch, then publishes its events and
  // routing changes. On a failed write: aborts the process (see
  // CoordinatorConfig::exit_on_commit_failure) or returns the error.
  absl::Status CommitLocked(Txn& txn) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // The planners' snapshot of the model; nullopt (logged) if inconsistent.
  std::optional<ClusterView> ViewLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Derives health again (DeriveHealth); notes and journals what changed.
  void RecomputeLocked(Txn& txn) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // What the promoter works on (promoter.h), lent for one call.
  FailoverEnv FailoverEnvLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // What a decision outside the façade works on (mutation.h), for `txn`;
  // its `failover` is left for the caller to lend.
  Mutation MutationLocked(Txn& txn) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return Mutation{model_,       outbox_, journal_,  txn,     config_, NowLocked(), false,
                    &automation_, &tasks_, &notices_, &users_, nullptr, &promoter_};
  }
  // Both clocks now: wall time for what is stamped and shown, monotonic
  // time for silence, leases and grace periods.
  CoordinatorNow NowLocked() const { return {clock_->NowMs(), clock_->MonotonicMs()}; }

  StateStore* const store_;
  Clock* const clock_;
  const CoordinatorConfig config_;

  mutable absl::Mutex mu_;
  ClusterModel model_ ABSL_GUARDED_BY(mu_);
  UserIndex users_ ABSL_GUARDED_BY(mu_);
  AutomationRecord automation_ ABSL_GUARDED_BY(mu_);
  uint64_t last_session_seq_ ABSL_GUARDED_BY(mu_) = 0;
  // When Tick last pruned the journal (monotonic; -1: not yet in this
  // process).
  int64_t last_prune_mono_ms_ ABSL_GUARDED_BY(mu_) = -1;
  Journal journal_ ABSL_GUARDED_BY(mu_);
  CommandOutbox outbox_ ABSL_GUARDED_BY(mu_);
  LeaseTable leases_ ABSL_GUARDED_BY(mu_);
  MasterWatch masters_ ABSL_GUARDED_BY(mu_);
  TaskManager tasks_ ABSL_GUARDED_BY(mu_);
  // Not persisted (see the class comment). On the monotonic clock.
  std::map<std::string, int64_t> last_heard_mono_ms_ ABSL_GUARDED_BY(mu_);  // by host
  SlotCopyIndex slot_copies_ ABSL_GUARDED_BY(mu_);
  std::set<std::string> notices_ ABSL_GUARDED_BY(mu_);  // one-time notices already journaled
  Promoter promoter_ ABSL_GUARDED_BY(mu_);
  BlockedUsers blocked_users_ ABSL_GUARDED_BY(mu_);
  const Queries queries_;
};

}  // namespace slotkeeper::slotmgr

#endif  // SLOTKEEPER_SLOTMGR_COORDINATOR_H_
