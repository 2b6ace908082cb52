// The seam between slotctl's logic and the coordinator: one method per RPC
// of the Automation service (proto/automation.proto), proto messages in and
// out, absl::Status results.
//
// Implementations: GrpcClusterClient (the real server) and FakeClusterClient
// (tests). The verbs in slotctl.h only ever see this interface.
//
// Error convention (what the caller should do):
//  - NOT_FOUND, INVALID_ARGUMENT, FAILED_PRECONDITION: as the server said;
//    the message names what was wrong.
//  - UNAVAILABLE / DEADLINE_EXCEEDED with a message that already names the
//    server address when the server could not be reached at all.
//
// Instances are used from one thread; implementations need not be
// thread-safe.
#ifndef SLOTKEEPER_TOOLS_SLOTCTL_CLUSTER_CLIENT_H_
#define SLOTKEEPER_TOOLS_SLOTCTL_CLUSTER_CLIENT_H_

#include <functional>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "proto/automation.pb.h"

namespace slotkeeper::slotctl {

namespace v1 = ::slotkeeper::v1;

// Called for every streamed message; return false to stop the stream (the
// stream call then returns OK).
template <typename T>
using StreamCallback = std::function<bool(const T&)>;

class ClusterClient {
 public:
  virtual ~ClusterClient() = default;

  virtual absl::StatusOr<v1::ClusterStatus> GetClusterStatus(
      const v1::GetClusterStatusRequest& request) = 0;
  virtual absl::StatusOr<v1::ListHostsResponse> ListHosts(const v1::ListHostsRequest& request) = 0;
  virtual absl::StatusOr<v1::HostInfo> GetHost(const v1::GetHostRequest& request) = 0;
  virtual absl::StatusOr<v1::ListStoresResponse> ListStores(
      const v1::ListStoresRequest& request) = 0;
  virtual absl::StatusOr<v1::StoreInfo> GetStore(const v1::GetStoreRequest& request) = 0;
  virtual absl::StatusOr<v1::StoreInfo> CreateStore(const v1::CreateStoreRequest& request) = 0;
  virtual absl::StatusOr<v1::UserLocation> LookupUser(const v1::LookupUserRequest& request) = 0;
  // Blocks until the stream ends, fails, or `on_change` returns false.
  virtual absl::Status WatchRouting(const v1::WatchRoutingRequest& request,
                                    const StreamCallback<v1::RoutingChange>& on_change) = 0;
  virtual absl::StatusOr<v1::ListTasksResponse> ListTasks(const v1::ListTasksRequest& request) = 0;
  virtual absl::StatusOr<v1::TaskInfo> CancelTask(const v1::CancelTaskRequest& request) = 0;
  virtual absl::StatusOr<v1::TaskInfo> RetryTask(const v1::RetryTaskRequest& request) = 0;
  virtual absl::StatusOr<v1::ListEventsResponse> ListEvents(
      const v1::ListEventsRequest& request) = 0;
  // Blocks until the stream ends, fails, or `on_event` returns false. No
  // per-call deadline: a follow runs until interrupted.
  virtual absl::Status WatchEvents(const v1::WatchEventsRequest& request,
                                   const StreamCallback<v1::Event>& on_event) = 0;
  virtual absl::StatusOr<v1::FailoverResponse> Failover(const v1::FailoverRequest& request) = 0;
  virtual absl::StatusOr<v1::DrainResponse> Drain(const v1::DrainRequest& request) = 0;
  virtual absl::StatusOr<v1::DrainResponse> Undrain(const v1::DrainRequest& request) = 0;
  virtual absl::StatusOr<v1::ForgetHostResponse> ForgetHost(
      const v1::ForgetHostRequest& request) = 0;
  virtual absl::StatusOr<v1::MarkLostResponse> MarkLost(const v1::MarkLostRequest& request) = 0;
  virtual absl::StatusOr<v1::AutomationState> SetAutomation(
      const v1::SetAutomationRequest& request) = 0;
  virtual absl::StatusOr<v1::AutomationState> GetAutomation(
      const v1::GetAutomationRequest& request) = 0;
  virtual absl::StatusOr<v1::AutomationState> AckAutomation(
      const v1::AckAutomationRequest& request) = 0;
  virtual absl::StatusOr<v1::ReinstateUnitResponse> ReinstateUnit(
      const v1::ReinstateUnitRequest& request) = 0;
  virtual absl::StatusOr<v1::ConsistencyReport> CheckConsistency(
      const v1::CheckConsistencyRequest& request) = 0;
  // Data safety. ListQuarantine and a dry-run ReconcileStore ask the agents;
  // a slot whose agent could not be asked carries an `error` instead.
  virtual absl::StatusOr<v1::ListQuarantineItemsResponse> ListQuarantine(
      const v1::ListQuarantineItemsRequest& request) = 0;
  virtual absl::StatusOr<v1::RestoreQuarantinedResponse> RestoreQuarantined(
      const v1::RestoreQuarantinedRequest& request) = 0;
  virtual absl::StatusOr<v1::PurgeQuarantineItemsResponse> PurgeQuarantine(
      const v1::PurgeQuarantineItemsRequest& request) = 0;
  virtual absl::StatusOr<v1::UnblockUserResponse> UnblockUser(
      const v1::UnblockUserRequest& request) = 0;
  virtual absl::StatusOr<v1::ReconcileStoreResponse> ReconcileStore(
      const v1::ReconcileStoreRequest& request) = 0;
};

}  // namespace slotkeeper::slotctl

#endif  // SLOTKEEPER_TOOLS_SLOTCTL_CLUSTER_CLIENT_H_
