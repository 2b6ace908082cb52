// The Automation API's changes (operator_actions.h).
#include "slotmgr/operator_actions.h"

#include <functional>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "absl/cleanup/cleanup.h"
#include "absl/strings/str_cat.h"
#include "base/status_macros.h"
#include "proto/event_kinds.h"
#include "proto/model_util.h"
#include "slotmgr/automation_guard.h"
#include "slotmgr/lost_units.h"
#include "slotmgr/promoter.h"
#include "slotmgr/view_builder.h"

namespace slotkeeper::slotmgr {
namespace {

absl::Status ValidateCreateStore(const v1::CreateStoreRequest& req) {
  SK_RETURN_IF_ERROR(model::ValidateName(model::NameKind::kStore, req.store()));
  if (req.master().host().empty() || req.master().slot().empty()) {
    return absl::InvalidArgumentError("master slot (host and slot) is required");
  }
  if (req.replicas_size() > 0 && req.copies() > 0) {
    return absl::InvalidArgumentError("give either explicit replicas or a number of copies");
  }
  return absl::OkStatus();
}

// A slot a new store may take: a usable spare, or the recognised copy being
// adopted as its master (`adopting`).
absl::Status CheckNewCopySlot(const ClusterModel& model, const v1::CreateStoreRequest& req,
                              const v1::SlotRef& ref, bool adopting) {
  const v1::SlotInfo* s = FindSlot(model, ref);
  if (s == nullptr) return absl::NotFoundError(absl::StrCat("no slot ", model::SlotName(ref)));
  const bool adopted_master = adopting && model::SlotName(ref) == model::SlotName(req.master()) &&
                              s->store() == req.store();
  if (!adopted_master && (s->role() != v1::SLOT_SPARE || !s->store().empty())) {
    return absl::FailedPreconditionError(
        absl::StrCat("slot ", model::SlotName(ref), " is ", model::Name(s->role()), ", not spare"));
  }
  if (!s->usable()) {
    return absl::FailedPreconditionError(
        absl::StrCat("slot ", model::SlotName(ref), " is unusable: ", s->unusable_reason()));
  }
  return absl::OkStatus();
}

// The replicas placement finds for a new store of `copies` mastered on
// req.master(), planned as if the adopted copy's store did not exist yet
// (it is put back whatever the outcome). FAILED_PRECONDITION if fewer than
// copies - 1 fit.
absl::StatusOr<std::vector<v1::SlotRef>> PlaceNewStoreReplicas(
    ClusterModel& model, const std::function<std::optional<ClusterView>()>& snapshot,
    const v1::CreateStoreRequest& req, uint32_t copies, bool adopting,
    const CoordinatorConfig& config) {
  std::optional<StoreRecord> adopted;
  if (adopting) {
    adopted = std::move(model.stores[req.store()]);
    model.stores.erase(req.store());
  }
  auto restore = absl::MakeCleanup([&] {
    if (adopted) model.stores[req.store()] = std::move(*adopted);
  });
  std::optional<ClusterView> view = snapshot();
  if (!view) return absl::InternalError("the model is inconsistent; see the log");
  const v1::SlotInfo* ms = FindSlot(model, req.master());
  SK_ASSIGN_OR_RETURN(PlacementOutcome plan, PlaceNewStore(*view, req.store(), req.master(), copies,
                                                           ms->used_bytes(), config));
  if (plan.placed.size() + 1 < copies) {
    auto why = plan.refused.find(req.store());
    return absl::FailedPreconditionError(absl::StrCat(
        "cannot place ", copies - 1, " replicas for ", req.store(), ": ",
        why != plan.refused.end() ? why->second : std::string("not enough spare slots")));
  }
  std::vector<v1::SlotRef> targets;
  for (const auto& p : plan.placed) targets.push_back(p.target);
  return targets;
}

// A new store's record: its master, in sync, at epoch 1.
StoreRecord NewStoreRecord(const v1::CreateStoreRequest& req, uint32_t copies) {
  StoreRecord rec;
  v1::StoreInfo* si = rec.mutable_info();
  si->set_name(req.store());
  si->set_required_copies(copies);
  si->set_master_epoch(1);
  v1::Copy* mc = si->add_copies();
  *mc->mutable_slot() = req.master();
  mc->set_role(v1::SLOT_MASTER);
  mc->set_usable(true);
  mc->set_in_sync(true);
  return rec;
}

// What draining `h` (only the filesystems `mounts`, when not empty) does
// with each copy there: a master moves to the replica promotion would pick
// (on the model as it is now); the other copies stay.
v1::DrainResponse PlanDrain(Mutation& m, const v1::HostInfo& h,
                            const std::set<std::string>& mounts) {
  v1::DrainResponse out;
  const std::optional<ClusterView> view = m.failover->view();
  std::vector<v1::DrainCopy> others;
  for (const v1::SlotInfo& s : h.slots()) {
    if (s.store().empty() || s.role() == v1::SLOT_SPARE) continue;
    if (!mounts.empty() && !mounts.count(s.filesystem())) continue;
    v1::DrainCopy c;
    c.set_store(s.store());
    *c.mutable_slot() = s.ref();
    c.set_role(s.role());
    c.set_bytes(s.used_bytes());
    auto sit = m.model.stores.find(s.store());
    if (sit != m.model.stores.end()) {
      if (const v1::Copy* copy = FindCopy(sit->second, c.slot())) c.set_users(copy->user_count());
    }
    if (s.role() != v1::SLOT_MASTER) {
      others.push_back(std::move(c));
      continue;
    }
    if (!view) {
      c.set_refused("the planners' view of the cluster could not be built");
    } else {
      PromotionChoice choice = ChoosePromotion(*view, s.store(), m.config, false, nullptr);
      if (choice.target) {
        *c.mutable_to() = *choice.target;
        out.set_masters_to_move(out.masters_to_move() + 1);
      } else {
        c.set_refused(choice.refused.empty() ? "no replica can be promoted" : choice.refused);
      }
    }
    *out.add_copies() = std::move(c);
  }
  for (v1::DrainCopy& c : others) *out.add_copies() = std::move(c);
  return out;
}

}  // namespace

absl::StatusOr<v1::StoreInfo> CreateStore(Mutation& m, const v1::CreateStoreRequest& req) {
  SK_RETURN_IF_ERROR(ValidateCreateStore(req));
  ClusterModel& model = m.model;
  // A slot filled before the store was declared (mail copied in, or a
  // coordinator rebuilt from nothing) is recognised from its store marker
  // and adopted as a masterless copy. Creating the store on exactly that
  // slot takes it over; anything else about an existing store is refused.
  bool adopting = false;
  if (auto existing = model.stores.find(req.store()); existing != model.stores.end()) {
    const v1::StoreInfo& info = existing->second.info();
    adopting = info.master_epoch() == 0 && info.copies_size() == 1 &&
               info.copies(0).role() == v1::SLOT_REPLICA &&
               model::SlotName(info.copies(0).slot()) == model::SlotName(req.master());
    if (!adopting) {
      return absl::AlreadyExistsError(absl::StrCat("store '", req.store(), "' exists"));
    }
  }
  SK_RETURN_IF_ERROR(CheckNewCopySlot(model, req, req.master(), adopting));
  std::set<std::string> hosts{req.master().host()};
  for (const auto& r : req.replicas()) {
    SK_RETURN_IF_ERROR(CheckNewCopySlot(model, req, r, adopting));
    if (!hosts.insert(r.host()).second) {
      return absl::InvalidArgumentError(
          absl::StrCat("two copies of ", req.store(), " on host ", r.host()));
    }
  }
  const uint32_t copies = req.replicas_size() > 0 ? req.replicas_size() + 1
                          : req.copies() > 0      ? req.copies()
                                                  : m.config.default_copies;
  std::vector<v1::SlotRef> targets(req.replicas().begin(), req.replicas().end());
  if (req.replicas_size() == 0 && copies > 1) {
    // Planned before anything changes, so that a refusal changes nothing.
    SK_ASSIGN_OR_RETURN(
        targets, PlaceNewStoreReplicas(model, m.failover->view, req, copies, adopting, m.config));
  }
  Txn& txn = m.txn;
  model.stores[req.store()] = NewStoreRecord(req, copies);
  SetSlotRole(model, txn, req.master(), v1::SLOT_MASTER, req.store()).IgnoreError();
  m.failover->leases.Grant(model::SlotName(req.master()), m.now.mono_ms + m.config.lease_ms);
  m.outbox.Issue(txn, req.master().host(),
                 MakePromote(req.store(), req.master().slot(), 1, m.config.lease_ms));
  m.journal.Record(txn, event_kind::kStoreCreated, v1::INFO,
                   absl::StrCat("store ", req.store(), " created on ",
                                model::SlotName(req.master()), " with ", copies, " copies"),
                   req.master().host(), req.master().slot(), req.store());
  for (const auto& t : targets) {
    v1::Copy* c = model.stores[req.store()].mutable_info()->add_copies();
    *c->mutable_slot() = t;
    c->set_role(v1::SLOT_SEEDING);
    c->set_usable(true);
    SetSlotRole(model, txn, t, v1::SLOT_SEEDING, req.store()).IgnoreError();
    m.tasks->CreateTask(txn, req.store(), req.master(), t, v1::SlotRef());
  }
  m.failover->recompute(txn);
  if (AutomationRunning(*m.automation)) m.tasks->Schedule(txn);
  return StoreInfoWithUsers(model.stores[req.store()], *m.users);
}

absl::StatusOr<v1::FailoverResponse> Failover(Mutation& m, const v1::FailoverRequest& req) {
  if (req.store().empty() == req.host().empty()) {
    return absl::InvalidArgumentError("give exactly one of store or host");
  }
  if (!req.to().host().empty() && req.store().empty()) {
    return absl::InvalidArgumentError("'to' is only allowed with a store");
  }
  ClusterModel& model = m.model;
  std::vector<std::string> stores;
  if (!req.store().empty()) {
    if (!model.stores.count(req.store())) {
      return absl::NotFoundError(absl::StrCat("no store '", req.store(), "'"));
    }
    stores.push_back(req.store());
  } else {
    if (!model.hosts.count(req.host())) {
      return absl::NotFoundError(absl::StrCat("no host '", req.host(), "'"));
    }
    for (const auto& [name, rec] : model.stores) {
      const v1::Copy* master = MasterCopy(rec);
      if (master != nullptr && master->slot().host() == req.host()) stores.push_back(name);
    }
  }
  v1::FailoverResponse out;
  Txn& txn = m.txn;
  FailoverEnv& env = *m.failover;
  for (const auto& name : stores) {
    StoreRecord& rec = model.stores[name];
    v1::FailoverPlanItem* item = out.add_items();
    item->set_store(name);
    const v1::Copy* master = MasterCopy(rec);
    if (master != nullptr) *item->mutable_from() = master->slot();
    std::optional<ClusterView> view = env.view();  // again after each promotion
    if (!view) return absl::InternalError("the model is inconsistent; see the log");
    PromotionChoice choice = m.promoter->Choose(env, *view, rec, req.force(),
                                                req.to().host().empty() ? nullptr : &req.to());
    if (!choice.target) {
      item->set_refused(choice.refused);
      continue;
    }
    *item->mutable_to() = *choice.target;
    if (req.dry_run()) continue;
    const std::string why = req.reason().empty() ? "operator failover" : req.reason();
    if (!env.leases.MayBeValid(rec.info(), m.now.mono_ms)) {
      m.promoter->Promote(env, txn, rec, *choice.target, why, false);
    } else {
      // Fence first: stop renewing, ask the old master to demote; the
      // promotion follows its acknowledgement or the lease's end.
      *rec.mutable_pending_target() = *choice.target;
      rec.set_pending_forced(req.force());
      txn.stores.insert(name);
      m.outbox.Issue(txn, master->slot().host(),
                     MakeDemote(name, master->slot().slot(), rec.info().master_epoch(), why));
      m.journal.Record(
          txn, event_kind::kStoreFailoverRequested, v1::WARNING,
          absl::StrCat("operator failover of ", name, " to ", model::SlotName(*choice.target),
                       ": waiting for ", model::SlotName(master->slot()), " to give up its lease"),
          master->slot().host(), master->slot().slot(), name);
    }
    item->set_done(true);
  }
  return out;
}

absl::StatusOr<v1::DrainResponse> Drain(Mutation& m, const v1::DrainRequest& req) {
  ClusterModel& model = m.model;
  SK_ASSIGN_OR_RETURN(HostRecord* const host, FindOperatorHost(model, req.host()));
  v1::HostInfo* h = host->mutable_info();
  std::set<std::string> mounts;
  v1::UnitInfo* unit = nullptr;
  if (!req.unit().empty()) {
    for (auto& u : *h->mutable_units()) {
      if (u.name() == req.unit()) unit = &u;
    }
    if (unit == nullptr) {
      return absl::NotFoundError(absl::StrCat("no drive unit '", req.unit(), "' on ", req.host()));
    }
    for (const auto& f : h->filesystems()) {
      if (f.unit() == req.unit()) mounts.insert(f.mount_point());
    }
  }
  // The plan is made on the model as the drain leaves it (the host or unit
  // draining), so that a dry run says what the drain does; a dry run puts
  // the flags back as they were.
  const v1::HostInfo before = *h;
  if (unit != nullptr) {
    unit->set_draining(true);
  } else {
    h->set_draining(true);
    h->set_drain_reason(req.reason());
  }
  v1::DrainResponse out = PlanDrain(m, *h, mounts);
  if (req.dry_run()) {
    *h = before;
    return out;
  }
  Txn& txn = m.txn;
  txn.hosts.insert(req.host());
  for (const v1::DrainCopy& c : out.copies()) {
    if (c.role() != v1::SLOT_MASTER || c.to().host().empty()) continue;
    model.stores[c.store()].set_moving_master(true);
    txn.stores.insert(c.store());
  }
  out.set_done(true);
  m.journal.Record(txn, event_kind::kHostDrain, v1::WARNING,
                   absl::StrCat("drain ", req.host(), req.unit().empty() ? "" : "/" + req.unit(),
                                ": ", out.masters_to_move(), " masters to move",
                                req.reason().empty() ? "" : " (" + req.reason() + ")"),
                   req.host(), "", "", "", req.unit());
  return out;
}

absl::StatusOr<v1::DrainResponse> Undrain(Mutation& m, const v1::DrainRequest& req) {
  ClusterModel& model = m.model;
  SK_ASSIGN_OR_RETURN(HostRecord* const host, FindOperatorHost(model, req.host()));
  v1::HostInfo* h = host->mutable_info();
  bool found = req.unit().empty();
  for (auto& u : *h->mutable_units()) {
    if (req.unit().empty() || u.name() == req.unit()) {
      u.set_draining(false);
      found = true;
    }
  }
  if (!found)
    return absl::NotFoundError(absl::StrCat("no drive unit '", req.unit(), "' on ", req.host()));
  if (req.unit().empty()) {
    h->set_draining(false);
    h->set_drain_reason("");
  }
  Txn& txn = m.txn;
  txn.hosts.insert(req.host());
  for (const auto& s : h->slots()) {
    if (s.role() != v1::SLOT_MASTER) continue;
    auto sit = model.stores.find(s.store());
    if (sit != model.stores.end() && sit->second.moving_master()) {
      sit->second.set_moving_master(false);
      txn.stores.insert(s.store());
    }
  }
  m.journal.Record(txn, event_kind::kHostUndrain, v1::INFO,
                   absl::StrCat("undrain ", req.host(), req.unit().empty() ? "" : "/" + req.unit()),
                   req.host(), "", "", "", req.unit());
  return v1::DrainResponse();
}

absl::StatusOr<v1::MarkLostResponse> MarkLost(Mutation& m, const v1::MarkLostRequest& req) {
  ClusterModel& model = m.model;
  SK_ASSIGN_OR_RETURN(HostRecord* const host, FindOperatorHost(model, req.host()));
  HostRecord& rec = *host;
  std::vector<v1::UnitInfo*> units;
  bool found = false;
  for (auto& u : *rec.mutable_info()->mutable_units()) {
    if (!req.unit().empty() && u.name() != req.unit()) continue;
    found = true;
    if (u.state() != v1::UNIT_LOST) units.push_back(&u);
  }
  if (!found) {
    return absl::NotFoundError(absl::StrCat("no drive unit '", req.unit(), "' on ", req.host()));
  }
  Txn& txn = m.txn;
  if (HourlyLimitDecision d = UnitsLostLimit(m, static_cast<int>(units.size()));
      !req.force() && !d.allowed) {
    return absl::FailedPreconditionError(absl::StrCat(
        "declaring ", units.size(), " more drive unit(s) lost would pass the limit: ", d.reason,
        "; --force exceeds it (nothing was changed)"));
  }
  std::set<std::string> before;
  for (const auto& [name, s] : model.stores) {
    for (const auto& c : s.info().copies()) {
      if (c.role() == v1::SLOT_LOST) before.insert(model::SlotName(c.slot()));
    }
  }
  const std::string why = absl::StrCat("declared lost by an operator",
                                       req.force() ? " (past the hourly limit, forced)" : "",
                                       req.reason().empty() ? "" : ": " + req.reason());
  for (v1::UnitInfo* u : units) {
    DeclareUnitLost(m, rec, *u, why);
    NoteUnitLost(m, req.host(), u->name());
  }
  if (m.recompute) m.failover->recompute(txn);
  m.recompute = false;  // derived above, before the replacements are planned
  v1::MarkLostResponse out;
  for (const auto& [name, s] : model.stores) {
    for (const auto& c : s.info().copies()) {
      if (c.role() == v1::SLOT_LOST && !before.count(model::SlotName(c.slot()))) {
        out.add_affected_stores(name);
        break;
      }
    }
  }
  // An explicit operator decision: act even while automation is paused or
  // the evidence brake is engaged, and past the hourly re-replication limit
  // (what it places still counts toward it); promotion stays under the
  // failover rules.
  const TaskManager::Replanned planned = m.tasks->PlanReplacements(txn);
  NoteRereplications(m, planned.stores, 0);
  for (const auto& id : planned.tasks) out.add_tasks_created(id);
  if (AutomationRunning(*m.automation)) m.tasks->Schedule(txn);
  return out;
}

absl::StatusOr<v1::AutomationState> SetAutomation(Mutation& m,
                                                  const v1::SetAutomationRequest& req) {
  if (req.paused() && req.reason().empty()) {
    return absl::InvalidArgumentError("a reason is required to pause automation");
  }
  v1::AutomationState* as = m.automation->mutable_state();
  Txn& txn = m.txn;
  const int64_t now = m.now.wall_ms;
  if (req.paused()) {
    as->set_mode(v1::AUTOMATION_PAUSED);
    as->set_reason(req.reason());
    as->set_since_ms(now);
    as->set_set_by(req.set_by());
    m.journal.Record(txn, event_kind::kAutomationPaused, v1::WARNING,
                     absl::StrCat("automation paused by ",
                                  req.set_by().empty() ? "?" : req.set_by(), ": ", req.reason()));
  } else {
    // The brake is checked again at the next tick: if the condition still
    // holds, automation freezes again (with an event).
    as->set_mode(v1::AUTOMATION_RUNNING);
    as->set_reason(req.reason());
    as->set_since_ms(now);
    as->set_set_by(req.set_by());
    m.journal.Record(
        txn, event_kind::kAutomationResumed, v1::INFO,
        absl::StrCat("automation resumed by ", req.set_by().empty() ? "?" : req.set_by(),
                     req.reason().empty() ? "" : ": " + req.reason()));
  }
  txn.automation = true;
  return *as;
}

absl::StatusOr<v1::StoreInfo> CreateStore(Coordinator& core, const v1::CreateStoreRequest& req) {
  return core.Mutate<v1::StoreInfo>([&](Mutation& m) { return CreateStore(m, req); });
}

absl::StatusOr<v1::FailoverResponse> Failover(Coordinator& core, const v1::FailoverRequest& req) {
  return core.Mutate<v1::FailoverResponse>([&](Mutation& m) { return Failover(m, req); });
}

absl::StatusOr<v1::DrainResponse> Drain(Coordinator& core, const v1::DrainRequest& req) {
  return core.Mutate<v1::DrainResponse>([&](Mutation& m) { return Drain(m, req); });
}

absl::StatusOr<v1::DrainResponse> Undrain(Coordinator& core, const v1::DrainRequest& req) {
  return core.Mutate<v1::DrainResponse>([&](Mutation& m) { return Undrain(m, req); });
}

absl::StatusOr<v1::MarkLostResponse> MarkLost(Coordinator& core, const v1::MarkLostRequest& req) {
  return core.Mutate<v1::MarkLostResponse>([&](Mutation& m) { return MarkLost(m, req); });
}

absl::StatusOr<v1::AutomationState> SetAutomation(Coordinator& core,
                                                  const v1::SetAutomationRequest& req) {
  return core.Mutate<v1::AutomationState>([&](Mutation& m) { return SetAutomation(m, req); });
}

}  // namespace slotkeeper::slotmgr
