// The Automation service (proto/automation.proto): what operators (slotctl),
// tools and mail proxies call. A thin adapter over the Coordinator on gRPC's
// synchronous API (operator traffic is light; the watch streams hold a
// server thread each while open).
//
// CheckConsistency with verify_data, and ReinstateUnit, ask copies' agents
// for their users' content digests outside the coordinator's lock
// (data_verifier.h, reinstate.h).
//
// Thread-safe. The Coordinator is not owned and must outlive the service.
#ifndef SLOTKEEPER_SLOTMGR_AUTOMATION_SERVICE_H_
#define SLOTKEEPER_SLOTMGR_AUTOMATION_SERVICE_H_

#include <grpcpp/grpcpp.h>

#include <atomic>
#include <functional>
#include <memory>
#include <utility>

#include "proto/automation.grpc.pb.h"
#include "slotmgr/coordinator.h"
#include "slotmgr/data_verifier.h"

namespace slotkeeper::slotmgr {

class AutomationServiceImpl final : public v1::Automation::Service {
 public:
  // `after_action` runs after every state-changing call (slotmgrd flushes
  // the agent streams so that commands go out at once); may be empty.
  // `peers` reaches the agents for data verification (gRPC when null).
  AutomationServiceImpl(Coordinator* core, std::function<void()> after_action,
                        std::unique_ptr<PeerLister> peers = nullptr)
      : core_(core),
        after_action_(std::move(after_action)),
        peers_(peers != nullptr ? std::move(peers) : MakeGrpcPeerLister()) {}

  // Ends open watch streams (for shutdown).
  void Shutdown() { shutdown_ = true; }

  grpc::Status GetClusterStatus(grpc::ServerContext*, const v1::GetClusterStatusRequest*,
                                v1::ClusterStatus*) override;
  grpc::Status ListHosts(grpc::ServerContext*, const v1::ListHostsRequest*,
                         v1::ListHostsResponse*) override;
  grpc::Status GetHost(grpc::ServerContext*, const v1::GetHostRequest*, v1::HostInfo*) override;
  grpc::Status ListStores(grpc::ServerContext*, const v1::ListStoresRequest*,
                          v1::ListStoresResponse*) override;
  grpc::Status GetStore(grpc::ServerContext*, const v1::GetStoreRequest*, v1::StoreInfo*) override;
  grpc::Status CreateStore(grpc::ServerContext*, const v1::CreateStoreRequest*,
                           v1::StoreInfo*) override;
  grpc::Status LookupUser(grpc::ServerContext*, const v1::LookupUserRequest*,
                          v1::UserLocation*) override;
  grpc::Status WatchRouting(grpc::ServerContext*, const v1::WatchRoutingRequest*,
                            grpc::ServerWriter<v1::RoutingChange>*) override;
  grpc::Status ListTasks(grpc::ServerContext*, const v1::ListTasksRequest*,
                         v1::ListTasksResponse*) override;
  grpc::Status ListEvents(grpc::ServerContext*, const v1::ListEventsRequest*,
                          v1::ListEventsResponse*) override;
  grpc::Status WatchEvents(grpc::ServerContext*, const v1::WatchEventsRequest*,
                           grpc::ServerWriter<v1::Event>*) override;
  grpc::Status Failover(grpc::ServerContext*, const v1::FailoverRequest*,
                        v1::FailoverResponse*) override;
  grpc::Status Drain(grpc::ServerContext*, const v1::DrainRequest*, v1::DrainResponse*) override;
  grpc::Status Undrain(grpc::ServerContext*, const v1::DrainRequest*, v1::DrainResponse*) override;
  grpc::Status MarkLost(grpc::ServerContext*, const v1::MarkLostRequest*,
                        v1::MarkLostResponse*) override;
  grpc::Status SetAutomation(grpc::ServerContext*, const v1::SetAutomationRequest*,
                             v1::AutomationState*) override;
  grpc::Status GetAutomation(grpc::ServerContext*, const v1::GetAutomationRequest*,
                             v1::AutomationState*) override;
  grpc::Status AckAutomation(grpc::ServerContext*, const v1::AckAutomationRequest*,
                             v1::AutomationState*) override;
  grpc::Status ReinstateUnit(grpc::ServerContext*, const v1::ReinstateUnitRequest*,
                             v1::ReinstateUnitResponse*) override;
  grpc::Status CheckConsistency(grpc::ServerContext*, const v1::CheckConsistencyRequest*,
                                v1::ConsistencyReport*) override;
  grpc::Status ListQuarantine(grpc::ServerContext*, const v1::ListQuarantineItemsRequest*,
                              v1::ListQuarantineItemsResponse*) override;
  grpc::Status RestoreQuarantined(grpc::ServerContext*, const v1::RestoreQuarantinedRequest*,
                                  v1::RestoreQuarantinedResponse*) override;
  grpc::Status PurgeQuarantine(grpc::ServerContext*, const v1::PurgeQuarantineItemsRequest*,
                               v1::PurgeQuarantineItemsResponse*) override;
  grpc::Status UnblockUser(grpc::ServerContext*, const v1::UnblockUserRequest*,
                           v1::UnblockUserResponse*) override;
  grpc::Status ReconcileStore(grpc::ServerContext*, const v1::ReconcileStoreRequest*,
                              v1::ReconcileStoreResponse*) override;

 private:
  void AfterAction() {
    if (after_action_) after_action_();
  }
  // Who is calling, for the journal: the caller's authenticated identity
  // once channels carry one; the peer's address until then.
  static std::string Caller(grpc::ServerContext* ctx) { return ctx != nullptr ? ctx->peer() : ""; }

  Coordinator* const core_;
  const std::function<void()> after_action_;
  const std::unique_ptr<PeerLister> peers_;
  std::atomic<bool> shutdown_{false};
};

}  // namespace slotkeeper::slotmgr

#endif  // SLOTKEEPER_SLOTMGR_AUTOMATION_SERVICE_H_
