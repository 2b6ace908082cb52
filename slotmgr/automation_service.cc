#include "slotmgr/automation_service.h"

#include <algorithm>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "base/grpc_util.h"
#include "proto/model_util.h"
#include "slotmgr/automation_guard.h"
#include "slotmgr/data_safety.h"
#include "slotmgr/model.h"
#include "slotmgr/reinstate.h"

namespace slotkeeper::slotmgr {
namespace {

template <typename T>
grpc::Status Reply(absl::StatusOr<T> result, T* out) {
  if (!result.ok()) return ToGrpcStatus(result.status());
  *out = std::move(*result);
  return grpc::Status::OK;
}

constexpr absl::Duration kWatchPoll = absl::Milliseconds(500);

}  // namespace

grpc::Status AutomationServiceImpl::GetClusterStatus(grpc::ServerContext*,
                                                     const v1::GetClusterStatusRequest*,
                                                     v1::ClusterStatus* out) {
  *out = core_->queries().GetClusterStatus();
  return grpc::Status::OK;
}

grpc::Status AutomationServiceImpl::ListHosts(grpc::ServerContext*, const v1::ListHostsRequest*,
                                              v1::ListHostsResponse* out) {
  *out = core_->queries().ListHosts();
  return grpc::Status::OK;
}

grpc::Status AutomationServiceImpl::GetHost(grpc::ServerContext*, const v1::GetHostRequest* req,
                                            v1::HostInfo* out) {
  return Reply(core_->queries().GetHost(req->host()), out);
}

grpc::Status AutomationServiceImpl::ListStores(grpc::ServerContext*,
                                               const v1::ListStoresRequest* req,
                                               v1::ListStoresResponse* out) {
  *out = core_->queries().ListStores(req->troubled_only());
  return grpc::Status::OK;
}

grpc::Status AutomationServiceImpl::GetStore(grpc::ServerContext*, const v1::GetStoreRequest* req,
                                             v1::StoreInfo* out) {
  return Reply(core_->queries().GetStore(req->store()), out);
}

grpc::Status AutomationServiceImpl::CreateStore(grpc::ServerContext*,
                                                const v1::CreateStoreRequest* req,
                                                v1::StoreInfo* out) {
  grpc::Status st = Reply(core_->CreateStore(*req), out);
  AfterAction();
  return st;
}

grpc::Status AutomationServiceImpl::LookupUser(grpc::ServerContext*,
                                               const v1::LookupUserRequest* req,
                                               v1::UserLocation* out) {
  return Reply(core_->queries().LookupUser(req->user()), out);
}

grpc::Status AutomationServiceImpl::WatchRouting(grpc::ServerContext* context,
                                                 const v1::WatchRoutingRequest*,
                                                 grpc::ServerWriter<v1::RoutingChange>* writer) {
  uint64_t cursor = core_->queries().RoutingCursor();  // from now on
  while (!context->IsCancelled() && !shutdown_) {
    if (!core_->queries().WaitForRoutingAfter(cursor, kWatchPoll)) continue;
    for (const auto& change : core_->queries().RoutingAfter(cursor, &cursor)) {
      if (!writer->Write(change)) return grpc::Status::OK;
    }
  }
  return grpc::Status::OK;
}

grpc::Status AutomationServiceImpl::ListTasks(grpc::ServerContext*, const v1::ListTasksRequest* req,
                                              v1::ListTasksResponse* out) {
  *out = core_->queries().ListTasks(*req);
  return grpc::Status::OK;
}

grpc::Status AutomationServiceImpl::ListEvents(grpc::ServerContext*,
                                               const v1::ListEventsRequest* req,
                                               v1::ListEventsResponse* out) {
  return Reply(core_->queries().ListEvents(*req), out);
}

grpc::Status AutomationServiceImpl::WatchEvents(grpc::ServerContext* context,
                                                const v1::WatchEventsRequest* req,
                                                grpc::ServerWriter<v1::Event>* writer) {
  uint64_t cursor = req->after_seq();
  if (req->since_ms() > 0 && req->after_seq() == 0) {
    // Start at the first event at or after since_ms.
    v1::ListEventsRequest q;
    q.set_since_ms(req->since_ms());
    q.set_limit(100000);
    absl::StatusOr<v1::ListEventsResponse> past = core_->queries().ListEvents(q);
    if (!past.ok()) return ToGrpcStatus(past.status());
    for (const auto& e : past->events()) {
      if (!writer->Write(e)) return grpc::Status::OK;
      cursor = std::max(cursor, e.seq());
    }
    if (past->events().empty()) {
      // Nothing since then: continue after the newest event.
      cursor = core_->queries().LastEventSeq();
    }
  }
  while (!context->IsCancelled() && !shutdown_) {
    absl::StatusOr<std::vector<v1::Event>> events = core_->queries().EventsAfter(cursor, 1000);
    if (!events.ok()) return ToGrpcStatus(events.status());
    for (const auto& e : *events) {
      if (!writer->Write(e)) return grpc::Status::OK;
      cursor = e.seq();
    }
    if (events->empty()) core_->queries().WaitForEventAfter(cursor, kWatchPoll);
  }
  return grpc::Status::OK;
}

grpc::Status AutomationServiceImpl::Failover(grpc::ServerContext*, const v1::FailoverRequest* req,
                                             v1::FailoverResponse* out) {
  grpc::Status st = Reply(core_->Failover(*req), out);
  AfterAction();
  return st;
}

grpc::Status AutomationServiceImpl::Drain(grpc::ServerContext*, const v1::DrainRequest* req,
                                          v1::DrainResponse* out) {
  grpc::Status st = Reply(core_->Drain(*req), out);
  AfterAction();
  return st;
}

grpc::Status AutomationServiceImpl::Undrain(grpc::ServerContext*, const v1::DrainRequest* req,
                                            v1::DrainResponse* out) {
  grpc::Status st = Reply(core_->Undrain(*req), out);
  AfterAction();
  return st;
}

grpc::Status AutomationServiceImpl::MarkLost(grpc::ServerContext*, const v1::MarkLostRequest* req,
                                             v1::MarkLostResponse* out) {
  grpc::Status st = Reply(core_->MarkLost(*req), out);
  AfterAction();
  return st;
}

grpc::Status AutomationServiceImpl::SetAutomation(grpc::ServerContext* ctx,
                                                  const v1::SetAutomationRequest* req,
                                                  v1::AutomationState* out) {
  grpc::Status st = req->host().empty()
                        ? Reply(core_->SetAutomation(*req), out)
                        : Reply(core_->Mutate<v1::AutomationState>([&](Mutation& m) {
                            return SetHostPause(m, *req, Caller(ctx));
                          }),
                                out);
  AfterAction();
  return st;
}

grpc::Status AutomationServiceImpl::AckAutomation(grpc::ServerContext* ctx,
                                                  const v1::AckAutomationRequest* req,
                                                  v1::AutomationState* out) {
  grpc::Status st = Reply(core_->Mutate<v1::AutomationState>(
                              [&](Mutation& m) { return AcknowledgeBrake(m, *req, Caller(ctx)); }),
                          out);
  AfterAction();
  return st;
}

grpc::Status AutomationServiceImpl::ReinstateUnit(grpc::ServerContext* ctx,
                                                  const v1::ReinstateUnitRequest* req,
                                                  v1::ReinstateUnitResponse* out) {
  absl::StatusOr<std::vector<ReinstateCandidate>> candidates =
      ReinstateCandidates(core_->queries(), req->host(), req->unit());
  if (!candidates.ok()) return ToGrpcStatus(candidates.status());
  const std::vector<v1::ReinstatedCopy> verified = VerifyCandidates(*candidates, *peers_);
  grpc::Status st = Reply(core_->Mutate<v1::ReinstateUnitResponse>([&](Mutation& m) {
    return ApplyReinstate(m, *req, verified, Caller(ctx));
  }),
                          out);
  AfterAction();
  return st;
}

grpc::Status AutomationServiceImpl::GetAutomation(grpc::ServerContext*,
                                                  const v1::GetAutomationRequest*,
                                                  v1::AutomationState* out) {
  *out = core_->queries().GetAutomation();
  return grpc::Status::OK;
}

grpc::Status AutomationServiceImpl::CheckConsistency(grpc::ServerContext*,
                                                     const v1::CheckConsistencyRequest* req,
                                                     v1::ConsistencyReport* out) {
  *out = core_->queries().CheckModel(req->max_lag_ms());
  if (req->verify_data()) {
    VerifyData(core_->queries().CopiesToVerify(), *peers_, out, req->deep());
  }
  return grpc::Status::OK;
}

// ---- Data safety: listings fan out to agents outside the lock; actions
// go through Coordinator::Mutate (data_safety.h).

grpc::Status AutomationServiceImpl::ListQuarantine(grpc::ServerContext*,
                                                   const v1::ListQuarantineItemsRequest* req,
                                                   v1::ListQuarantineItemsResponse* out) {
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
  absl::StatusOr<v1::RestoreQuarantinedResponse> r = core_->Mutate<v1::RestoreQuarantinedResponse>(
      [&](Mutation& m) { return slotmgr::RestoreQuarantined(m, *req, Caller(ctx)); });
  if (!r.ok()) return ToGrpcStatus(r.status());
  *out = *std::move(r);
  AfterAction();
  return grpc::Status::OK;
}

grpc::Status AutomationServiceImpl::PurgeQuarantine(grpc::ServerContext* ctx,
                                                    const v1::PurgeQuarantineItemsRequest* req,
                                                    v1::PurgeQuarantineItemsResponse* out) {
  absl::StatusOr<v1::PurgeQuarantineItemsResponse> r =
      core_->Mutate<v1::PurgeQuarantineItemsResponse>(
          [&](Mutation& m) { return slotmgr::PurgeQuarantine(m, *req, Caller(ctx)); });
  if (!r.ok()) return ToGrpcStatus(r.status());
  *out = *std::move(r);
  AfterAction();
  return grpc::Status::OK;
}

grpc::Status AutomationServiceImpl::UnblockUser(grpc::ServerContext* ctx,
                                                const v1::UnblockUserRequest* req,
                                                v1::UnblockUserResponse* out) {
  absl::StatusOr<v1::UnblockUserResponse> r = core_->Mutate<v1::UnblockUserResponse>(
      [&](Mutation& m) { return slotmgr::UnblockUser(m, *req, Caller(ctx)); });
  if (!r.ok()) return ToGrpcStatus(r.status());
  *out = *std::move(r);
  AfterAction();
  return grpc::Status::OK;
}

grpc::Status AutomationServiceImpl::ReconcileStore(grpc::ServerContext* ctx,
                                                   const v1::ReconcileStoreRequest* req,
                                                   v1::ReconcileStoreResponse* out) {
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
      [&](Mutation& m) { return slotmgr::Reconcile(m, *req, sources, Caller(ctx)); });
  if (!r.ok()) return ToGrpcStatus(r.status());
  *out->mutable_master() = r->master();
  *out->mutable_command_ids() = r->command_ids();
  AfterAction();
  return grpc::Status::OK;
}

}  // namespace slotkeeper::slotmgr
