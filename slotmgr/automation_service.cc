#include "slotmgr/automation_service.h"

#include <algorithm>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "base/grpc_util.h"
#include "base/log.h"
#include "base/peer_identity.h"
#include "proto/message_limits.h"
#include "proto/model_util.h"
#include "slotmgr/audit.h"
#include "slotmgr/automation_guard.h"
#include "slotmgr/data_safety.h"
#include "slotmgr/forget_host.h"
#include "slotmgr/model.h"
#include "slotmgr/operator_actions.h"
#include "slotmgr/reinstate.h"
#include "slotmgr/task_actions.h"

namespace slotkeeper::slotmgr {
namespace {

template <typename T>
grpc::Status Reply(absl::StatusOr<T> result, T* out) {
  if (!result.ok()) return ToGrpcStatus(result.status());
  *out = std::move(*result);
  return grpc::Status::OK;
}

}  // namespace

grpc::Status AutomationServiceImpl::GetClusterStatus(grpc::ServerContext* ctx,
                                                     const v1::GetClusterStatusRequest*,
                                                     v1::ClusterStatus* out) {
  if (absl::Status st = Admit(ctx, Role::kViewer, "GetClusterStatus"); !st.ok())
    return ToGrpcStatus(st);
  *out = core_->queries().GetClusterStatus();
  return grpc::Status::OK;
}

grpc::Status AutomationServiceImpl::ListHosts(grpc::ServerContext* ctx, const v1::ListHostsRequest*,
                                              v1::ListHostsResponse* out) {
  if (absl::Status st = Admit(ctx, Role::kViewer, "ListHosts"); !st.ok()) return ToGrpcStatus(st);
  *out = core_->queries().ListHosts();
  return grpc::Status::OK;
}

grpc::Status AutomationServiceImpl::GetHost(grpc::ServerContext* ctx, const v1::GetHostRequest* req,
                                            v1::HostInfo* out) {
  if (absl::Status st = Admit(ctx, Role::kViewer, "GetHost"); !st.ok()) return ToGrpcStatus(st);
  return Reply(core_->queries().GetHost(req->host()), out);
}

grpc::Status AutomationServiceImpl::ListStores(grpc::ServerContext* ctx,
                                               const v1::ListStoresRequest* req,
                                               v1::ListStoresResponse* out) {
  if (absl::Status st = Admit(ctx, Role::kViewer, "ListStores"); !st.ok()) return ToGrpcStatus(st);
  *out = core_->queries().ListStores(req->troubled_only());
  return grpc::Status::OK;
}

grpc::Status AutomationServiceImpl::GetStore(grpc::ServerContext* ctx,
                                             const v1::GetStoreRequest* req, v1::StoreInfo* out) {
  if (absl::Status st = Admit(ctx, Role::kViewer, "GetStore"); !st.ok()) return ToGrpcStatus(st);
  return Reply(core_->queries().GetStore(req->store()), out);
}

grpc::Status AutomationServiceImpl::CreateStore(grpc::ServerContext* ctx,
                                                const v1::CreateStoreRequest* req,
                                                v1::StoreInfo* out) {
  return Mutating(ctx, Role::kAdmin, "CreateStore", *req,
                  [&] { return Reply(slotmgr::CreateStore(*core_, *req), out); });
}

grpc::Status AutomationServiceImpl::LookupUser(grpc::ServerContext* ctx,
                                               const v1::LookupUserRequest* req,
                                               v1::UserLocation* out) {
  if (absl::Status st = Admit(ctx, Role::kViewer, "LookupUser"); !st.ok()) return ToGrpcStatus(st);
  return Reply(core_->queries().LookupUser(req->user()), out);
}

grpc::ServerWriteReactor<v1::RoutingChange>* AutomationServiceImpl::WatchRouting(
    grpc::CallbackServerContext* ctx, const v1::WatchRoutingRequest*) {
  return watches_.OpenRouting(ctx, Admit(ctx, Role::kViewer, "WatchRouting"));
}

grpc::Status AutomationServiceImpl::ListTasks(grpc::ServerContext* ctx,
                                              const v1::ListTasksRequest* req,
                                              v1::ListTasksResponse* out) {
  if (absl::Status st = Admit(ctx, Role::kViewer, "ListTasks"); !st.ok()) return ToGrpcStatus(st);
  *out = core_->queries().ListTasks(*req);
  return grpc::Status::OK;
}

grpc::Status AutomationServiceImpl::CancelTask(grpc::ServerContext* ctx,
                                               const v1::CancelTaskRequest* req,
                                               v1::TaskInfo* out) {
  return Mutating(ctx, Role::kOperator, "CancelTask", *req, [&] {
    return Reply(core_->Mutate<v1::TaskInfo>(
                     [&](Mutation& m) { return CancelTaskAction(m, *req, Actor(ctx)); }),
                 out);
  });
}

grpc::Status AutomationServiceImpl::RetryTask(grpc::ServerContext* ctx,
                                              const v1::RetryTaskRequest* req, v1::TaskInfo* out) {
  return Mutating(ctx, Role::kOperator, "RetryTask", *req, [&] {
    return Reply(core_->Mutate<v1::TaskInfo>(
                     [&](Mutation& m) { return RetryTaskAction(m, *req, Actor(ctx)); }),
                 out);
  });
}

grpc::Status AutomationServiceImpl::ListEvents(grpc::ServerContext* ctx,
                                               const v1::ListEventsRequest* req,
                                               v1::ListEventsResponse* out) {
  if (absl::Status st = Admit(ctx, Role::kViewer, "ListEvents"); !st.ok()) return ToGrpcStatus(st);
  return Reply(core_->queries().ListEvents(*req), out);
}

grpc::ServerWriteReactor<v1::Event>* AutomationServiceImpl::WatchEvents(
    grpc::CallbackServerContext* ctx, const v1::WatchEventsRequest* req) {
  return watches_.OpenEvents(ctx, *req, Admit(ctx, Role::kViewer, "WatchEvents"));
}

grpc::Status AutomationServiceImpl::Failover(grpc::ServerContext* ctx,
                                             const v1::FailoverRequest* req,
                                             v1::FailoverResponse* out) {
  // Forcing past the "behind" and "unhealthy target" refusals risks mail:
  // only an admin may.
  const Role needed = req->force() && !req->dry_run() ? Role::kAdmin : Role::kOperator;
  return Mutating(ctx, needed, req->force() ? "Failover --force" : "Failover", *req,
                  [&] { return Reply(slotmgr::Failover(*core_, *req), out); });
}

grpc::Status AutomationServiceImpl::Drain(grpc::ServerContext* ctx, const v1::DrainRequest* req,
                                          v1::DrainResponse* out) {
  return Mutating(ctx, Role::kOperator, "Drain", *req,
                  [&] { return Reply(slotmgr::Drain(*core_, *req), out); });
}

grpc::Status AutomationServiceImpl::Undrain(grpc::ServerContext* ctx, const v1::DrainRequest* req,
                                            v1::DrainResponse* out) {
  return Mutating(ctx, Role::kOperator, "Undrain", *req,
                  [&] { return Reply(slotmgr::Undrain(*core_, *req), out); });
}

grpc::Status AutomationServiceImpl::ForgetHost(grpc::ServerContext* ctx,
                                               const v1::ForgetHostRequest* req,
                                               v1::ForgetHostResponse* out) {
  return Mutating(ctx, Role::kAdmin, "ForgetHost", *req, [&] {
    return Reply(core_->Mutate<v1::ForgetHostResponse>(
                     [&](Mutation& m) { return slotmgr::ForgetHost(m, *req, Actor(ctx)); }),
                 out);
  });
}

grpc::Status AutomationServiceImpl::MarkLost(grpc::ServerContext* ctx,
                                             const v1::MarkLostRequest* req,
                                             v1::MarkLostResponse* out) {
  return Mutating(ctx, Role::kAdmin, "MarkLost", *req,
                  [&] { return Reply(slotmgr::MarkLost(*core_, *req), out); });
}

grpc::Status AutomationServiceImpl::SetAutomation(grpc::ServerContext* ctx,
                                                  const v1::SetAutomationRequest* req,
                                                  v1::AutomationState* out) {
  // Who paused is the caller's identity, never what the request claims.
  v1::SetAutomationRequest named = *req;
  named.set_set_by(Actor(ctx));
  return Mutating(ctx, Role::kOperator, "SetAutomation", named, [&] {
    if (named.host().empty()) return Reply(slotmgr::SetAutomation(*core_, named), out);
    return Reply(core_->Mutate<v1::AutomationState>(
                     [&](Mutation& m) { return SetHostPause(m, named, named.set_by()); }),
                 out);
  });
}

grpc::Status AutomationServiceImpl::AckAutomation(grpc::ServerContext* ctx,
                                                  const v1::AckAutomationRequest* req,
                                                  v1::AutomationState* out) {
  return Mutating(ctx, Role::kOperator, "AckAutomation", *req, [&] {
    return Reply(core_->Mutate<v1::AutomationState>(
                     [&](Mutation& m) { return AcknowledgeBrake(m, *req, Actor(ctx)); }),
                 out);
  });
}

grpc::Status AutomationServiceImpl::ReinstateUnit(grpc::ServerContext* ctx,
                                                  const v1::ReinstateUnitRequest* req,
                                                  v1::ReinstateUnitResponse* out) {
  return Mutating(ctx, Role::kOperator, "ReinstateUnit", *req, [&] {
    absl::StatusOr<std::vector<ReinstateCandidate>> candidates =
        ReinstateCandidates(core_->queries(), req->host(), req->unit());
    if (!candidates.ok()) return ToGrpcStatus(candidates.status());
    const std::vector<v1::ReinstatedCopy> verified = VerifyCandidates(*candidates, *peers_);
    return Reply(core_->Mutate<v1::ReinstateUnitResponse>(
                     [&](Mutation& m) { return ApplyReinstate(m, *req, verified, Actor(ctx)); }),
                 out);
  });
}

grpc::Status AutomationServiceImpl::GetAutomation(grpc::ServerContext* ctx,
                                                  const v1::GetAutomationRequest*,
                                                  v1::AutomationState* out) {
  if (absl::Status st = Admit(ctx, Role::kViewer, "GetAutomation"); !st.ok())
    return ToGrpcStatus(st);
  *out = core_->queries().GetAutomation();
  return grpc::Status::OK;
}

grpc::Status AutomationServiceImpl::CheckConsistency(grpc::ServerContext* ctx,
                                                     const v1::CheckConsistencyRequest* req,
                                                     v1::ConsistencyReport* out) {
  // Verifying data has every copy's agent hash its users: an operator's
  // decision, not a dashboard's.
  if (absl::Status st =
          Admit(ctx, req->verify_data() ? Role::kOperator : Role::kViewer, "CheckConsistency");
      !st.ok()) {
    return ToGrpcStatus(st);
  }
  *out = core_->queries().CheckModel(req->max_lag_ms());
  if (req->verify_data()) {
    VerifyData(core_->queries().CopiesToVerify(), *peers_, out, req->deep());
  }
  return grpc::Status::OK;
}

// ---- Data safety: listings fan out to agents outside the lock; actions
// go through Coordinator::Mutate (data_safety.h).

grpc::Status AutomationServiceImpl::ListQuarantine(grpc::ServerContext* ctx,
                                                   const v1::ListQuarantineItemsRequest* req,
                                                   v1::ListQuarantineItemsResponse* out) {
  if (absl::Status st = Admit(ctx, Role::kViewer, "ListQuarantine"); !st.ok())
    return ToGrpcStatus(st);
  v1::SlotRef slot;
  slot.set_host(req->host());
  slot.set_slot(req->slot());
  const bool one_slot = !req->host().empty() || !req->slot().empty();
  if (!one_slot && req->store().empty()) {
    return ToGrpcStatus(absl::InvalidArgumentError("name a store, or a host and a slot"));
  }
  absl::StatusOr<std::vector<CopyToVerify>> copies =
      core_->queries().CopiesOf(req->store(), one_slot ? &slot : nullptr);
  if (!copies.ok()) return ToGrpcStatus(copies.status());
  for (const CopyToVerify& c : *copies) {
    v1::SlotQuarantine* sq = out->add_slots();
    *sq->mutable_slot() = c.slot;
    sq->set_store(c.store);
    v1::ListQuarantineRequest lq;
    lq.set_slot(c.slot.slot());
    lq.set_user(req->user());
    lq.set_limit(req->limit());
    absl::StatusOr<v1::ListQuarantineResponse> listed = peers_->ListQuarantine(c.peer_address, lq);
    if (!listed.ok()) {
      sq->set_error(std::string(listed.status().message()));
      continue;
    }
    *sq->mutable_items() = listed->items();
    sq->set_total_items(listed->total_items());
    sq->set_total_bytes(listed->total_bytes());
  }
  return grpc::Status::OK;
}

grpc::Status AutomationServiceImpl::RestoreQuarantined(grpc::ServerContext* ctx,
                                                       const v1::RestoreQuarantinedRequest* req,
                                                       v1::RestoreQuarantinedResponse* out) {
  return Mutating(ctx, Role::kOperator, "RestoreQuarantined", *req, [&] {
    return Reply(core_->Mutate<v1::RestoreQuarantinedResponse>(
                     [&](Mutation& m) { return slotmgr::RestoreQuarantined(m, *req, Actor(ctx)); }),
                 out);
  });
}

grpc::Status AutomationServiceImpl::PurgeQuarantine(grpc::ServerContext* ctx,
                                                    const v1::PurgeQuarantineItemsRequest* req,
                                                    v1::PurgeQuarantineItemsResponse* out) {
  return Mutating(ctx, Role::kAdmin, "PurgeQuarantine", *req, [&] {
    return Reply(core_->Mutate<v1::PurgeQuarantineItemsResponse>(
                     [&](Mutation& m) { return slotmgr::PurgeQuarantine(m, *req, Actor(ctx)); }),
                 out);
  });
}

grpc::Status AutomationServiceImpl::UnblockUser(grpc::ServerContext* ctx,
                                                const v1::UnblockUserRequest* req,
                                                v1::UnblockUserResponse* out) {
  return Mutating(ctx, Role::kOperator, "UnblockUser", *req, [&] {
    return Reply(core_->Mutate<v1::UnblockUserResponse>(
                     [&](Mutation& m) { return slotmgr::UnblockUser(m, *req, Actor(ctx)); }),
                 out);
  });
}

grpc::Status AutomationServiceImpl::ReconcileStore(grpc::ServerContext* ctx,
                                                   const v1::ReconcileStoreRequest* req,
                                                   v1::ReconcileStoreResponse* out) {
  return Mutating(ctx, Role::kOperator, "ReconcileStore", *req,
                  [&] { return RunReconcile(ctx, *req, out); });
}

grpc::Status AutomationServiceImpl::RunReconcile(grpc::ServerContext* ctx,
                                                 const v1::ReconcileStoreRequest& request,
                                                 v1::ReconcileStoreResponse* out) {
  const v1::ReconcileStoreRequest* req = &request;
  absl::StatusOr<v1::StoreInfo> store = core_->queries().GetStore(req->store());
  if (!store.ok()) return ToGrpcStatus(store.status());
  absl::StatusOr<std::vector<CopyToVerify>> copies =
      core_->queries().CopiesOf(req->store(), nullptr);
  if (!copies.ok()) return ToGrpcStatus(copies.status());
  absl::StatusOr<std::vector<v1::SlotRef>> candidates = StrandedCandidates(*store, *req);
  if (!candidates.ok()) return ToGrpcStatus(candidates.status());
  // Ask each candidate what it holds.
  std::vector<v1::SlotRef> sources;
  for (const v1::SlotRef& slot : *candidates) {
    v1::StrandedOn* on = out->add_stranded();
    *on->mutable_slot() = slot;
    for (const CopyToVerify& cv : *copies) {
      if (!model::SameSlot(cv.slot, slot)) continue;
      v1::ListStrandedRequest ls;
      ls.set_slot(slot.slot());
      absl::StatusOr<v1::ListStrandedResponse> listed = peers_->ListStranded(cv.peer_address, ls);
      if (!listed.ok()) {
        on->set_error(std::string(listed.status().message()));
      } else {
        *on->mutable_messages() = listed->messages();
        if (!listed->messages().empty()) sources.push_back(slot);
      }
    }
  }
  if (req->dry_run() || sources.empty()) return grpc::Status::OK;
  absl::StatusOr<v1::ReconcileStoreResponse> r = core_->Mutate<v1::ReconcileStoreResponse>(
      [&](Mutation& m) { return slotmgr::Reconcile(m, *req, sources, Actor(ctx)); });
  if (!r.ok()) return ToGrpcStatus(r.status());
  *out->mutable_master() = r->master();
  *out->mutable_command_ids() = r->command_ids();
  return grpc::Status::OK;
}

std::string AutomationServiceImpl::Actor(grpc::ServerContextBase* ctx) const {
  if (ctx == nullptr) return "anonymous";
  const std::string identity = PeerIdentity(*ctx);
  if (!identity.empty()) return identity;
  // Anonymous: only possible in plaintext mode, where the address is all
  // there is to tell callers apart.
  return absl::StrCat("anonymous (", ctx->peer(), ")");
}

absl::Status AutomationServiceImpl::Admit(grpc::ServerContextBase* ctx, Role needed,
                                          absl::string_view method) const {
  return policy_.Authorize(ctx != nullptr ? PeerIdentity(*ctx) : "", needed, method);
}

grpc::Status AutomationServiceImpl::Mutating(grpc::ServerContext* ctx, Role needed,
                                             absl::string_view method,
                                             const google::protobuf::Message& request,
                                             absl::FunctionRef<grpc::Status()> action) {
  const std::string actor = Actor(ctx);
  if (absl::Status admitted = Admit(ctx, needed, method); !admitted.ok()) {
    RecordAudit(AuditEvent(actor, method, request, admitted));
    return ToGrpcStatus(admitted);
  }
  // Operators' texts (reasons) are bounded like agents' (message_limits.h).
  absl::Status limits = CheckMessageLimits(request, MessageLimits(), method);
  grpc::Status st = limits.ok() ? action() : ToGrpcStatus(limits);
  RecordAudit(AuditEvent(actor, method, request, FromGrpcStatus(st)));
  AfterAction();
  return st;
}

void AutomationServiceImpl::RecordAudit(v1::Event event) {
  absl::StatusOr<bool> recorded = core_->Mutate<bool>([&](Mutation& m) {
    m.journal.Record(m.txn, std::move(event));
    return true;
  });
  if (!recorded.ok()) {
    LogError("coordinator",
             absl::StrCat("audit record not written: ", recorded.status().ToString()));
  }
}

}  // namespace slotkeeper::slotmgr
