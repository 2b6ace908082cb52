// ClusterClient over gRPC: the real slotmgrd's Automation service.
//
// Every unary call gets a deadline of `timeout` from when it starts; streams
// have none (they end when the server closes them or the callback says
// stop). Calls do not wait for the server to come up: an unreachable server
// fails at once with UNAVAILABLE and a one-line message naming the address,
// e.g. "cannot reach slotmgrd at 127.0.0.1:7300: connection refused".
//
// Not thread-safe (one operator command at a time); owns its channel.
#ifndef SLOTKEEPER_TOOLS_SLOTCTL_GRPC_CLUSTER_CLIENT_H_
#define SLOTKEEPER_TOOLS_SLOTCTL_GRPC_CLUSTER_CLIENT_H_

#include <grpcpp/grpcpp.h>

#include <memory>
#include <string>

#include "absl/time/time.h"
#include "proto/automation.grpc.pb.h"
#include "tools/slotctl/cluster_client.h"

namespace slotkeeper::slotctl {

class GrpcClusterClient : public ClusterClient {
 public:
  // `address` is HOST:PORT (validated by the caller); `timeout` > 0;
  // `server_name` is the identity the coordinator must prove over TLS
  // (empty: the host of `address`).
  GrpcClusterClient(std::string address, absl::Duration timeout,
                    const std::string& server_name = "");

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
  template <typename Req, typename Resp, typename Method>
  absl::StatusOr<Resp> Unary(Method method, const Req& request);
  // Turns a transport failure into the one-line "cannot reach" message;
  // passes the server's own errors through unchanged.
  absl::Status Convert(const grpc::Status& status) const;

  const std::string address_;
  const absl::Duration timeout_;
  std::unique_ptr<v1::Automation::Stub> stub_;
};

// The short reason inside a gRPC transport error ("connection refused",
// "cannot resolve host", ...), or "" when `status` is not a transport
// failure. Exposed for tests.
std::string TransportFailureReason(const grpc::Status& status);

}  // namespace slotkeeper::slotctl

#endif  // SLOTKEEPER_TOOLS_SLOTCTL_GRPC_CLUSTER_CLIENT_H_
