// A ClusterClient over an in-memory cluster, for slotctl's tests.
//
// FakeCluster is plain data that a test fills from literal tables;
// FakeClusterClient answers every RPC from it with just enough logic to be
// believable (NOT_FOUND for unknown names, failover refusals for replicas
// that are behind or unusable, drain plans, hosts forgotten only when down, the data-safety
// calls' checks as slotmgr/data_safety.cc makes them) and records each
// call so tests can assert what was (not) asked. Not thread-safe.
#ifndef SLOTKEEPER_TOOLS_SLOTCTL_FAKE_CLUSTER_CLIENT_H_
#define SLOTKEEPER_TOOLS_SLOTCTL_FAKE_CLUSTER_CLIENT_H_

#include <map>
#include <string>
#include <vector>

#include "tools/slotctl/cluster_client.h"

namespace slotkeeper::slotctl {

struct FakeCluster {
  v1::ClusterStatus status;
  std::vector<v1::HostInfo> hosts;
  std::vector<v1::StoreInfo> stores;
  std::vector<v1::TaskInfo> tasks;
  std::vector<v1::Event> events;
  std::map<std::string, v1::UserLocation> users;
  v1::AutomationState automation;
  v1::ConsistencyReport consistency;
  // When not OK, every call fails with it (e.g. an unreachable server).
  absl::Status fail_all;
  // When not OK, CheckConsistency fails with it (e.g. UNIMPLEMENTED).
  absl::Status check_consistency_error;
  // CheckConsistency with verify_data: an agent did not answer, so the data
  // is not verified.
  bool agent_unanswered = false;
  // What each slot's agent holds, by "HOST/SLOT": its quarantine and the
  // mail stranded there. A slot listed in `agent_errors` cannot be asked.
  std::map<std::string, std::vector<v1::QuarantineItem>> quarantine;
  std::map<std::string, std::vector<v1::StrandedMessage>> stranded;
  std::map<std::string, std::string> agent_errors;
  // Every call, in order: the method name, plus " dry-run" for dry runs.
  std::vector<std::string> calls;
  // The last request of the calls tests look into.
  v1::FailoverRequest last_failover;
  v1::ListEventsRequest last_list_events;
  v1::WatchEventsRequest last_watch_events;
  // WatchEvents, call by call: how many events the stream sends (-1: all
  // after the request's bound), whether it starts again from the first
  // event (as a server that lost track would), and the status it then ends
  // with (OK: the coordinator closed it). Past the script, a stream ends
  // UNIMPLEMENTED, a refusal no reconnect fixes, so that a follow ends.
  struct WatchStream {
    int events = -1;
    absl::Status ending;
    bool from_start = false;
  };
  std::vector<WatchStream> watch_script;
  std::vector<v1::WatchEventsRequest> watch_requests;
  v1::CancelTaskRequest last_cancel_task;
  v1::RetryTaskRequest last_retry_task;
  v1::ForgetHostRequest last_forget_host;
  v1::SetAutomationRequest last_set_automation;
  v1::CreateStoreRequest last_create_store;
  v1::DrainRequest last_drain;
  v1::MarkLostRequest last_mark_lost;
  v1::ListQuarantineItemsRequest last_list_quarantine;
  v1::RestoreQuarantinedRequest last_restore;
  std::vector<v1::PurgeQuarantineItemsRequest> purges;
  v1::UnblockUserRequest last_unblock;
  v1::ReconcileStoreRequest last_reconcile;
  v1::AckAutomationRequest last_ack;
  v1::ReinstateUnitRequest last_reinstate;
  // What ReinstateUnit answers (done set unless a dry run), or its error.
  v1::ReinstateUnitResponse reinstate;
  absl::Status reinstate_error;

  v1::HostInfo* FindHost(const std::string& name);
  v1::StoreInfo* FindStore(const std::string& name);
  v1::SlotInfo* FindSlot(const v1::SlotRef& ref);
};

class FakeClusterClient : public ClusterClient {
 public:
  // `cluster` is not owned and must outlive the client.
  explicit FakeClusterClient(FakeCluster* cluster) : c_(cluster) {}

  absl::StatusOr<v1::ClusterStatus> GetClusterStatus(
      const v1::GetClusterStatusRequest& request) override;
  absl::StatusOr<v1::ListHostsResponse> ListHosts(const v1::ListHostsRequest& request) override;
  absl::StatusOr<v1::HostInfo> GetHost(const v1::GetHostRequest& request) override;
  absl::StatusOr<v1::ListStoresResponse> ListStores(const v1::ListStoresRequest& request) override;
  absl::StatusOr<v1::StoreInfo> GetStore(const v1::GetStoreRequest& request) override;
  absl::StatusOr<v1::StoreInfo> CreateStore(const v1::CreateStoreRequest& request) override;
  absl::StatusOr<v1::UserLocation> LookupUser(const v1::LookupUserRequest& request) override;
  absl::Status WatchRouting(const v1::WatchRoutingRequest& request,
                            const StreamCallback<v1::RoutingChange>& on_change) override;
  absl::StatusOr<v1::ListTasksResponse> ListTasks(const v1::ListTasksRequest& request) override;
  absl::StatusOr<v1::TaskInfo> CancelTask(const v1::CancelTaskRequest& request) override;
  absl::StatusOr<v1::TaskInfo> RetryTask(const v1::RetryTaskRequest& request) override;
  absl::StatusOr<v1::ListEventsResponse> ListEvents(const v1::ListEventsRequest& request) override;
  absl::StatusOr<v1::ForgetHostResponse> ForgetHost(const v1::ForgetHostRequest& request) override;
  absl::Status WatchEvents(const v1::WatchEventsRequest& request,
                           const StreamCallback<v1::Event>& on_event) override;
  absl::StatusOr<v1::FailoverResponse> Failover(const v1::FailoverRequest& request) override;
  absl::StatusOr<v1::DrainResponse> Drain(const v1::DrainRequest& request) override;
  absl::StatusOr<v1::DrainResponse> Undrain(const v1::DrainRequest& request) override;
  absl::StatusOr<v1::MarkLostResponse> MarkLost(const v1::MarkLostRequest& request) override;
  absl::StatusOr<v1::AutomationState> SetAutomation(
      const v1::SetAutomationRequest& request) override;
  absl::StatusOr<v1::AutomationState> GetAutomation(
      const v1::GetAutomationRequest& request) override;
  absl::StatusOr<v1::AutomationState> AckAutomation(
      const v1::AckAutomationRequest& request) override;
  absl::StatusOr<v1::ReinstateUnitResponse> ReinstateUnit(
      const v1::ReinstateUnitRequest& request) override;
  absl::StatusOr<v1::ConsistencyReport> CheckConsistency(
      const v1::CheckConsistencyRequest& request) override;
  absl::StatusOr<v1::ListQuarantineItemsResponse> ListQuarantine(
      const v1::ListQuarantineItemsRequest& request) override;
  absl::StatusOr<v1::RestoreQuarantinedResponse> RestoreQuarantined(
      const v1::RestoreQuarantinedRequest& request) override;
  absl::StatusOr<v1::PurgeQuarantineItemsResponse> PurgeQuarantine(
      const v1::PurgeQuarantineItemsRequest& request) override;
  absl::StatusOr<v1::UnblockUserResponse> UnblockUser(
      const v1::UnblockUserRequest& request) override;
  absl::StatusOr<v1::ReconcileStoreResponse> ReconcileStore(
      const v1::ReconcileStoreRequest& request) override;

 private:
  // Records the call; returns fail_all.
  absl::Status Enter(const std::string& method);
  v1::FailoverPlanItem PlanStore(const v1::StoreInfo& store, const v1::FailoverRequest& request);
  // One slot's quarantine as its agent would list it (user filter, limit).
  v1::SlotQuarantine ListSlot(const v1::SlotRef& slot, const std::string& store,
                              const v1::ListQuarantineItemsRequest& request);

  FakeCluster* c_;
};

}  // namespace slotkeeper::slotctl

#endif  // SLOTKEEPER_TOOLS_SLOTCTL_FAKE_CLUSTER_CLIENT_H_
