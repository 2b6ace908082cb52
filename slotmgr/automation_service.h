// The Automation service (proto/automation.proto): what operators (slotctl),
// tools and mail proxies call. A thin adapter over the Coordinator on gRPC's
// synchronous API (operator traffic is light), but for the watch streams,
// which one thread serves on the callback API (watch_streams.h).
//
// Every call is admitted by the caller's role first (access_policy.h:
// viewer for reads, operator or admin for changes); a refusal is
// PERMISSION_DENIED naming the role needed. Every call that changes the
// cluster is journaled with the caller's identity, the request and its
// outcome, refusals included (audit.h). One method per RPC: the class is
// the generated interface's, and each method only admits, converts and
// delegates.
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

#include "absl/functional/function_ref.h"
#include "proto/automation.grpc.pb.h"
#include "slotmgr/access_policy.h"
#include "slotmgr/coordinator.h"
#include "slotmgr/data_verifier.h"
#include "slotmgr/watch_streams.h"

namespace slotkeeper::slotmgr {

// The two watch methods are on the callback API (watch_streams.h); every
// other method is synchronous.
using AutomationServiceBase = v1::Automation::WithCallbackMethod_WatchEvents<
    v1::Automation::WithCallbackMethod_WatchRouting<v1::Automation::Service>>;

class AutomationServiceImpl final : public AutomationServiceBase {
 public:
  // `after_action` runs after every state-changing call (slotmgrd flushes
  // the agent streams so that commands go out at once); may be empty.
  // `peers` reaches the agents for data verification (gRPC when null).
  // `policy` says who may call what (Default(): anonymous callers, as admin).
  AutomationServiceImpl(Coordinator* core, std::function<void()> after_action,
                        std::unique_ptr<PeerLister> peers = nullptr,
                        AccessPolicy policy = AccessPolicy::Default())
      : core_(core),
        after_action_(std::move(after_action)),
        peers_(peers != nullptr ? std::move(peers) : MakeGrpcPeerLister()),
        policy_(std::move(policy)),
        watches_(&core->queries()) {}

  // Ends open watch streams (for shutdown, before the server's).
  void Shutdown() { watches_.Stop(); }
  size_t open_watches() { return watches_.open_streams(); }

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
  grpc::ServerWriteReactor<v1::RoutingChange>* WatchRouting(
      grpc::CallbackServerContext*, const v1::WatchRoutingRequest*) override;
  grpc::Status ListTasks(grpc::ServerContext*, const v1::ListTasksRequest*,
                         v1::ListTasksResponse*) override;
  grpc::Status CancelTask(grpc::ServerContext*, const v1::CancelTaskRequest*,
                          v1::TaskInfo*) override;
  grpc::Status RetryTask(grpc::ServerContext*, const v1::RetryTaskRequest*, v1::TaskInfo*) override;
  grpc::Status ListEvents(grpc::ServerContext*, const v1::ListEventsRequest*,
                          v1::ListEventsResponse*) override;
  grpc::ServerWriteReactor<v1::Event>* WatchEvents(grpc::CallbackServerContext*,
                                                   const v1::WatchEventsRequest*) override;
  grpc::Status Failover(grpc::ServerContext*, const v1::FailoverRequest*,
                        v1::FailoverResponse*) override;
  grpc::Status Drain(grpc::ServerContext*, const v1::DrainRequest*, v1::DrainResponse*) override;
  grpc::Status Undrain(grpc::ServerContext*, const v1::DrainRequest*, v1::DrainResponse*) override;
  grpc::Status ForgetHost(grpc::ServerContext*, const v1::ForgetHostRequest*,
                          v1::ForgetHostResponse*) override;
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
  // Who is calling, for the journal: the caller's certificate identity, or
  // "anonymous (ADDRESS)" in plaintext mode.
  std::string Actor(grpc::ServerContextBase* ctx) const;
  // OK when the caller holds `needed` for `method`.
  absl::Status Admit(grpc::ServerContextBase* ctx, Role needed, absl::string_view method) const;
  // A call that changes the cluster: admits it, runs `action`, journals
  // the outcome (or the refusal) and runs after_action.
  grpc::Status Mutating(grpc::ServerContext* ctx, Role needed, absl::string_view method,
                        const google::protobuf::Message& request,
                        absl::FunctionRef<grpc::Status()> action);
  void RecordAudit(v1::Event event);
  // ReconcileStore once admitted: asks the candidates, then reconciles.
  grpc::Status RunReconcile(grpc::ServerContext* ctx, const v1::ReconcileStoreRequest& request,
                            v1::ReconcileStoreResponse* out);

  Coordinator* const core_;
  const std::function<void()> after_action_;
  const std::unique_ptr<PeerLister> peers_;
  const AccessPolicy policy_;
  WatchStreams watches_;
};

}  // namespace slotkeeper::slotmgr

#endif  // SLOTKEEPER_SLOTMGR_AUTOMATION_SERVICE_H_
