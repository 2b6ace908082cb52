// Coordinator: the timers (Tick): host silence, the mass-failure brake,
// replace_after; failover (automatic, and operator failovers and drains
// waiting for a lease); promotion; drive units declared lost.
#include <algorithm>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "proto/event_kinds.h"
#include "proto/model_util.h"
#include "slotmgr/coordinator.h"
#include "slotmgr/view_builder.h"

namespace slotkeeper::slotmgr {
namespace {

// Host states from silence (model.h); journals each change. True if any
// host changed.
bool MarkSilentHosts(ClusterModel& model, std::map<std::string, int64_t>& last_heard_mono_ms,
                     int64_t mono, int64_t now, const CoordinatorConfig& config, Journal& journal,
                     Txn& txn) {
  bool changed = false;
  for (auto& [name, rec] : model.hosts) {
    v1::HostInfo* h = rec.mutable_info();
    const int64_t heard = last_heard_mono_ms[name];
    v1::HostState s =
        HostStateAfterSilence(heard, mono, config.suspect_after_ms, config.down_after_ms);
    if (s == h->state()) continue;
    journal.Record(txn,
                   s == v1::HOST_DOWN      ? event_kind::kHostDown
                   : s == v1::HOST_SUSPECT ? event_kind::kHostSuspect
                                           : event_kind::kHostUp,
                   s == v1::HOST_UP        ? v1::INFO
                   : s == v1::HOST_SUSPECT ? v1::WARNING
                                           : v1::CRITICAL,
                   absl::StrCat("host ", name, ": ", model::Name(h->state()), " -> ",
                                model::Name(s), " (silent ", (mono - heard) / 1000, " s)"),
                   name);
    h->set_state(s);
    h->set_state_since_ms(now);
    txn.hosts.insert(name);
    changed = true;
  }
  return changed;
}

// Remembers an automatic failover for the rate limit and the per-store
// cooldown (guardrails.h), keeping only what they still need.
void RecordAutomaticFailover(AutomationRecord& automation, const std::string& store, int64_t now,
                             const CoordinatorConfig& config) {
  FailoverMark* mark = automation.add_failovers();
  mark->set_store(store);
  mark->set_time_ms(now);
  const int64_t keep = std::max(config.failover_rate_window_ms, config.failover_store_cooldown_ms);
  auto* marks = automation.mutable_failovers();
  for (int i = marks->size() - 1; i >= 0; --i) {
    if (now - marks->Get(i).time_ms() >= keep) marks->DeleteSubrange(i, 1);
  }
  int recent = 0;
  for (const auto& m : *marks) recent += now - m.time_ms() < config.failover_rate_window_ms;
  automation.mutable_state()->set_recent_failovers(recent);
}

// A promotion its target refused did not fail the store over: it no longer
// counts towards the rate limit and the store's cooldown.
void ForgetLastAutomaticFailover(AutomationRecord& automation, const std::string& store) {
  auto* marks = automation.mutable_failovers();
  for (int i = marks->size() - 1; i >= 0; --i) {
    if (marks->Get(i).store() != store) continue;
    marks->DeleteSubrange(i, 1);
    automation.mutable_state()->set_recent_failovers(
        std::max(0, static_cast<int>(automation.state().recent_failovers()) - 1));
    return;
  }
}

}  // namespace

absl::Status Coordinator::Tick() {
  absl::MutexLock lock(&mu_);
  const int64_t now = clock_->NowMs();
  const int64_t mono = clock_->MonotonicMs();
  Txn txn;
  if (MarkSilentHosts(model_, last_heard_mono_ms_, mono, now, config_, journal_, txn)) {
    RecomputeLocked(txn);
  }
  for (const auto& [name, rec] : model_.hosts) {
    if (rec.info().state() != v1::HOST_UP) masters_.HostSilent(name);
  }

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
  const bool mass = view && MassFailure(*view, mono, config_, &why);
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
    tasks_.PlanReplacements(txn);
    tasks_.Schedule(txn);
  }
  return CommitLocked(txn);
}

// An operator failover or a master moving off a draining host, once the old
// lease can no longer be valid: promotes the target (or the best replica), or
// abandons the plan with the reason. False when no view could be built.
bool Coordinator::PlannedFailoverStepLocked(Txn& txn, StoreRecord& rec,
                                            std::optional<ClusterView>& view) {
  const std::string& name = rec.info().name();
  if (!view) view = ViewLocked();
  if (!view) return false;
  PromotionChoice choice = ChoosePromotionLocked(
      *view, rec, rec.pending_forced(), rec.has_pending_target() ? &rec.pending_target() : nullptr);
  if (choice.waiting) return true;
  if (choice.target) {
    PromoteLocked(
        txn, rec, *choice.target,
        rec.has_pending_target() ? "operator failover" : "master moved off a draining host", false);
    view.reset();
    return true;
  }
  journal_.Record(txn, event_kind::kStoreFailoverRefused, v1::CRITICAL,
                  absl::StrCat("planned failover of ", name, " abandoned: ", choice.refused,
                               "; the old master keeps its role"),
                  "", "", name);
  rec.clear_pending_target();
  rec.set_moving_master(false);
  txn.stores.insert(name);
  return true;
}

void Coordinator::FailoverStepLocked(Txn& txn) {
  const int64_t now = clock_->NowMs();
  const int64_t mono = clock_->MonotonicMs();
  std::optional<ClusterView> view;  // built when first needed, again after each promotion
  for (auto& [name, rec] : model_.stores) {
    const v1::Copy* master = MasterCopy(rec);
    const bool lease_valid = leases_.MayBeValid(rec.info(), mono);
    // Operator failover or drain waiting for the old lease.
    if (rec.has_pending_target() || rec.moving_master()) {
      if (lease_valid) continue;
      if (!PlannedFailoverStepLocked(txn, rec, view)) return;
      continue;
    }
    if (master != nullptr && master->usable() && !master->serving() &&
        !outbox_.PromotePending(master->slot().host(), master->slot().slot()) &&
        masters_.RepromoteDue(master->slot(), mono)) {
      RepromoteLocked(txn, rec, *master);
      continue;
    }
    if ((master != nullptr && master->usable()) || rec.info().master_unusable_since_ms() == 0) {
      grace_.erase(name);
      continue;
    }
    // The grace runs on the monotonic clock from when this process first saw
    // the master unusable (and first saw hard evidence against it).
    GraceStart& g = grace_[name];
    if (g.unusable_mono < 0) g.unusable_mono = mono;
    if (rec.master_hard_since_ms() == 0) {
      g.hard_mono = -1;
    } else if (g.hard_mono < 0) {
      g.hard_mono = mono;
    }
    if (!AutomationRunningLocked()) continue;
    const bool hard = g.hard_mono >= 0;
    const int64_t since = hard ? g.hard_mono : g.unusable_mono;
    const int64_t grace = hard ? config_.failover_grace_hard_ms : config_.failover_grace_silent_ms;
    // After a failed promotion the next candidate goes at once.
    if (mono < since + grace && !retry_promotion_now_.count(name)) continue;
    if (lease_valid) continue;  // fencing: the old master may still accept mail
    if (!view) view = ViewLocked();
    if (!view) return;
    PromotionChoice choice = ChoosePromotionLocked(*view, rec, false, nullptr);
    if (choice.waiting) {
      const std::string key = absl::StrCat("failsafe-wait/", name, "/", since);
      if (notices_.insert(key).second) {
        journal_.Record(txn, event_kind::kStoreFailoverWaitsFailsafe, v1::WARNING,
                        absl::StrCat("failover of ", name, " waits: ", choice.refused), "", "",
                        name);
      }
      continue;
    }
    if (!choice.target) continue;  // the store shows UNAVAILABLE with the reason
    RateDecision rate = FailoverRateAllows(automation_, name, now, config_);
    if (!rate.allowed) {
      const std::string key = absl::StrCat("rate-limited/", name, "/", since);
      if (notices_.insert(key).second) {
        journal_.Record(txn, event_kind::kStoreFailoverRateLimited, v1::CRITICAL,
                        absl::StrCat("automatic failover of ", name, " held back: ", rate.reason),
                        "", "", name);
      }
      continue;
    }
    if (FinalPullStepLocked(txn, rec, *choice.target)) continue;
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
  const v1::Copy* old = MasterCopy(store);
  if (old != nullptr) old_ref = old->slot();
  const v1::Endpoint old_ep = old != nullptr ? EndpointOf(model_, old_ref) : v1::Endpoint();
  st->set_master_epoch(st->master_epoch() + 1);
  const uint64_t epoch = st->master_epoch();
  // Unacknowledged promotions and replica assignments of older epochs are
  // stale now: drop them (demotions stay: they fence).
  outbox_.DropStale(txn, name);
  if (old != nullptr) {
    const v1::SlotInfo* os = FindSlot(model_, old_ref);
    const v1::SlotRole keep =
        os != nullptr && os->role() == v1::SLOT_LOST ? v1::SLOT_LOST : v1::SLOT_REPLICA;
    SetSlotRole(model_, txn, old_ref, keep, name).IgnoreError();
    leases_.Release(old_ref);
    outbox_.Issue(txn, old_ref.host(), MakeDemote(name, old_ref.slot(), epoch, why));
  }
  SetSlotRole(model_, txn, target, v1::SLOT_MASTER, name).IgnoreError();
  if (v1::SlotInfo* ts = FindSlot(&model_, target)) ts->set_serving(false);  // until acknowledged
  leases_.Grant(model::SlotName(target), clock_->MonotonicMs() + config_.lease_ms);
  outbox_.Issue(txn, target.host(),
                MakePromote(name, target.slot(), epoch, config_.lease_ms,
                            OtherCopies(model_, store, target)));
  retry_promotion_now_.erase(name);
  final_pulls_.erase(name);
  // Every other replica follows the new master.
  const HostRecord* th = FindHost(model_, target.host());
  for (const auto& c : st->copies()) {
    if (c.role() != v1::SLOT_REPLICA) continue;
    outbox_.Issue(txn, c.slot().host(),
                  MakeAssignReplica(name, c.slot().slot(), epoch,
                                    th != nullptr ? th->info().peer_address() : "", target.slot()));
  }
  store.clear_pending_target();
  store.set_pending_forced(false);
  store.set_moving_master(false);
  st->set_master_unusable_since_ms(0);
  store.set_master_hard_since_ms(0);
  if (automatic) {
    RecordAutomaticFailover(automation_, name, now, config_);
    automatic_promotions_.insert(name);
    txn.automation = true;
  } else {
    automatic_promotions_.erase(name);
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
  *rc.mutable_new_master() = EndpointOf(model_, target);
  txn.routing.push_back(rc);
}

PromotionChoice Coordinator::ChoosePromotionLocked(const ClusterView& view,
                                                   const StoreRecord& store, bool force,
                                                   const v1::SlotRef* wanted) {
  const int64_t mono = clock_->MonotonicMs();
  const std::string& name = store.info().name();
  PromotionChoice choice;
  const std::vector<v1::SlotRef> refused = masters_.Refused(name, mono);
  if (refused.empty()) {
    choice = ChoosePromotion(view, name, config_, force, wanted);
  } else {
    // Copies that refused or failed a promotion lately are left out.
    ClusterView without = view;
    for (StoreView& sv : without.stores) {
      if (sv.name != name) continue;
      for (CopyView& c : sv.copies) {
        for (const v1::SlotRef& r : refused) {
          if (c.slot == ToId(r)) c.usable = false;
        }
      }
    }
    choice = ChoosePromotion(without, name, config_, force, wanted);
  }
  if (choice.target && masters_.MayBeOnFailsafe(store, *choice.target, mono)) {
    choice.refused =
        absl::StrCat("the old master may still serve on failsafe grants of ",
                     absl::StrJoin(store.master_witnesses(), ", "), "; promoting ",
                     model::SlotName(*choice.target),
                     " (not one of them) waits until one of them proves it has promised nothing");
    choice.target.reset();
    choice.waiting = true;
  }
  return choice;
}

void Coordinator::RepromoteLocked(Txn& txn, StoreRecord& store, const v1::Copy& master) {
  const std::string& name = store.info().name();
  const v1::SlotRef ref = master.slot();
  const uint64_t epoch = store.info().master_epoch();
  leases_.Grant(model::SlotName(ref), clock_->MonotonicMs() + config_.lease_ms);
  outbox_.Issue(
      txn, ref.host(),
      MakePromote(name, ref.slot(), epoch, config_.lease_ms, OtherCopies(model_, store, ref)));
  masters_.NoteRepromoted(ref, clock_->MonotonicMs());
  txn.stores.insert(name);
  journal_.Record(txn, event_kind::kStoreRepromote, v1::WARNING,
                  absl::StrCat("store ", name, ": master ", model::SlotName(ref),
                               " holds no lease (its agent restarted or fenced it); promoting it "
                               "again at epoch ",
                               epoch, " so that its promote hook starts the mail server"),
                  ref.host(), ref.slot(), name);
}

void Coordinator::PromoteFailedLocked(Txn& txn, const std::string& host,
                                      const v1::PromoteCommand& promote,
                                      const v1::CommandAck& ack) {
  auto sit = model_.stores.find(promote.store());
  if (sit == model_.stores.end()) return;
  StoreRecord& store = sit->second;
  v1::SlotRef ref;
  ref.set_host(host);
  ref.set_slot(promote.slot());
  const v1::Copy* master = MasterCopy(store);
  if (master == nullptr || !model::SameSlot(master->slot(), ref) ||
      promote.epoch() != store.info().master_epoch()) {
    return;  // an older promotion: the store has moved on
  }
  const int64_t mono = clock_->MonotonicMs();
  SetSlotRole(model_, txn, ref, v1::SLOT_REPLICA, store.info().name()).IgnoreError();
  if (v1::SlotInfo* s = FindSlot(&model_, ref)) s->set_serving(false);
  leases_.Release(ref);
  masters_.Refuse(store.info().name(), ref, mono, config_.lease_ms);
  retry_promotion_now_.insert(store.info().name());
  if (automatic_promotions_.erase(store.info().name()) > 0) {
    ForgetLastAutomaticFailover(automation_, store.info().name());
    txn.automation = true;
  }
  txn.stores.insert(store.info().name());
  journal_.Record(
      txn, event_kind::kStorePromoteFailed, v1::CRITICAL,
      absl::StrCat("store ", store.info().name(), ": promoting ", model::SlotName(ref), " failed (",
                   ack.error(), ")",
                   ack.hook_output().empty() ? "" : " [hook: " + ack.hook_output() + "]",
                   "; the next candidate is tried"),
      host, ref.slot(), store.info().name());
  // Proxies stop sending mail there: no master until the next promotion.
  v1::RoutingChange rc;
  rc.set_time_ms(clock_->NowMs());
  rc.set_store(store.info().name());
  *rc.mutable_old_master() = EndpointOf(model_, ref);
  rc.set_master_epoch(store.info().master_epoch());
  txn.routing.push_back(rc);
  RecomputeLocked(txn);
}

namespace {

// Whether the master `ref` can still be read: its agent reports, its unit
// is not declared lost and its filesystem is mounted (read-only or failing
// is fine: a pull only reads).
bool StillReadable(const ClusterModel& model, const v1::SlotRef& ref) {
  const HostRecord* host = FindHost(model, ref.host());
  const v1::SlotInfo* slot = FindSlot(model, ref);
  if (host == nullptr || slot == nullptr || host->info().state() != v1::HOST_UP) return false;
  for (const v1::FilesystemInfo& f : host->info().filesystems()) {
    if (f.mount_point() != slot->filesystem()) continue;
    if (f.state() == v1::FS_NOT_MOUNTED) return false;
    for (const v1::UnitInfo& u : host->info().units()) {
      if (u.name() == f.unit() && u.state() == v1::UNIT_LOST) return false;
    }
    return true;
  }
  return false;
}

}  // namespace

bool Coordinator::FinalPullStepLocked(Txn& txn, StoreRecord& store, const v1::SlotRef& target) {
  const std::string& name = store.info().name();
  const v1::Copy* master = MasterCopy(store);
  if (config_.final_pull_deadline_ms <= 0 || master == nullptr ||
      !StillReadable(model_, master->slot())) {
    return false;
  }
  const int64_t mono = clock_->MonotonicMs();
  auto it = final_pulls_.find(name);
  if (it == final_pulls_.end() || !model::SameSlot(it->second.target, target)) {
    const HostRecord* source = FindHost(model_, master->slot().host());
    v1::Command cmd;
    v1::FinalPullCommand* fp = cmd.mutable_final_pull();
    fp->set_store(name);
    fp->set_target_slot(target.slot());
    fp->set_source_peer_address(source != nullptr ? source->info().peer_address() : "");
    fp->set_source_slot(master->slot().slot());
    fp->set_deadline_ms(config_.final_pull_deadline_ms);
    outbox_.Issue(txn, target.host(), std::move(cmd));
    final_pulls_[name] = {target, mono, false};
    journal_.Record(
        txn, event_kind::kStoreFinalPull, v1::WARNING,
        absl::StrCat("store ", name, ": ", model::SlotName(target),
                     " pulls once more from the old master ", model::SlotName(master->slot()),
                     " (still readable) before it is promoted"),
        target.host(), target.slot(), name);
    return true;
  }
  // The pull ended (acknowledged), or ran out of time: promote either way;
  // mail it could not pull stays on the old master (stranded, reported).
  const int64_t give_up = it->second.issued_mono + config_.final_pull_deadline_ms + 5000;
  return !it->second.answered && mono < give_up;
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
    SetSlotRole(model_, txn, ref, v1::SLOT_LOST, store).IgnoreError();
    if (!store.empty()) {
      journal_.Record(txn, event_kind::kCopyLost, v1::CRITICAL,
                      absl::StrCat("copy of ", store, " in ", model::SlotName(ref), " is lost"), hn,
                      ref.slot(), store);
    }
  }
  RecomputeLocked(txn);
}

}  // namespace slotkeeper::slotmgr
