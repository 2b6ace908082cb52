// Coordinator: operator actions, queries and watches (the Automation API).
#include <algorithm>
#include <optional>

#include "absl/cleanup/cleanup.h"
#include "absl/strings/str_cat.h"
#include "proto/event_kinds.h"
#include "proto/model_util.h"
#include "slotmgr/coordinator.h"
#include "slotmgr/model.h"

namespace slotkeeper::slotmgr {
namespace {

bool Troubled(const v1::HostInfo& h) {
  return h.state() != v1::HOST_UP || h.draining() || h.clock_skewed() || h.conditions_size() > 0;
}

}  // namespace

v1::Endpoint Coordinator::EndpointLocked(const v1::SlotRef& ref) {
  v1::Endpoint ep;
  *ep.mutable_slot() = ref;
  if (const v1::SlotInfo* s = FindSlot(model_, ref)) {
    ep.set_service_address(s->service_address());
    ep.set_usable(s->usable());
  }
  return ep;
}

v1::StoreInfo Coordinator::StoreInfoLocked(const StoreRecord& rec) {
  v1::StoreInfo info = rec.info();
  auto it = user_counts_.find(info.name());
  info.set_user_count(it == user_counts_.end() ? 0 : it->second);
  return info;
}

v1::ClusterStatus Coordinator::GetClusterStatus() {
  absl::MutexLock lock(&mu_);
  v1::ClusterStatus out;
  out.set_coordinator_time_ms(clock_->NowMs());
  std::map<v1::HostState, uint32_t> by_state;
  for (const auto& [name, rec] : model_.hosts) {
    const v1::HostInfo& h = rec.info();
    ++by_state[h.state()];
    out.set_hosts_draining(out.hosts_draining() + h.draining());
    if (Troubled(h)) *out.add_troubled_hosts() = h;
    for (const auto& s : h.slots()) {
      switch (s.role()) {
        case v1::SLOT_MASTER:
          out.set_slots_master(out.slots_master() + 1);
          break;
        case v1::SLOT_REPLICA:
          out.set_slots_replica(out.slots_replica() + 1);
          break;
        case v1::SLOT_SEEDING:
          out.set_slots_seeding(out.slots_seeding() + 1);
          break;
        case v1::SLOT_SPARE:
          out.set_slots_spare(out.slots_spare() + 1);
          break;
        case v1::SLOT_LOST:
          out.set_slots_lost(out.slots_lost() + 1);
          break;
        default:
          break;
      }
    }
  }
  for (const auto& [state, n] : by_state) {
    v1::HostStateCount* c = out.add_hosts_by_state();
    c->set_state(state);
    c->set_count(n);
  }
  out.set_stores_total(model_.stores.size());
  for (const auto& [name, rec] : model_.stores) {
    if (rec.info().state() == v1::STORE_HEALTHY) {
      out.set_stores_healthy(out.stores_healthy() + 1);
    } else {
      *out.add_troubled_stores() = StoreInfoLocked(rec);
    }
  }
  v1::RecoveryProgress* rp = out.mutable_recovery();
  std::set<std::string> recovering;
  for (const auto& [id, t] : model_.tasks) {
    const v1::TaskInfo& ti = t.info();
    if (model::IsTaskFinished(ti.state())) continue;
    recovering.insert(ti.store());
    if (ti.state() == v1::TASK_RUNNING) {
      rp->set_tasks_running(rp->tasks_running() + 1);
      rp->set_bytes_per_second(rp->bytes_per_second() + ti.progress().bytes_per_second());
    } else {
      rp->set_tasks_queued(rp->tasks_queued() + 1);
    }
    rp->set_users_done(rp->users_done() + ti.progress().users_done());
    rp->set_users_total(rp->users_total() + ti.progress().users_total());
    rp->set_bytes_done(rp->bytes_done() + ti.progress().bytes_done());
    rp->set_bytes_total(rp->bytes_total() + ti.progress().bytes_total());
  }
  rp->set_stores_recovering(recovering.size());
  rp->set_eta_ms(-1);
  if (rp->bytes_per_second() > 0 && rp->bytes_total() >= rp->bytes_done()) {
    rp->set_eta_ms(static_cast<int64_t>((rp->bytes_total() - rp->bytes_done()) * 1000.0 /
                                        rp->bytes_per_second()));
  }
  *out.mutable_automation() = automation_.state();
  return out;
}

v1::ListHostsResponse Coordinator::ListHosts() {
  absl::MutexLock lock(&mu_);
  v1::ListHostsResponse out;
  for (const auto& [name, rec] : model_.hosts) *out.add_hosts() = rec.info();
  return out;
}

absl::StatusOr<v1::HostInfo> Coordinator::GetHost(const std::string& host) {
  if (host.empty()) return absl::InvalidArgumentError("host is empty");
  absl::MutexLock lock(&mu_);
  const HostRecord* h = FindHost(model_, host);
  if (h == nullptr) return absl::NotFoundError(absl::StrCat("no host '", host, "'"));
  return h->info();
}

v1::ListStoresResponse Coordinator::ListStores(bool troubled_only) {
  absl::MutexLock lock(&mu_);
  v1::ListStoresResponse out;
  for (const auto& [name, rec] : model_.stores) {
    if (troubled_only && rec.info().state() == v1::STORE_HEALTHY) continue;
    *out.add_stores() = StoreInfoLocked(rec);
  }
  return out;
}

absl::StatusOr<v1::StoreInfo> Coordinator::GetStore(const std::string& store) {
  if (store.empty()) return absl::InvalidArgumentError("store is empty");
  absl::MutexLock lock(&mu_);
  auto it = model_.stores.find(store);
  if (it == model_.stores.end()) return absl::NotFoundError(absl::StrCat("no store '", store, "'"));
  return StoreInfoLocked(it->second);
}

absl::StatusOr<v1::StoreInfo> Coordinator::CreateStore(const v1::CreateStoreRequest& req) {
  if (absl::Status st = model::ValidateName(model::NameKind::kStore, req.store()); !st.ok()) {
    return st;
  }
  if (req.master().host().empty() || req.master().slot().empty()) {
    return absl::InvalidArgumentError("master slot (host and slot) is required");
  }
  if (req.replicas_size() > 0 && req.copies() > 0) {
    return absl::InvalidArgumentError("give either explicit replicas or a number of copies");
  }
  absl::MutexLock lock(&mu_);
  // A slot filled before the store was declared (mail copied in, or a
  // coordinator rebuilt from nothing) is recognised from its store marker
  // and adopted as a masterless copy. Creating the store on exactly that
  // slot takes it over; anything else about an existing store is refused.
  bool adopting = false;
  if (auto existing = model_.stores.find(req.store()); existing != model_.stores.end()) {
    const v1::StoreInfo& info = existing->second.info();
    adopting = info.master_epoch() == 0 && info.copies_size() == 1 &&
               info.copies(0).role() == v1::SLOT_REPLICA &&
               model::SlotName(info.copies(0).slot()) == model::SlotName(req.master());
    if (!adopting) {
      return absl::AlreadyExistsError(absl::StrCat("store '", req.store(), "' exists"));
    }
  }
  auto check_slot = [&](const v1::SlotRef& ref) -> absl::Status {
    const v1::SlotInfo* s = FindSlot(model_, ref);
    if (s == nullptr) return absl::NotFoundError(absl::StrCat("no slot ", model::SlotName(ref)));
    const bool adopted_master = adopting && model::SlotName(ref) == model::SlotName(req.master()) &&
                                s->store() == req.store();
    if (!adopted_master && (s->role() != v1::SLOT_SPARE || !s->store().empty())) {
      return absl::FailedPreconditionError(absl::StrCat("slot ", model::SlotName(ref), " is ",
                                                        model::Name(s->role()), ", not spare"));
    }
    if (!s->usable()) {
      return absl::FailedPreconditionError(
          absl::StrCat("slot ", model::SlotName(ref), " is unusable: ", s->unusable_reason()));
    }
    return absl::OkStatus();
  };
  absl::Status st = check_slot(req.master());
  if (!st.ok()) return st;
  std::set<std::string> hosts{req.master().host()};
  for (const auto& r : req.replicas()) {
    if (!(st = check_slot(r)).ok()) return st;
    if (!hosts.insert(r.host()).second) {
      return absl::InvalidArgumentError(
          absl::StrCat("two copies of ", req.store(), " on host ", r.host()));
    }
  }
  const uint32_t copies = req.replicas_size() > 0 ? req.replicas_size() + 1
                          : req.copies() > 0      ? req.copies()
                                                  : config_.default_copies;
  // Plan on a scratch copy of the model so that a refusal changes nothing.
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
  std::vector<v1::SlotRef> targets(req.replicas().begin(), req.replicas().end());
  if (req.replicas_size() == 0 && copies > 1) {
    // Plan as if the adopted copy's store did not exist yet; put it back
    // whatever the outcome (it is replaced below only on success).
    std::optional<StoreRecord> adopted;
    if (adopting) {
      adopted = std::move(model_.stores[req.store()]);
      model_.stores.erase(req.store());
    }
    auto restore = absl::MakeCleanup([&] {
      if (adopted) model_.stores[req.store()] = std::move(*adopted);
    });
    std::optional<ClusterView> view = ViewLocked();
    if (!view) return absl::InternalError("the model is inconsistent; see the log");
    const v1::SlotInfo* ms = FindSlot(model_, req.master());
    absl::StatusOr<PlacementOutcome> plan =
        PlaceNewStore(*view, req.store(), req.master(), copies, ms->used_bytes(), config_);
    if (!plan.ok()) return plan.status();
    if (plan->placed.size() + 1 < copies) {
      auto why = plan->refused.find(req.store());
      return absl::FailedPreconditionError(absl::StrCat(
          "cannot place ", copies - 1, " replicas for ", req.store(), ": ",
          why != plan->refused.end() ? why->second : std::string("not enough spare slots")));
    }
    for (const auto& p : plan->placed) targets.push_back(p.target);
  }
  Txn txn;
  model_.stores[req.store()] = rec;
  SetSlotRole(model_, txn, req.master(), v1::SLOT_MASTER, req.store()).IgnoreError();
  const int64_t now = clock_->NowMs();
  leases_.Grant(model::SlotName(req.master()), now + config_.lease_ms);
  v1::Command promote;
  promote.mutable_promote()->set_slot(req.master().slot());
  promote.mutable_promote()->set_store(req.store());
  promote.mutable_promote()->set_epoch(1);
  v1::Lease* lease = promote.mutable_promote()->mutable_lease();
  lease->set_store(req.store());
  lease->set_slot(req.master().slot());
  lease->set_epoch(1);
  lease->set_duration_ms(config_.lease_ms);
  outbox_.Issue(txn, req.master().host(), promote);
  journal_.Record(txn, event_kind::kStoreCreated, v1::INFO,
                  absl::StrCat("store ", req.store(), " created on ", model::SlotName(req.master()),
                               " with ", copies, " copies"),
                  req.master().host(), req.master().slot(), req.store());
  for (const auto& t : targets) {
    v1::Copy* c = model_.stores[req.store()].mutable_info()->add_copies();
    *c->mutable_slot() = t;
    c->set_role(v1::SLOT_SEEDING);
    c->set_usable(true);
    SetSlotRole(model_, txn, t, v1::SLOT_SEEDING, req.store()).IgnoreError();
    tasks_.CreateTask(txn, req.store(), req.master(), t, v1::SlotRef());
  }
  RecomputeLocked(txn);
  if (AutomationRunningLocked()) tasks_.Schedule(txn);
  st = CommitLocked(txn);
  if (!st.ok()) return st;
  return StoreInfoLocked(model_.stores[req.store()]);
}

absl::StatusOr<v1::UserLocation> Coordinator::LookupUser(const std::string& user) {
  if (user.empty()) return absl::InvalidArgumentError("user is empty");
  absl::MutexLock lock(&mu_);
  auto it = users_.find(user);
  if (it == users_.end()) return absl::NotFoundError(absl::StrCat("no user '", user, "'"));
  auto sit = model_.stores.find(it->second);
  if (sit == model_.stores.end()) {
    return absl::NotFoundError(
        absl::StrCat("user '", user, "' belongs to unknown store ", it->second));
  }
  v1::UserLocation out;
  out.set_user(user);
  out.set_store(it->second);
  out.set_master_epoch(sit->second.info().master_epoch());
  for (const auto& c : sit->second.info().copies()) {
    if (c.role() == v1::SLOT_MASTER) {
      *out.mutable_master() = EndpointLocked(c.slot());
    } else if (c.role() == v1::SLOT_REPLICA) {
      *out.add_replicas() = EndpointLocked(c.slot());
    }
  }
  return out;
}

v1::ListTasksResponse Coordinator::ListTasks(const v1::ListTasksRequest& req) {
  absl::MutexLock lock(&mu_);
  v1::ListTasksResponse out;
  for (const auto& [id, t] : model_.tasks) {
    if (!req.include_finished() && model::IsTaskFinished(t.info().state())) continue;
    if (!req.store().empty() && t.info().store() != req.store()) continue;
    *out.add_tasks() = t.info();
  }
  return out;
}

absl::StatusOr<v1::ListEventsResponse> Coordinator::ListEvents(const v1::ListEventsRequest& req) {
  if (req.until_ms() != 0 && req.until_ms() < req.since_ms()) {
    return absl::InvalidArgumentError("until_ms is before since_ms");
  }
  EventQuery q;
  q.since_ms = req.since_ms();
  q.until_ms = req.until_ms();
  q.limit = req.limit() == 0 ? 1000 : std::min<uint32_t>(req.limit(), 100000);
  q.store = req.store();
  q.host = req.host();
  absl::StatusOr<std::vector<v1::Event>> events = store_->ReadEvents(q);
  if (!events.ok()) return events.status();
  v1::ListEventsResponse out;
  for (auto& e : *events) *out.add_events() = std::move(e);
  return out;
}

absl::StatusOr<std::vector<v1::Event>> Coordinator::EventsAfter(uint64_t after_seq, size_t limit) {
  {
    absl::MutexLock lock(&mu_);
    std::optional<std::vector<v1::Event>> recent = journal_.RecentAfter(after_seq, limit);
    if (recent) return *std::move(recent);
  }
  EventQuery q;
  q.after_seq = after_seq;
  q.limit = limit;
  return store_->ReadEvents(q);
}

bool Coordinator::WaitForEventAfter(uint64_t after_seq, absl::Duration timeout) {
  absl::MutexLock lock(&mu_);
  return journal_.AwaitEventAfter(mu_, after_seq, timeout);
}

uint64_t Coordinator::LastEventSeq() {
  absl::MutexLock lock(&mu_);
  return journal_.LastSeq();
}

std::vector<v1::RoutingChange> Coordinator::RoutingAfter(uint64_t after, uint64_t* next) {
  absl::MutexLock lock(&mu_);
  return journal_.RoutingAfter(after, next);
}

uint64_t Coordinator::RoutingCursor() {
  absl::MutexLock lock(&mu_);
  return journal_.RoutingCursor();
}

bool Coordinator::WaitForRoutingAfter(uint64_t after, absl::Duration timeout) {
  absl::MutexLock lock(&mu_);
  return journal_.AwaitRoutingAfter(mu_, after, timeout);
}

absl::StatusOr<v1::FailoverResponse> Coordinator::Failover(const v1::FailoverRequest& req) {
  if (req.store().empty() == req.host().empty()) {
    return absl::InvalidArgumentError("give exactly one of store or host");
  }
  if (!req.to().host().empty() && req.store().empty()) {
    return absl::InvalidArgumentError("'to' is only allowed with a store");
  }
  absl::MutexLock lock(&mu_);
  std::vector<std::string> stores;
  if (!req.store().empty()) {
    if (!model_.stores.count(req.store())) {
      return absl::NotFoundError(absl::StrCat("no store '", req.store(), "'"));
    }
    stores.push_back(req.store());
  } else {
    if (!model_.hosts.count(req.host())) {
      return absl::NotFoundError(absl::StrCat("no host '", req.host(), "'"));
    }
    for (const auto& [name, rec] : model_.stores) {
      const v1::Copy* m = MasterCopy(rec);
      if (m != nullptr && m->slot().host() == req.host()) stores.push_back(name);
    }
  }
  const int64_t now = clock_->NowMs();
  v1::FailoverResponse out;
  Txn txn;
  for (const auto& name : stores) {
    StoreRecord& rec = model_.stores[name];
    v1::FailoverPlanItem* item = out.add_items();
    item->set_store(name);
    const v1::Copy* m = MasterCopy(rec);
    if (m != nullptr) *item->mutable_from() = m->slot();
    std::optional<ClusterView> view = ViewLocked();  // again after each promotion
    if (!view) return absl::InternalError("the model is inconsistent; see the log");
    PromotionChoice choice = ChoosePromotion(*view, name, config_, req.force(),
                                             req.to().host().empty() ? nullptr : &req.to());
    if (!choice.target) {
      item->set_refused(choice.refused);
      continue;
    }
    *item->mutable_to() = *choice.target;
    if (req.dry_run()) continue;
    const std::string why = req.reason().empty() ? "operator failover" : req.reason();
    if (!leases_.MayBeValid(rec.info(), now)) {
      PromoteLocked(txn, rec, *choice.target, why, false);
    } else {
      // Fence first: stop renewing, ask the old master to demote; the
      // promotion follows its acknowledgement or the lease's end.
      *rec.mutable_pending_target() = *choice.target;
      rec.set_pending_forced(req.force());
      txn.stores.insert(name);
      v1::Command demote;
      demote.mutable_demote()->set_slot(m->slot().slot());
      demote.mutable_demote()->set_store(name);
      demote.mutable_demote()->set_epoch(rec.info().master_epoch());
      demote.mutable_demote()->set_reason(why);
      outbox_.Issue(txn, m->slot().host(), demote);
      journal_.Record(
          txn, event_kind::kStoreFailoverRequested, v1::WARNING,
          absl::StrCat("operator failover of ", name, " to ", model::SlotName(*choice.target),
                       ": waiting for ", model::SlotName(m->slot()), " to give up its lease"),
          m->slot().host(), m->slot().slot(), name);
    }
    item->set_done(true);
  }
  absl::Status st = CommitLocked(txn);
  if (!st.ok()) return st;
  return out;
}

absl::StatusOr<HostRecord*> Coordinator::OperatorHostLocked(const std::string& host) {
  if (host.empty()) return absl::InvalidArgumentError("host is empty");
  auto hit = model_.hosts.find(host);
  if (hit == model_.hosts.end()) return absl::NotFoundError(absl::StrCat("no host '", host, "'"));
  return &hit->second;
}

absl::StatusOr<v1::DrainResponse> Coordinator::Drain(const v1::DrainRequest& req) {
  absl::MutexLock lock(&mu_);
  absl::StatusOr<HostRecord*> host = OperatorHostLocked(req.host());
  if (!host.ok()) return host.status();
  v1::HostInfo* h = (*host)->mutable_info();
  std::set<std::string> mounts;
  if (!req.unit().empty()) {
    v1::UnitInfo* unit = nullptr;
    for (auto& u : *h->mutable_units()) {
      if (u.name() == req.unit()) unit = &u;
    }
    if (unit == nullptr) {
      return absl::NotFoundError(absl::StrCat("no drive unit '", req.unit(), "' on ", req.host()));
    }
    unit->set_draining(true);
    for (const auto& f : h->filesystems()) {
      if (f.unit() == req.unit()) mounts.insert(f.mount_point());
    }
  } else {
    h->set_draining(true);
    h->set_drain_reason(req.reason());
  }
  Txn txn;
  txn.hosts.insert(req.host());
  v1::DrainResponse out;
  const std::optional<ClusterView> view = ViewLocked();
  for (const auto& s : h->slots()) {
    if (s.role() != v1::SLOT_MASTER) continue;
    if (!mounts.empty() && !mounts.count(s.filesystem())) continue;
    StoreRecord& rec = model_.stores[s.store()];
    if (!view || !ChoosePromotion(*view, s.store(), config_, false, nullptr).target) continue;
    rec.set_moving_master(true);
    txn.stores.insert(s.store());
    out.set_masters_to_move(out.masters_to_move() + 1);
  }
  journal_.Record(txn, event_kind::kHostDrain, v1::WARNING,
                  absl::StrCat("drain ", req.host(), req.unit().empty() ? "" : "/" + req.unit(),
                               ": ", out.masters_to_move(), " masters to move",
                               req.reason().empty() ? "" : " (" + req.reason() + ")"),
                  req.host(), "", "", "", req.unit());
  absl::Status st = CommitLocked(txn);
  if (!st.ok()) return st;
  return out;
}

absl::StatusOr<v1::DrainResponse> Coordinator::Undrain(const v1::DrainRequest& req) {
  absl::MutexLock lock(&mu_);
  absl::StatusOr<HostRecord*> host = OperatorHostLocked(req.host());
  if (!host.ok()) return host.status();
  v1::HostInfo* h = (*host)->mutable_info();
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
  Txn txn;
  txn.hosts.insert(req.host());
  for (const auto& s : h->slots()) {
    if (s.role() != v1::SLOT_MASTER) continue;
    auto sit = model_.stores.find(s.store());
    if (sit != model_.stores.end() && sit->second.moving_master()) {
      sit->second.set_moving_master(false);
      txn.stores.insert(s.store());
    }
  }
  journal_.Record(txn, event_kind::kHostUndrain, v1::INFO,
                  absl::StrCat("undrain ", req.host(), req.unit().empty() ? "" : "/" + req.unit()),
                  req.host(), "", "", "", req.unit());
  absl::Status st = CommitLocked(txn);
  if (!st.ok()) return st;
  return v1::DrainResponse();
}

absl::StatusOr<v1::MarkLostResponse> Coordinator::MarkLost(const v1::MarkLostRequest& req) {
  absl::MutexLock lock(&mu_);
  absl::StatusOr<HostRecord*> host = OperatorHostLocked(req.host());
  if (!host.ok()) return host.status();
  HostRecord& rec = **host;
  std::vector<v1::UnitInfo*> units;
  for (auto& u : *rec.mutable_info()->mutable_units()) {
    if (req.unit().empty() || u.name() == req.unit()) units.push_back(&u);
  }
  if (units.empty()) {
    return absl::NotFoundError(absl::StrCat("no drive unit '", req.unit(), "' on ", req.host()));
  }
  std::set<std::string> before;
  for (const auto& [name, s] : model_.stores) {
    for (const auto& c : s.info().copies()) {
      if (c.role() == v1::SLOT_LOST) before.insert(model::SlotName(c.slot()));
    }
  }
  Txn txn;
  const std::string why =
      absl::StrCat("declared lost by an operator", req.reason().empty() ? "" : ": " + req.reason());
  for (v1::UnitInfo* u : units) {
    if (u->state() != v1::UNIT_LOST) MarkUnitLostLocked(txn, rec, *u, why);
  }
  v1::MarkLostResponse out;
  for (const auto& [name, s] : model_.stores) {
    for (const auto& c : s.info().copies()) {
      if (c.role() == v1::SLOT_LOST && !before.count(model::SlotName(c.slot()))) {
        out.add_affected_stores(name);
        break;
      }
    }
  }
  // An explicit operator decision: act even while automation is paused,
  // except for promotion, which stays under the failover rules.
  for (const auto& id : tasks_.PlanReplacements(txn)) out.add_tasks_created(id);
  if (AutomationRunningLocked()) tasks_.Schedule(txn);
  absl::Status st = CommitLocked(txn);
  if (!st.ok()) return st;
  return out;
}

absl::StatusOr<v1::AutomationState> Coordinator::SetAutomation(
    const v1::SetAutomationRequest& req) {
  if (req.paused() && req.reason().empty()) {
    return absl::InvalidArgumentError("a reason is required to pause automation");
  }
  absl::MutexLock lock(&mu_);
  v1::AutomationState* as = automation_.mutable_state();
  Txn txn;
  const int64_t now = clock_->NowMs();
  if (req.paused()) {
    as->set_mode(v1::AUTOMATION_PAUSED);
    as->set_reason(req.reason());
    as->set_since_ms(now);
    as->set_set_by(req.set_by());
    journal_.Record(txn, event_kind::kAutomationPaused, v1::WARNING,
                    absl::StrCat("automation paused by ", req.set_by().empty() ? "?" : req.set_by(),
                                 ": ", req.reason()));
  } else {
    // The brake is checked again at the next tick: if the condition still
    // holds, automation freezes again (with an event).
    as->set_mode(v1::AUTOMATION_RUNNING);
    as->set_reason(req.reason());
    as->set_since_ms(now);
    as->set_set_by(req.set_by());
    journal_.Record(
        txn, event_kind::kAutomationResumed, v1::INFO,
        absl::StrCat("automation resumed by ", req.set_by().empty() ? "?" : req.set_by(),
                     req.reason().empty() ? "" : ": " + req.reason()));
  }
  txn.automation = true;
  absl::Status st = CommitLocked(txn);
  if (!st.ok()) return st;
  return *as;
}

v1::AutomationState Coordinator::GetAutomation() {
  absl::MutexLock lock(&mu_);
  return automation_.state();
}

v1::ConsistencyReport Coordinator::CheckModel() {
  absl::MutexLock lock(&mu_);
  v1::ConsistencyReport out;
  auto problem = [&](const char* severity, const std::string& store, const v1::SlotRef* slot,
                     const std::string& text) {
    v1::ConsistencyProblem* p = out.add_problems();
    p->set_severity(severity);
    p->set_store(store);
    if (slot != nullptr) {
      p->set_host(slot->host());
      p->set_slot(slot->slot());
    }
    p->set_text(text);
  };
  for (const auto& [name, rec] : model_.stores) {
    out.set_stores_checked(out.stores_checked() + 1);
    std::set<std::string> hosts;
    int usable_masters = 0, masters = 0, usable = 0;
    for (const auto& c : rec.info().copies()) {
      if (!hosts.insert(c.slot().host()).second) {
        problem("error", name, &c.slot(), "two copies on host " + c.slot().host());
      }
      const v1::SlotInfo* s = FindSlot(model_, c.slot());
      if (s == nullptr) {
        problem("error", name, &c.slot(), "copy refers to a slot no host reports");
        continue;
      }
      if (c.role() == v1::SLOT_LOST) {
        problem("error", name, &c.slot(), "copy on a lost drive unit is still referenced");
      }
      if (c.role() == v1::SLOT_MASTER) {
        ++masters;
        usable_masters += c.usable();
      }
      if (c.role() == v1::SLOT_REPLICA && !c.in_sync() &&
          c.lag_ms() > config_.max_failover_lag_ms) {
        problem("warning", name, &c.slot(), absl::StrCat("replica lags by ", c.lag_ms(), " ms"));
      }
      usable += c.usable() && (c.role() == v1::SLOT_MASTER || c.role() == v1::SLOT_REPLICA);
    }
    if (usable_masters != 1) {
      problem("error", name, nullptr,
              absl::StrCat(masters, " masters, ", usable_masters, " usable (want exactly 1)"));
    }
    if (usable < static_cast<int>(rec.info().required_copies())) {
      problem(
          "error", name, nullptr,
          absl::StrCat(usable, " usable copies of ", rec.info().required_copies(), " required"));
    }
  }
  return out;
}

std::vector<CopyToVerify> Coordinator::CopiesToVerify() {
  absl::MutexLock lock(&mu_);
  std::vector<CopyToVerify> out;
  for (const auto& [name, rec] : model_.stores) {
    for (const auto& c : rec.info().copies()) {
      if (!c.usable() || (c.role() != v1::SLOT_MASTER && c.role() != v1::SLOT_REPLICA)) continue;
      const HostRecord* h = FindHost(model_, c.slot().host());
      out.push_back({name, c.slot(), h != nullptr ? h->info().peer_address() : "",
                     c.role() == v1::SLOT_MASTER});
    }
  }
  return out;
}

ClusterModel Coordinator::ModelForTest() {
  absl::MutexLock lock(&mu_);
  return model_;
}

}  // namespace slotkeeper::slotmgr
