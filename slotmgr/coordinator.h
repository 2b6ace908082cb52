// The coordinator core: the cluster model, the decisions, the journal.
//
// A plain class without gRPC and without threads of its own. The gRPC
// services (agent_service.h, automation_service.h) validate and convert,
// then call it; slotmgrd's ticker thread calls Tick() every heartbeat to
// advance timers (silence, grace periods, leases, replace_after, retries).
//
// The whole model lives in memory (ClusterModel); every change is written
// through the injected StateStore as one batch with its events before the
// method returns, so a restarted coordinator (Create() loads the store)
// resumes exactly where it stopped. Timers are timestamps in the model, so
// they are recomputed from what was persisted. Two things are deliberately
// not restored from disk: when each host was last heard (a restarted
// coordinator counts silence from its own start, so its downtime never looks
// like every host's) and lease bounds (every master lease is taken as valid
// for a full lease from the restart, since a renewal may have just been sent).
//
// Thread-safe: every public method takes the one mutex `mu_`. Time comes from
// the injected Clock only. The StateStore and Clock are not owned and must
// outlive the coordinator.
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
#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "base/clock.h"
#include "proto/agent.pb.h"
#include "proto/automation.pb.h"
#include "proto/model.pb.h"
#include "slotmgr/command_outbox.h"
#include "slotmgr/config.h"
#include "slotmgr/journal.h"
#include "slotmgr/lease_table.h"
#include "slotmgr/model.h"
#include "slotmgr/state.pb.h"
#include "slotmgr/state_store.h"
#include "slotmgr/task_manager.h"
#include "slotmgr/txn.h"
#include "slotmgr/view_builder.h"

namespace slotkeeper::slotmgr {

// One copy of a store, for ksck --verify-data (which calls the agents outside
// the coordinator's lock).
struct CopyToVerify {
  std::string store;
  v1::SlotRef slot;
  std::string peer_address;
  bool master = false;
};

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
  absl::Status ApplyTaskUpdate(const std::string& host, const v1::TaskUpdate& update);
  // Commands for `host` not yet sent in its current session (marks them sent).
  std::vector<v1::Command> TakeCommandsToSend(const std::string& host);

  // Advances timers: host silence, failover, replace_after, scheduling.
  absl::Status Tick();

  // ---- Automation side (automation_service.h) ---------------------------
  v1::ClusterStatus GetClusterStatus();
  v1::ListHostsResponse ListHosts();
  absl::StatusOr<v1::HostInfo> GetHost(const std::string& host);
  v1::ListStoresResponse ListStores(bool troubled_only);
  absl::StatusOr<v1::StoreInfo> GetStore(const std::string& store);
  absl::StatusOr<v1::StoreInfo> CreateStore(const v1::CreateStoreRequest& request);
  absl::StatusOr<v1::UserLocation> LookupUser(const std::string& user);
  v1::ListTasksResponse ListTasks(const v1::ListTasksRequest& request);
  absl::StatusOr<v1::ListEventsResponse> ListEvents(const v1::ListEventsRequest& request);
  absl::StatusOr<v1::FailoverResponse> Failover(const v1::FailoverRequest& request);
  absl::StatusOr<v1::DrainResponse> Drain(const v1::DrainRequest& request);
  absl::StatusOr<v1::DrainResponse> Undrain(const v1::DrainRequest& request);
  absl::StatusOr<v1::MarkLostResponse> MarkLost(const v1::MarkLostRequest& request);
  absl::StatusOr<v1::AutomationState> SetAutomation(const v1::SetAutomationRequest& request);
  v1::AutomationState GetAutomation();
  // The model checks of ksck (no data verification; see CopiesToVerify).
  v1::ConsistencyReport CheckModel();
  std::vector<CopyToVerify> CopiesToVerify();

  // Watches: events with seq > after_seq (persisted ones through ListEvents);
  // waits up to `timeout` (real time: only a wake-up, not a decision) for one.
  absl::StatusOr<std::vector<v1::Event>> EventsAfter(uint64_t after_seq, size_t limit);
  bool WaitForEventAfter(uint64_t after_seq, absl::Duration timeout);
  uint64_t LastEventSeq();
  // Routing changes numbered from 1 in this process; `*next` is where to
  // continue. Only changes since the process started are kept.
  std::vector<v1::RoutingChange> RoutingAfter(uint64_t after, uint64_t* next);
  uint64_t RoutingCursor();
  bool WaitForRoutingAfter(uint64_t after, absl::Duration timeout);

  // For tests.
  ClusterModel ModelForTest();

 private:
  // Per host, by slot index: the store and copy each slot holds, so that a
  // report is applied without searching (the hot path). Valid while
  // `generation` equals generation_, which every commit touching a host or
  // store bumps (copies are added and removed only in such commits; std::map
  // nodes and RepeatedPtrField elements do not move otherwise).
  struct SlotCache {
    uint64_t generation = 0;
    std::vector<std::string> name;  // "HOST/SLOT"
    std::vector<StoreRecord*> store;
    std::vector<v1::Copy*> copy;
  };

  Coordinator(StateStore* store, Clock* clock, CoordinatorConfig config);
  const SlotCache& SlotCacheLocked(const std::string& host, const v1::HostInfo& info)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::Status LoadLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // The planners' snapshot of the model; nullopt (logged) if inconsistent.
  std::optional<ClusterView> ViewLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::Status CommitLocked(Txn& txn) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  // Re-derives unit, filesystem and slot health and store states from the
  // model; touches and journals what changed.
  void RecomputeLocked(Txn& txn) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // The host an operator request names: INVALID_ARGUMENT for an empty name,
  // NOT_FOUND for an unknown one.
  absl::StatusOr<HostRecord*> OperatorHostLocked(const std::string& host)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void PromoteLocked(Txn& txn, StoreRecord& store, const v1::SlotRef& target,
                     const std::string& why, bool automatic) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void FailoverStepLocked(Txn& txn) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void MarkUnitLostLocked(Txn& txn, HostRecord& host, v1::UnitInfo& unit, const std::string& why)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Users whose sync into `host`/`slot` an agent reports as stopped (the
  // mass-deletion guard): a "replication.blocked" WARNING once per
  // (slot, user), and "replication.unblocked" when a complete list (a health
  // report) no longer names the user. A task update's list is not complete:
  // it only adds.
  void NoteBlockedUsersLocked(Txn& txn, const std::string& host, const std::string& slot,
                              const std::string& store,
                              const google::protobuf::RepeatedPtrField<std::string>& users,
                              bool complete) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void RecognizeContentsLocked(Txn& txn, const std::string& host, const v1::SlotContents& contents)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  v1::Endpoint EndpointLocked(const v1::SlotRef& ref) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // The store as shown to clients (with its user count).
  v1::StoreInfo StoreInfoLocked(const StoreRecord& rec) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  bool AutomationRunningLocked() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  StateStore* const store_;
  Clock* const clock_;
  const CoordinatorConfig config_;

  mutable absl::Mutex mu_;
  ClusterModel model_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, std::string> users_ ABSL_GUARDED_BY(mu_);     // user -> store
  std::map<std::string, uint64_t> user_counts_ ABSL_GUARDED_BY(mu_);  // store -> users
  AutomationRecord automation_ ABSL_GUARDED_BY(mu_);
  MetaRecord meta_ ABSL_GUARDED_BY(mu_);
  // Not persisted (see the class comment).
  std::map<std::string, int64_t> last_heard_ms_ ABSL_GUARDED_BY(mu_);  // by host
  std::map<std::string, SlotCache> slot_cache_ ABSL_GUARDED_BY(mu_);   // by host
  uint64_t generation_ ABSL_GUARDED_BY(mu_) = 1;
  std::set<std::string> reported_ ABSL_GUARDED_BY(mu_);  // one-time notices already journaled
  // "HOST/SLOT" -> users reported blocked there (see NoteBlockedUsersLocked).
  std::map<std::string, std::set<std::string>> blocked_users_ ABSL_GUARDED_BY(mu_);
  Journal journal_ ABSL_GUARDED_BY(mu_);
  CommandOutbox outbox_ ABSL_GUARDED_BY(mu_);
  LeaseTable leases_ ABSL_GUARDED_BY(mu_);  // not persisted (see the class comment)
  TaskManager tasks_ ABSL_GUARDED_BY(mu_);
};

}  // namespace slotkeeper::slotmgr

#endif  // SLOTKEEPER_SLOTMGR_COORDINATOR_H_
