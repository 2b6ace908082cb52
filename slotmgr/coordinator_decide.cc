// Coordinator: health derivation, the timers (Tick), failover, replacement
// of lost copies and task scheduling.
#include <algorithm>
#include <optional>

#include "absl/strings/str_cat.h"
#include "base/log.h"
#include "proto/event_kinds.h"
#include "proto/model_util.h"
#include "slotmgr/coordinator.h"
#include "slotmgr/health.h"
#include "slotmgr/model.h"
#include "slotmgr/scheduler.h"

namespace slotkeeper::slotmgr {

void Coordinator::RecomputeLocked(Txn& txn) {
  HealthChanges changes = DeriveHealth(model_, leases_, last_heard_ms_, clock_->NowMs(), config_);
  if (!changes.view_status.ok()) {
    LogError("coordinator", absl::StrCat("model inconsistent, no decision taken: ",
                                         changes.view_status.ToString()));
  }
  txn.hosts.insert(changes.hosts.begin(), changes.hosts.end());
  txn.stores.insert(changes.stores.begin(), changes.stores.end());
  for (v1::Event& e : changes.events) journal_.Record(txn, std::move(e));
}

std::optional<ClusterView> Coordinator::ViewLocked() {
  absl::StatusOr<ClusterView> view = BuildView(model_, last_heard_ms_);
  if (!view.ok()) {
    LogError("coordinator",
             absl::StrCat("model inconsistent, no decision taken: ", view.status().ToString()));
    return std::nullopt;
  }
  return std::move(*view);
}

absl::Status Coordinator::Tick() {
  absl::MutexLock lock(&mu_);
  const int64_t now = clock_->NowMs();
  Txn txn;
  bool changed = false;
  for (auto& [name, rec] : model_.hosts) {
    v1::HostInfo* h = rec.mutable_info();
    v1::HostState s = HostStateAfterSilence(last_heard_ms_[name], now, config_.suspect_after_ms,
                                            config_.down_after_ms);
    if (s == h->state()) continue;
    journal_.Record(
        txn,
        s == v1::HOST_DOWN      ? event_kind::kHostDown
        : s == v1::HOST_SUSPECT ? event_kind::kHostSuspect
                                : event_kind::kHostUp,
        s == v1::HOST_UP        ? v1::INFO
        : s == v1::HOST_SUSPECT ? v1::WARNING
                                : v1::CRITICAL,
        absl::StrCat("host ", name, ": ", model::Name(h->state()), " -> ", model::Name(s),
                     " (silent ", (now - last_heard_ms_[name]) / 1000, " s)"),
        name);
    h->set_state(s);
    h->set_state_since_ms(now);
    txn.hosts.insert(name);
    changed = true;
  }
  if (changed) RecomputeLocked(txn);

  // Mass-failure brake. Once frozen, automation stays frozen until an
  // operator resumes it (guardrails.h: only a person can tell whether the
  // coordinator was the one cut off).
  std::string why;
  // Only silent hosts can engage the brake: skip the snapshot when none is.
  const bool any_silent = std::any_of(model_.hosts.begin(), model_.hosts.end(), [](const auto& h) {
    return h.second.info().state() != v1::HOST_UP;
  });
  std::optional<ClusterView> view;
  if (any_silent) view = ViewLocked();
  const bool mass = view && MassFailure(*view, now, config_, &why);
  v1::AutomationState* as = automation_.mutable_state();
  if (mass && as->mode() == v1::AUTOMATION_RUNNING) {
    as->set_mode(v1::AUTOMATION_FROZEN);
    as->set_reason(why);
    as->set_since_ms(now);
    as->set_set_by("mass-failure brake");
    txn.automation = true;
    journal_.Record(txn, event_kind::kAutomationFrozen, v1::CRITICAL,
                    "automation frozen: " + why + "; resume with SetAutomation once understood");
  }

  // replace_after: failed units become lost and their copies are replaced.
  if (AutomationRunningLocked()) {
    for (auto& [name, rec] : model_.hosts) {
      for (auto& u : *rec.mutable_info()->mutable_units()) {
        if (u.state() == v1::UNIT_FAILED && u.replace_at_ms() > 0 && u.replace_at_ms() <= now) {
          MarkUnitLostLocked(txn, rec, u,
                             absl::StrCat("failed for longer than replace_after (",
                                          config_.replace_after_ms / 1000, " s)"));
        }
      }
    }
    // A host DOWN for longer than replace_after says nothing more about its
    // units: they are declared lost like failed ones, so that every copy
    // there is replaced (counted from DOWN, after down_after of silence).
    for (auto& [name, rec] : model_.hosts) {
      v1::HostInfo* h = rec.mutable_info();
      if (h->state() != v1::HOST_DOWN || h->state_since_ms() + config_.replace_after_ms > now) {
        continue;
      }
      for (auto& u : *h->mutable_units()) {
        if (u.state() == v1::UNIT_LOST) continue;
        MarkUnitLostLocked(txn, rec, u,
                           absl::StrCat("host ", name, " down for longer than replace_after (",
                                        config_.replace_after_ms / 1000, " s)"));
      }
    }
  }
  FailoverStepLocked(txn);
  if (AutomationRunningLocked()) {
    PlanReplacementsLocked(txn);
    ScheduleLocked(txn);
  }
  return CommitLocked(txn);
}

void Coordinator::FailoverStepLocked(Txn& txn) {
  const int64_t now = clock_->NowMs();
  std::optional<ClusterView> view;  // built when first needed, again after each promotion
  for (auto& [name, rec] : model_.stores) {
    const v1::Copy* master = MasterCopyLocked(rec);
    const bool lease_valid = leases_.MayBeValid(rec.info(), now);
    // Operator failover or drain waiting for the old lease.
    if (rec.has_pending_target() || rec.moving_master()) {
      if (lease_valid) continue;
      if (!view) view = ViewLocked();
      if (!view) return;
      PromotionChoice choice =
          ChoosePromotion(*view, name, config_, rec.pending_forced(),
                          rec.has_pending_target() ? &rec.pending_target() : nullptr);
      if (choice.target) {
        PromoteLocked(
            txn, rec, *choice.target,
            rec.has_pending_target() ? "operator failover" : "master moved off a draining host",
            false);
        view.reset();
      } else {
        journal_.Record(txn, event_kind::kStoreFailoverRefused, v1::CRITICAL,
                        absl::StrCat("planned failover of ", name, " abandoned: ", choice.refused,
                                     "; the old master keeps its role"),
                        "", "", name);
        rec.clear_pending_target();
        rec.set_moving_master(false);
        txn.stores.insert(name);
      }
      continue;
    }
    if (master != nullptr && master->usable()) continue;
    if (rec.info().master_unusable_since_ms() == 0) continue;
    if (!AutomationRunningLocked()) continue;
    const bool hard = rec.master_hard_since_ms() != 0;
    const int64_t since = hard ? rec.master_hard_since_ms() : rec.info().master_unusable_since_ms();
    const int64_t grace = hard ? config_.failover_grace_hard_ms : config_.failover_grace_silent_ms;
    if (now < since + grace) continue;
    if (lease_valid) continue;  // fencing: the old master may still accept mail
    if (!view) view = ViewLocked();
    if (!view) return;
    PromotionChoice choice = ChoosePromotion(*view, name, config_, false, nullptr);
    if (!choice.target) continue;  // the store shows UNAVAILABLE with the reason
    RateDecision rate = FailoverRateAllows(automation_, name, now, config_);
    if (!rate.allowed) {
      const std::string key = absl::StrCat("rate-limited/", name, "/", since);
      if (reported_.insert(key).second) {
        journal_.Record(txn, event_kind::kStoreFailoverRateLimited, v1::CRITICAL,
                        absl::StrCat("automatic failover of ", name, " held back: ", rate.reason),
                        "", "", name);
      }
      continue;
    }
    PromoteLocked(txn, rec, *choice.target,
                  hard ? "master slot failed (hard evidence)" : "master host silent", true);
    view.reset();
  }
}

void Coordinator::PromoteLocked(Txn& txn, StoreRecord& store, const v1::SlotRef& target,
                                const std::string& why, bool automatic) {
  const int64_t now = clock_->NowMs();
  const std::string name = store.info().name();
  v1::StoreInfo* st = store.mutable_info();
  v1::SlotRef old_ref;
  const v1::Copy* old = MasterCopyLocked(store);
  if (old != nullptr) old_ref = old->slot();
  const v1::Endpoint old_ep = old != nullptr ? EndpointLocked(old_ref) : v1::Endpoint();
  st->set_master_epoch(st->master_epoch() + 1);
  const uint64_t epoch = st->master_epoch();
  // Unacknowledged promotions and replica assignments of older epochs are
  // stale now: drop them (demotions stay: they fence).
  outbox_.DropStale(txn, name);
  if (old != nullptr) {
    const v1::SlotInfo* os = FindSlot(model_, old_ref);
    const v1::SlotRole keep =
        os != nullptr && os->role() == v1::SLOT_LOST ? v1::SLOT_LOST : v1::SLOT_REPLICA;
    SetSlotRoleLocked(txn, old_ref, keep, name);
    leases_.Release(old_ref);
    v1::Command demote;
    demote.mutable_demote()->set_slot(old_ref.slot());
    demote.mutable_demote()->set_store(name);
    demote.mutable_demote()->set_epoch(epoch);
    demote.mutable_demote()->set_reason(why);
    outbox_.Issue(txn, old_ref.host(), demote);
  }
  SetSlotRoleLocked(txn, target, v1::SLOT_MASTER, name);
  leases_.Grant(model::SlotName(target), now + config_.lease_ms);
  v1::Command promote;
  promote.mutable_promote()->set_slot(target.slot());
  promote.mutable_promote()->set_store(name);
  promote.mutable_promote()->set_epoch(epoch);
  v1::Lease* lease = promote.mutable_promote()->mutable_lease();
  lease->set_store(name);
  lease->set_slot(target.slot());
  lease->set_epoch(epoch);
  lease->set_duration_ms(config_.lease_ms);
  outbox_.Issue(txn, target.host(), promote);
  // Every other replica follows the new master.
  const HostRecord* th = FindHost(model_, target.host());
  for (const auto& c : st->copies()) {
    if (c.role() != v1::SLOT_REPLICA) continue;
    v1::Command assign;
    v1::AssignReplicaCommand* a = assign.mutable_assign_replica();
    a->set_slot(c.slot().slot());
    a->set_store(name);
    a->set_epoch(epoch);
    a->set_master_peer_address(th != nullptr ? th->info().peer_address() : "");
    a->set_master_slot(target.slot());
    outbox_.Issue(txn, c.slot().host(), assign);
  }
  store.clear_pending_target();
  store.set_pending_forced(false);
  store.set_moving_master(false);
  st->set_master_unusable_since_ms(0);
  store.set_master_hard_since_ms(0);
  if (automatic) {
    FailoverMark* mark = automation_.add_failovers();
    mark->set_store(name);
    mark->set_time_ms(now);
    // Keep only what the rate limit and the per-store cooldown still need.
    const int64_t keep =
        std::max(config_.failover_rate_window_ms, config_.failover_store_cooldown_ms);
    auto* marks = automation_.mutable_failovers();
    for (int i = marks->size() - 1; i >= 0; --i) {
      if (now - marks->Get(i).time_ms() >= keep) marks->DeleteSubrange(i, 1);
    }
    int recent = 0;
    for (const auto& m : *marks) recent += now - m.time_ms() < config_.failover_rate_window_ms;
    automation_.mutable_state()->set_recent_failovers(recent);
    txn.automation = true;
  }
  txn.stores.insert(name);
  journal_.Record(txn, event_kind::kStoreFailover, v1::CRITICAL,
                  absl::StrCat("store ", name, ": master ",
                               old != nullptr ? model::SlotName(old_ref) : std::string("(none)"),
                               " -> ", model::SlotName(target), ", epoch ", epoch, " (", why,
                               automatic ? ", automatic)" : ")"),
                  target.host(), target.slot(), name);
  v1::RoutingChange rc;
  rc.set_time_ms(now);
  rc.set_store(name);
  *rc.mutable_old_master() = old_ep;
  rc.set_master_epoch(epoch);
  RecomputeLocked(txn);
  *rc.mutable_new_master() = EndpointLocked(target);
  txn.routing.push_back(rc);
}

void Coordinator::MarkUnitLostLocked(Txn& txn, HostRecord& host, v1::UnitInfo& unit,
                                     const std::string& why) {
  const std::string& hn = host.info().name();
  unit.set_state(NextUnitState(unit.state(), true, true));
  unit.set_replace_at_ms(0);
  txn.hosts.insert(hn);
  journal_.Record(txn, event_kind::kUnitLost, v1::CRITICAL,
                  absl::StrCat("drive unit ", hn, "/", unit.name(), " declared lost: ", why), hn,
                  "", "", "", unit.name());
  std::set<std::string> mounts;
  for (const auto& f : host.info().filesystems()) {
    if (f.unit() == unit.name()) mounts.insert(f.mount_point());
  }
  std::vector<v1::SlotRef> lost;
  for (const auto& s : host.info().slots()) {
    if (mounts.count(s.filesystem()) && s.role() != v1::SLOT_LOST) lost.push_back(s.ref());
  }
  for (const auto& ref : lost) {
    const v1::SlotInfo* s = FindSlot(model_, ref);
    const std::string store = s->store();
    SetSlotRoleLocked(txn, ref, v1::SLOT_LOST, store);
    if (!store.empty()) {
      journal_.Record(txn, event_kind::kCopyLost, v1::CRITICAL,
                      absl::StrCat("copy of ", store, " in ", model::SlotName(ref), " is lost"), hn,
                      ref.slot(), store);
    }
  }
  RecomputeLocked(txn);
}

std::vector<std::string> Coordinator::PlanReplacementsLocked(Txn& txn) {
  // Stores short of copies (lost copies do not count; seeding ones do).
  std::vector<std::string> short_stores;
  for (const auto& [name, rec] : model_.stores) {
    // A store only recognised on disk (epoch 0: never declared, no master)
    // waits for an operator's `store create`; it is not re-replicated.
    if (rec.info().master_epoch() == 0) continue;
    uint32_t present = 0;
    for (const auto& c : rec.info().copies()) present += c.role() != v1::SLOT_LOST;
    if (present < rec.info().required_copies()) short_stores.push_back(name);
  }
  std::vector<std::string> created;
  if (short_stores.empty()) return created;
  std::optional<ClusterView> view = ViewLocked();
  if (!view) return created;
  absl::StatusOr<PlacementOutcome> outcome = PlaceReplicas(*view, short_stores, config_);
  if (!outcome.ok()) {
    LogError("coordinator", absl::StrCat("placement: ", outcome.status().ToString()));
    return created;
  }
  for (const auto& [store, why] : outcome->refused) {
    const std::string key = absl::StrCat("placement/", store, "/", why);
    if (reported_.insert(key).second) {
      journal_.Record(txn, event_kind::kPlacementRefused, v1::CRITICAL,
                      absl::StrCat("store ", store, ": ", why), "", "", store);
    }
  }
  std::set<std::string> covered;  // lost copies a live task already replaces
  for (const auto& [id, t] : model_.tasks) {
    if (!model::IsTaskFinished(t.info().state()) && t.has_replaces()) {
      covered.insert(model::SlotName(t.replaces()));
    }
  }
  for (const PlacementResult& r : outcome->placed) {
    StoreRecord& store = model_.stores[r.store];
    // The lost copy this new replica stands for, if any (replace before evict).
    v1::SlotRef replaces;
    for (const auto& c : store.info().copies()) {
      if (c.role() == v1::SLOT_LOST && covered.insert(model::SlotName(c.slot())).second) {
        replaces = c.slot();
        break;
      }
    }
    v1::Copy* c = store.mutable_info()->add_copies();
    *c->mutable_slot() = r.target;
    c->set_role(v1::SLOT_SEEDING);
    c->set_usable(true);
    SetSlotRoleLocked(txn, r.target, v1::SLOT_SEEDING, r.store);
    created.push_back(CreateTaskLocked(txn, r.store, r.source, r.target, replaces));
  }
  return created;
}

std::string Coordinator::CreateTaskLocked(Txn& txn, const std::string& store,
                                          const v1::SlotRef& source, const v1::SlotRef& target,
                                          const v1::SlotRef& replaces) {
  meta_.set_next_task_seq(meta_.next_task_seq() + 1);
  StoredTask t;
  v1::TaskInfo* ti = t.mutable_info();
  ti->set_id(absl::StrCat("t", meta_.next_task_seq()));
  ti->set_kind(v1::TASK_RE_REPLICATE);
  ti->set_state(v1::TASK_QUEUED);
  ti->set_store(store);
  *ti->mutable_source() = source;
  *ti->mutable_target() = target;
  ti->set_priority(TaskPriority(model_.stores[store]));
  ti->set_created_ms(clock_->NowMs());
  if (!replaces.host().empty()) *t.mutable_replaces() = replaces;
  const std::string id = ti->id();
  journal_.Record(
      txn, event_kind::kTaskCreated, v1::INFO,
      absl::StrCat("task ", id, ": copy ", store, " from ", model::SlotName(source), " to ",
                   model::SlotName(target),
                   replaces.host().empty() ? "" : " (replaces " + model::SlotName(replaces) + ")"),
      target.host(), target.slot(), store, id);
  model_.tasks[id] = std::move(t);
  txn.tasks.insert(id);
  return id;
}

void Coordinator::ScheduleLocked(Txn& txn) {
  const int64_t now = clock_->NowMs();
  for (auto& [id, t] : model_.tasks) {
    if (t.info().state() == v1::TASK_BACKOFF && t.info().next_attempt_ms() <= now) {
      t.mutable_info()->set_state(v1::TASK_QUEUED);
      txn.tasks.insert(id);
    }
  }
  for (const std::string& id : TasksToStart(model_, config_, now)) {
    StoredTask& t = model_.tasks[id];
    v1::TaskInfo* ti = t.mutable_info();
    ti->set_state(v1::TASK_RUNNING);
    ti->set_started_ms(now);
    ti->set_attempts(ti->attempts() + 1);
    txn.tasks.insert(id);
    outbox_.Issue(txn, ti->target().host(), StartTaskCommandLocked(*ti));
    journal_.Record(txn, event_kind::kTaskStarted, v1::INFO,
                    absl::StrCat("task ", id, " started (attempt ", ti->attempts(), ")"),
                    ti->target().host(), ti->target().slot(), ti->store(), id);
  }
}

v1::Command Coordinator::StartTaskCommandLocked(const v1::TaskInfo& task) {
  const HostRecord* src = FindHost(model_, task.source().host());
  v1::Command cmd;
  v1::StartTaskCommand* st = cmd.mutable_start_task();
  st->set_task_id(task.id());
  st->set_kind(task.kind());
  st->set_store(task.store());
  st->set_target_slot(task.target().slot());
  st->set_source_peer_address(src != nullptr ? src->info().peer_address() : "");
  st->set_source_slot(task.source().slot());
  return cmd;
}

void Coordinator::RestartTasksOfLocked(Txn& txn, const std::string& host) {
  // A start not yet acknowledged is sent again after the hello anyway.
  const std::set<std::string> outstanding = outbox_.UnacknowledgedStarts(host);
  for (auto& [id, t] : model_.tasks) {
    const v1::TaskInfo& ti = t.info();
    if (ti.state() != v1::TASK_RUNNING || ti.target().host() != host || outstanding.count(id)) {
      continue;
    }
    // Same task id: an agent still running it acknowledges the start as
    // applied; a restarted one resumes from its data path's checkpoints.
    outbox_.Issue(txn, host, StartTaskCommandLocked(ti));
    journal_.Record(txn, event_kind::kTaskResent, v1::INFO,
                    absl::StrCat("task ", id, " started again on ", host,
                                 " (its agent registered again; it resumes from its checkpoints)"),
                    host, ti.target().slot(), ti.store(), id);
  }
}

void Coordinator::FinishTaskLocked(Txn& txn, StoredTask& task, bool success,
                                   const std::string& error) {
  const int64_t now = clock_->NowMs();
  v1::TaskInfo* ti = task.mutable_info();
  const std::string id = ti->id();
  txn.tasks.insert(id);
  auto sit = model_.stores.find(ti->store());
  if (success) {
    ti->set_state(v1::TASK_DONE);
    ti->set_finished_ms(now);
    ti->set_last_error("");
    journal_.Record(txn, event_kind::kTaskDone, v1::INFO,
                    absl::StrCat("task ", id, " done and verified: ", model::SlotName(ti->target()),
                                 " is a replica of ", ti->store()),
                    ti->target().host(), ti->target().slot(), ti->store(), id);
    if (sit == model_.stores.end()) return;
    StoreRecord& store = sit->second;
    SetSlotRoleLocked(txn, ti->target(), v1::SLOT_REPLICA, ti->store());
    if (v1::Copy* c = FindCopyLocked(store, ti->target())) {
      c->set_in_sync(true);
      c->set_lag_ms(0);
      c->set_last_synced_ms(now);
    }
    const v1::Copy* m = MasterCopyLocked(store);
    if (m != nullptr) {
      const HostRecord* mh = FindHost(model_, m->slot().host());
      v1::Command assign;
      v1::AssignReplicaCommand* a = assign.mutable_assign_replica();
      a->set_slot(ti->target().slot());
      a->set_store(ti->store());
      a->set_epoch(store.info().master_epoch());
      a->set_master_peer_address(mh != nullptr ? mh->info().peer_address() : "");
      a->set_master_slot(m->slot().slot());
      outbox_.Issue(txn, ti->target().host(), assign);
    }
    // Replace before evict: only now is the lost copy dropped.
    if (task.has_replaces()) {
      auto* copies = store.mutable_info()->mutable_copies();
      for (int i = 0; i < copies->size(); ++i) {
        if (!model::SameSlot(copies->Get(i).slot(), task.replaces())) continue;
        copies->DeleteSubrange(i, 1);
        if (v1::SlotInfo* ls = FindSlot(&model_, task.replaces())) {
          ls->set_store("");
          txn.hosts.insert(task.replaces().host());
        }
        journal_.Record(
            txn, event_kind::kCopyDropped, v1::INFO,
            absl::StrCat("lost copy ", model::SlotName(task.replaces()), " dropped from ",
                         ti->store(), " (replaced by ", model::SlotName(ti->target()), ")"),
            task.replaces().host(), task.replaces().slot(), ti->store(), id);
        break;
      }
    }
    RecomputeLocked(txn);
    return;
  }
  ti->set_last_error(error);
  if (static_cast<int>(ti->attempts()) < config_.max_task_attempts) {
    const int64_t backoff = BackoffMs(SchedulerOptionsFrom(config_), ti->attempts());
    ti->set_state(v1::TASK_BACKOFF);
    ti->set_next_attempt_ms(now + backoff);
    journal_.Record(
        txn, event_kind::kTaskRetry, v1::WARNING,
        absl::StrCat("task ", id, " failed (", error, "); retry in ", backoff / 1000, " s"),
        ti->target().host(), ti->target().slot(), ti->store(), id);
    return;
  }
  ti->set_state(v1::TASK_FAILED);
  ti->set_finished_ms(now);
  journal_.Record(
      txn, event_kind::kTaskFailed, v1::CRITICAL,
      absl::StrCat("task ", id, " gave up after ", ti->attempts(), " attempts: ", error),
      ti->target().host(), ti->target().slot(), ti->store(), id);
  // Release the target so that placement can try elsewhere.
  if (sit != model_.stores.end()) {
    auto* copies = sit->second.mutable_info()->mutable_copies();
    for (int i = 0; i < copies->size(); ++i) {
      if (model::SameSlot(copies->Get(i).slot(), ti->target())) {
        copies->DeleteSubrange(i, 1);
        break;
      }
    }
  }
  SetSlotRoleLocked(txn, ti->target(), v1::SLOT_SPARE, "");
  v1::Command release;
  release.mutable_release_slot()->set_slot(ti->target().slot());
  release.mutable_release_slot()->set_store(ti->store());
  outbox_.Issue(txn, ti->target().host(), release);
  RecomputeLocked(txn);
}

}  // namespace slotkeeper::slotmgr
