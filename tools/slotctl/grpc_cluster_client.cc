#include "tools/slotctl/grpc_cluster_client.h"

#include <chrono>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "base/grpc_util.h"

namespace slotkeeper::slotctl {

GrpcClusterClient::GrpcClusterClient(std::string address, absl::Duration timeout,
                                     const std::string& server_name)
    : address_(std::move(address)),
      timeout_(timeout),
      stub_(v1::Automation::NewStub(MakeChannel(address_, server_name))) {}

std::string TransportFailureReason(const grpc::Status& status) {
  if (status.error_code() != grpc::StatusCode::UNAVAILABLE) return "";
  const std::string msg = absl::AsciiStrToLower(status.error_message());
  // gRPC's own connection-level messages; a server that answers UNAVAILABLE
  // on purpose ("cannot act now") says something else.
  struct Known {
    const char* needle;
    const char* reason;
  };
  static const Known kKnown[] = {
      {"connection refused", "connection refused"},
      {"dns resolution failed", "cannot resolve host"},
      {"name or service not known", "cannot resolve host"},
      {"connection reset", "connection reset"},
      {"network is unreachable", "network is unreachable"},
      {"no route to host", "no route to host"},
      {"socket closed", "connection closed"},
      {"failed to connect", "failed to connect"},
      {"connections to all backends failing", "failed to connect"},
  };
  for (const Known& k : kKnown) {
    if (absl::StrContains(msg, k.needle)) return k.reason;
  }
  return "";
}

absl::Status GrpcClusterClient::Convert(const grpc::Status& status) const {
  if (status.ok()) return absl::OkStatus();
  const std::string reason = TransportFailureReason(status);
  if (!reason.empty()) {
    return absl::UnavailableError(
        absl::StrCat("cannot reach slotmgrd at ", address_, ": ", reason));
  }
  if (status.error_code() == grpc::StatusCode::DEADLINE_EXCEEDED) {
    return absl::DeadlineExceededError(absl::StrCat("no answer from slotmgrd at ", address_,
                                                    " within ", absl::FormatDuration(timeout_),
                                                    " (see --timeout)"));
  }
  if (status.error_code() == grpc::StatusCode::UNIMPLEMENTED) {
    return absl::UnimplementedError(absl::StrCat(
        "slotmgrd at ", address_, " does not implement this call (", status.error_message(), ")"));
  }
  return FromGrpcStatus(status);
}

template <typename Req, typename Resp, typename Method>
absl::StatusOr<Resp> GrpcClusterClient::Unary(Method method, const Req& request) {
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + absl::ToChronoMilliseconds(timeout_));
  Resp response;
  grpc::Status status = ((*stub_).*method)(&context, request, &response);
  if (!status.ok()) return Convert(status);
  return response;
}

absl::StatusOr<v1::ClusterStatus> GrpcClusterClient::GetClusterStatus(
    const v1::GetClusterStatusRequest& request) {
  return Unary<v1::GetClusterStatusRequest, v1::ClusterStatus>(
      &v1::Automation::Stub::GetClusterStatus, request);
}
absl::StatusOr<v1::ListHostsResponse> GrpcClusterClient::ListHosts(
    const v1::ListHostsRequest& request) {
  return Unary<v1::ListHostsRequest, v1::ListHostsResponse>(&v1::Automation::Stub::ListHosts,
                                                            request);
}
absl::StatusOr<v1::HostInfo> GrpcClusterClient::GetHost(const v1::GetHostRequest& request) {
  return Unary<v1::GetHostRequest, v1::HostInfo>(&v1::Automation::Stub::GetHost, request);
}
absl::StatusOr<v1::ListStoresResponse> GrpcClusterClient::ListStores(
    const v1::ListStoresRequest& request) {
  return Unary<v1::ListStoresRequest, v1::ListStoresResponse>(&v1::Automation::Stub::ListStores,
                                                              request);
}
absl::StatusOr<v1::StoreInfo> GrpcClusterClient::GetStore(const v1::GetStoreRequest& request) {
  return Unary<v1::GetStoreRequest, v1::StoreInfo>(&v1::Automation::Stub::GetStore, request);
}
absl::StatusOr<v1::StoreInfo> GrpcClusterClient::CreateStore(
    const v1::CreateStoreRequest& request) {
  return Unary<v1::CreateStoreRequest, v1::StoreInfo>(&v1::Automation::Stub::CreateStore, request);
}
absl::StatusOr<v1::UserLocation> GrpcClusterClient::LookupUser(
    const v1::LookupUserRequest& request) {
  return Unary<v1::LookupUserRequest, v1::UserLocation>(&v1::Automation::Stub::LookupUser, request);
}
absl::StatusOr<v1::ListTasksResponse> GrpcClusterClient::ListTasks(
    const v1::ListTasksRequest& request) {
  return Unary<v1::ListTasksRequest, v1::ListTasksResponse>(&v1::Automation::Stub::ListTasks,
                                                            request);
}
absl::StatusOr<v1::TaskInfo> GrpcClusterClient::CancelTask(const v1::CancelTaskRequest& request) {
  return Unary<v1::CancelTaskRequest, v1::TaskInfo>(&v1::Automation::Stub::CancelTask, request);
}
absl::StatusOr<v1::TaskInfo> GrpcClusterClient::RetryTask(const v1::RetryTaskRequest& request) {
  return Unary<v1::RetryTaskRequest, v1::TaskInfo>(&v1::Automation::Stub::RetryTask, request);
}
absl::StatusOr<v1::ForgetHostResponse> GrpcClusterClient::ForgetHost(
    const v1::ForgetHostRequest& request) {
  return Unary<v1::ForgetHostRequest, v1::ForgetHostResponse>(&v1::Automation::Stub::ForgetHost,
                                                              request);
}
absl::StatusOr<v1::ListEventsResponse> GrpcClusterClient::ListEvents(
    const v1::ListEventsRequest& request) {
  return Unary<v1::ListEventsRequest, v1::ListEventsResponse>(&v1::Automation::Stub::ListEvents,
                                                              request);
}
absl::StatusOr<v1::FailoverResponse> GrpcClusterClient::Failover(
    const v1::FailoverRequest& request) {
  return Unary<v1::FailoverRequest, v1::FailoverResponse>(&v1::Automation::Stub::Failover, request);
}
absl::StatusOr<v1::DrainResponse> GrpcClusterClient::Drain(const v1::DrainRequest& request) {
  return Unary<v1::DrainRequest, v1::DrainResponse>(&v1::Automation::Stub::Drain, request);
}
absl::StatusOr<v1::DrainResponse> GrpcClusterClient::Undrain(const v1::DrainRequest& request) {
  return Unary<v1::DrainRequest, v1::DrainResponse>(&v1::Automation::Stub::Undrain, request);
}
absl::StatusOr<v1::MarkLostResponse> GrpcClusterClient::MarkLost(
    const v1::MarkLostRequest& request) {
  return Unary<v1::MarkLostRequest, v1::MarkLostResponse>(&v1::Automation::Stub::MarkLost, request);
}
absl::StatusOr<v1::AutomationState> GrpcClusterClient::SetAutomation(
    const v1::SetAutomationRequest& request) {
  return Unary<v1::SetAutomationRequest, v1::AutomationState>(&v1::Automation::Stub::SetAutomation,
                                                              request);
}
absl::StatusOr<v1::AutomationState> GrpcClusterClient::GetAutomation(
    const v1::GetAutomationRequest& request) {
  return Unary<v1::GetAutomationRequest, v1::AutomationState>(&v1::Automation::Stub::GetAutomation,
                                                              request);
}
absl::StatusOr<v1::AutomationState> GrpcClusterClient::AckAutomation(
    const v1::AckAutomationRequest& request) {
  return Unary<v1::AckAutomationRequest, v1::AutomationState>(&v1::Automation::Stub::AckAutomation,
                                                              request);
}
absl::StatusOr<v1::ReinstateUnitResponse> GrpcClusterClient::ReinstateUnit(
    const v1::ReinstateUnitRequest& request) {
  return Unary<v1::ReinstateUnitRequest, v1::ReinstateUnitResponse>(
      &v1::Automation::Stub::ReinstateUnit, request);
}
absl::StatusOr<v1::ConsistencyReport> GrpcClusterClient::CheckConsistency(
    const v1::CheckConsistencyRequest& request) {
  return Unary<v1::CheckConsistencyRequest, v1::ConsistencyReport>(
      &v1::Automation::Stub::CheckConsistency, request);
}

absl::StatusOr<v1::ListQuarantineItemsResponse> GrpcClusterClient::ListQuarantine(
    const v1::ListQuarantineItemsRequest& request) {
  return Unary<v1::ListQuarantineItemsRequest, v1::ListQuarantineItemsResponse>(
      &v1::Automation::Stub::ListQuarantine, request);
}
absl::StatusOr<v1::RestoreQuarantinedResponse> GrpcClusterClient::RestoreQuarantined(
    const v1::RestoreQuarantinedRequest& request) {
  return Unary<v1::RestoreQuarantinedRequest, v1::RestoreQuarantinedResponse>(
      &v1::Automation::Stub::RestoreQuarantined, request);
}
absl::StatusOr<v1::PurgeQuarantineItemsResponse> GrpcClusterClient::PurgeQuarantine(
    const v1::PurgeQuarantineItemsRequest& request) {
  return Unary<v1::PurgeQuarantineItemsRequest, v1::PurgeQuarantineItemsResponse>(
      &v1::Automation::Stub::PurgeQuarantine, request);
}
absl::StatusOr<v1::UnblockUserResponse> GrpcClusterClient::UnblockUser(
    const v1::UnblockUserRequest& request) {
  return Unary<v1::UnblockUserRequest, v1::UnblockUserResponse>(&v1::Automation::Stub::UnblockUser,
                                                                request);
}
absl::StatusOr<v1::ReconcileStoreResponse> GrpcClusterClient::ReconcileStore(
    const v1::ReconcileStoreRequest& request) {
  return Unary<v1::ReconcileStoreRequest, v1::ReconcileStoreResponse>(
      &v1::Automation::Stub::ReconcileStore, request);
}

absl::Status GrpcClusterClient::WatchRouting(const v1::WatchRoutingRequest& request,
                                             const StreamCallback<v1::RoutingChange>& on_change) {
  grpc::ClientContext context;
  std::unique_ptr<grpc::ClientReader<v1::RoutingChange>> reader =
      stub_->WatchRouting(&context, request);
  v1::RoutingChange change;
  while (reader->Read(&change)) {
    if (!on_change(change)) {
      context.TryCancel();
      reader->Finish();
      return absl::OkStatus();
    }
  }
  return Convert(reader->Finish());
}

absl::Status GrpcClusterClient::WatchEvents(const v1::WatchEventsRequest& request,
                                            const StreamCallback<v1::Event>& on_event) {
  grpc::ClientContext context;
  std::unique_ptr<grpc::ClientReader<v1::Event>> reader = stub_->WatchEvents(&context, request);
  v1::Event event;
  while (reader->Read(&event)) {
    if (!on_event(event)) {
      context.TryCancel();
      reader->Finish();
      return absl::OkStatus();
    }
  }
  return Convert(reader->Finish());
}

}  // namespace slotkeeper::slotctl
