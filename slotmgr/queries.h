// Queries: the read-only side of the coordinator, for the Automation API
// (cluster status, hosts, stores, tasks, user lookup, the model checks of
// ksck, the journal) and for watches on the journal and the routing feed.
//
// Reached through Coordinator::queries(). Reads the coordinator's state
// under the coordinator's mutex, which it does not own; every method takes
// it (the Wait* methods release it while they wait), so each answer is one
// consistent snapshot. ListEvents, and EventsAfter for events older than
// the journal's window, read the StateStore outside the lock.
//
// Thread-safe. Everything passed to the constructor is not owned and must
// outlive the object (the Coordinator owns both).
#ifndef SLOTKEEPER_SLOTMGR_QUERIES_H_
#define SLOTKEEPER_SLOTMGR_QUERIES_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "base/clock.h"
#include "proto/automation.pb.h"
#include "proto/model.pb.h"
#include "slotmgr/config.h"
#include "slotmgr/journal.h"
#include "slotmgr/model.h"
#include "slotmgr/state.pb.h"
#include "slotmgr/state_store.h"

namespace slotkeeper::slotmgr {

// One copy of a store, for ksck --verify-data (data_verifier.h), which calls
// the agents outside the coordinator's lock.
struct CopyToVerify {
  std::string store;
  v1::SlotRef slot;
  std::string peer_address;
  bool master = false;
};

// Everything the metrics read (coordinator_metrics.h), taken under one lock
// so that the figures of one scrape agree with each other.
struct ClusterSnapshot {
  int64_t now_ms = 0;  // coordinator wall clock
  std::vector<v1::HostInfo> hosts;
  std::vector<v1::StoreInfo> stores;
  std::vector<v1::TaskInfo> tasks;  // finished ones too, as long as the model keeps them
  v1::AutomationState automation;
};

class Queries {
 public:
  // What the queries read: the coordinator's state, guarded by `mu`.
  struct State {
    const ClusterModel* model;
    const UserIndex* users;
    const AutomationRecord* automation;
    const Journal* journal;
  };

  Queries(absl::Mutex* mu, State state, StateStore* store, Clock* clock,
          const CoordinatorConfig* config)
      : mu_(mu), state_(state), store_(store), clock_(clock), config_(config) {}

  v1::ClusterStatus GetClusterStatus() const;
  v1::ListHostsResponse ListHosts() const;
  // INVALID_ARGUMENT for an empty name, NOT_FOUND for an unknown one (same
  // for GetStore and LookupUser).
  absl::StatusOr<v1::HostInfo> GetHost(const std::string& host) const;
  v1::ListStoresResponse ListStores(bool troubled_only) const;
  absl::StatusOr<v1::StoreInfo> GetStore(const std::string& store) const;
  absl::StatusOr<v1::UserLocation> LookupUser(const std::string& user) const;
  v1::ListTasksResponse ListTasks(const v1::ListTasksRequest& request) const;
  v1::AutomationState GetAutomation() const;
  // Hosts, stores (without the user index's counts), tasks and automation
  // at one instant.
  ClusterSnapshot Snapshot() const;
  // Who may read each slot of `host` through its agent's peer service
  // (peer_grants.h).
  v1::PeerGrants PeerGrantsOf(const std::string& host) const;
  // The model checks of ksck: per store, exactly one usable master, enough
  // usable copies, no copy on a lost unit or an unknown slot, no two copies
  // on one host, replicas not too far behind. No data verification (see
  // CopiesToVerify).
  // ksck over the model (ksck.h); a replica lagging more than `max_lag_ms`
  // (0: --max_failover_lag) is a warning.
  v1::ConsistencyReport CheckModel(int64_t max_lag_ms = 0) const;
  // Every usable master and replica, with its agent's peer address.
  std::vector<CopyToVerify> CopiesToVerify() const;
  // The copies of `store` (every role but lost), or, with `slot`, that one
  // slot, with their agents' peer addresses (usable or not: a listing may
  // still answer). NOT_FOUND names what does not exist.
  absl::StatusOr<std::vector<CopyToVerify>> CopiesOf(const std::string& store,
                                                     const v1::SlotRef* slot) const;

  // The persisted journal, by time, store or host. INVALID_ARGUMENT when
  // until_ms is before since_ms.
  absl::StatusOr<v1::ListEventsResponse> ListEvents(const v1::ListEventsRequest& request) const;
  // Watches: events with seq > after_seq (from memory when the journal's
  // window holds them, else from the store); waits up to `timeout` (real
  // time: only a wake-up, not a decision) for one.
  absl::StatusOr<std::vector<v1::Event>> EventsAfter(uint64_t after_seq, size_t limit) const;
  bool WaitForEventAfter(uint64_t after_seq, absl::Duration timeout) const;
  uint64_t LastEventSeq() const;
  // Routing changes numbered from 1 in this process; `*next` is where to
  // continue. Only changes since the process started are kept.
  std::vector<v1::RoutingChange> RoutingAfter(uint64_t after, uint64_t* next) const;
  uint64_t RoutingCursor() const;
  bool WaitForRoutingAfter(uint64_t after, absl::Duration timeout) const;

  // Test-only: a copy of the model, to compare states and check invariants.
  ClusterModel TEST_Model() const;

 private:
  absl::Mutex* const mu_;
  const State state_ ABSL_GUARDED_BY(mu_);
  StateStore* const store_;
  Clock* const clock_;
  const CoordinatorConfig* const config_;
};

}  // namespace slotkeeper::slotmgr

#endif  // SLOTKEEPER_SLOTMGR_QUERIES_H_
