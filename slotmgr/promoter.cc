// Promoter: automatic failover, planned failovers waiting for a lease,
// promotion and its failure, the final pull before a failover.
#include "slotmgr/promoter.h"

#include <algorithm>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "proto/event_kinds.h"
#include "proto/model_util.h"
#include "slotmgr/automation_guard.h"
#include "slotmgr/failover_causes.h"

namespace slotkeeper::slotmgr {
namespace {

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

// A master that may serve (and so is promoted again when its agent holds
// no lease): a usable one, or one the evidence brake keeps
// (automation_guard.h).
bool MayServe(const FailoverEnv& env, const StoreRecord& store, const v1::Copy& master) {
  if (master.usable()) return true;
  const HostRecord* host = FindHost(env.model, master.slot().host());
  const v1::SlotInfo* slot = FindSlot(env.model, master.slot());
  return host != nullptr && slot != nullptr &&
         BrakeKeepsServing(env.automation, host->info(), *slot, store);
}

// True when automation is paused on the host of `master` (of `store`): its
// failover waits, journaled once per failure (`since`).
bool HeldBackByPause(FailoverEnv& env, Txn& txn, const std::string& store, const v1::Copy* master,
                     int64_t since) {
  if (master == nullptr || !HostPaused(env.model, master->slot().host())) return false;
  if (env.notices.insert(absl::StrCat("paused/", store, "/", since)).second) {
    env.journal.Record(
        txn, event_kind::kAutomationHeldBack, v1::WARNING,
        absl::StrCat("automatic failover of ", store, " held back: automation is paused on host ",
                     master->slot().host()),
        master->slot().host(), master->slot().slot(), store);
  }
  return true;
}

}  // namespace

// An operator failover or a master moving off a draining host, once the old
// lease can no longer be valid: promotes the target (or the best replica), or
// abandons the plan with the reason. False when no view could be built.
bool Promoter::PlannedStep(FailoverEnv& env, Txn& txn, StoreRecord& rec,
                           std::optional<ClusterView>& view) {
  const std::string& name = rec.info().name();
  if (!view) view = env.view();
  if (!view) return false;
  PromotionChoice choice = Choose(env, *view, rec, rec.pending_forced(),
                                  rec.has_pending_target() ? &rec.pending_target() : nullptr);
  if (choice.waiting) return true;
  if (choice.target) {
    Promote(env, txn, rec, *choice.target, rec.has_pending_target() ? kWhyOperator : kWhyDrain,
            false);
    view.reset();
    return true;
  }
  env.journal.Record(txn, event_kind::kStoreFailoverRefused, v1::CRITICAL,
                     absl::StrCat("planned failover of ", name, " abandoned: ", choice.refused,
                                  "; the old master keeps its role"),
                     "", "", name);
  rec.clear_pending_target();
  rec.set_moving_master(false);
  txn.stores.insert(name);
  return true;
}

void Promoter::Step(FailoverEnv& env, Txn& txn) {
  const int64_t now = env.clock->NowMs();
  const int64_t mono = env.clock->MonotonicMs();
  std::optional<ClusterView> view;  // built when first needed, again after each promotion
  for (auto& [name, rec] : env.model.stores) {
    const v1::Copy* master = MasterCopy(rec);
    const bool lease_valid = env.leases.MayBeValid(rec.info(), mono);
    // Operator failover or drain waiting for the old lease.
    if (rec.has_pending_target() || rec.moving_master()) {
      if (lease_valid) continue;
      if (!PlannedStep(env, txn, rec, view)) return;
      continue;
    }
    if (master != nullptr && !master->serving() && MayServe(env, rec, *master) &&
        !env.outbox.PromotePending(master->slot().host(), master->slot().slot()) &&
        env.masters.RepromoteDue(master->slot(), mono)) {
      Repromote(env, txn, rec, *master);
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
    if (!env.automation_running) continue;
    if (HeldBackByPause(env, txn, name, master, g.unusable_mono)) continue;
    const bool hard = g.hard_mono >= 0;
    const int64_t since = hard ? g.hard_mono : g.unusable_mono;
    const int64_t grace =
        hard ? env.config.failover_grace_hard_ms : env.config.failover_grace_silent_ms;
    // After a failed promotion the next candidate goes at once.
    if (mono < since + grace && !retry_now_.count(name)) continue;
    if (lease_valid) continue;  // fencing: the old master may still accept mail
    if (!view) view = env.view();
    if (!view) return;
    PromotionChoice choice = Choose(env, *view, rec, false, nullptr);
    if (choice.waiting) {
      const std::string key = absl::StrCat("failsafe-wait/", name, "/", since);
      if (env.notices.insert(key).second) {
        env.journal.Record(txn, event_kind::kStoreFailoverWaitsFailsafe, v1::WARNING,
                           absl::StrCat("failover of ", name, " waits: ", choice.refused), "", "",
                           name);
      }
      continue;
    }
    if (!choice.target) continue;  // the store shows UNAVAILABLE with the reason
    RateDecision rate = FailoverRateAllows(env.automation, name, now, env.config);
    if (!rate.allowed) {
      const std::string key = absl::StrCat("rate-limited/", name, "/", since);
      if (env.notices.insert(key).second) {
        env.journal.Record(
            txn, event_kind::kStoreFailoverRateLimited, v1::CRITICAL,
            absl::StrCat("automatic failover of ", name, " held back: ", rate.reason), "", "",
            name);
      }
      continue;
    }
    if (FinalPullStep(env, txn, rec, *choice.target)) continue;
    Promote(env, txn, rec, *choice.target, hard ? kWhyHardEvidence : kWhyHostSilent, true);
    view.reset();
  }
}

void Promoter::Promote(FailoverEnv& env, Txn& txn, StoreRecord& store, const v1::SlotRef& target,
                       const std::string& why, bool automatic) {
  const int64_t now = env.clock->NowMs();
  const std::string name = store.info().name();
  v1::StoreInfo* st = store.mutable_info();
  v1::SlotRef old_ref;
  const v1::Copy* old = MasterCopy(store);
  if (old != nullptr) old_ref = old->slot();
  const v1::Endpoint old_ep = old != nullptr ? EndpointOf(env.model, old_ref) : v1::Endpoint();
  st->set_master_epoch(st->master_epoch() + 1);
  const uint64_t epoch = st->master_epoch();
  // Unacknowledged promotions and replica assignments of older epochs are
  // stale now: drop them (demotions stay: they fence).
  env.outbox.DropStale(txn, name);
  if (old != nullptr) {
    const v1::SlotInfo* os = FindSlot(env.model, old_ref);
    const v1::SlotRole keep =
        os != nullptr && os->role() == v1::SLOT_LOST ? v1::SLOT_LOST : v1::SLOT_REPLICA;
    SetSlotRole(env.model, txn, old_ref, keep, name).IgnoreError();
    env.leases.Release(old_ref);
    env.outbox.Issue(txn, old_ref.host(), MakeDemote(name, old_ref.slot(), epoch, why));
  }
  SetSlotRole(env.model, txn, target, v1::SLOT_MASTER, name).IgnoreError();
  if (v1::SlotInfo* ts = FindSlot(&env.model, target))
    ts->set_serving(false);  // until acknowledged
  // The master is the copy every other copy follows: in sync by definition
  // (model.proto Copy.in_sync), with no lag of its own.
  if (v1::Copy* tc = FindCopy(store, target)) {
    tc->set_in_sync(true);
    tc->set_lag_ms(0);
    tc->set_out_of_sync_reason("");
  }
  env.leases.Grant(model::SlotName(target), env.clock->MonotonicMs() + env.config.lease_ms);
  env.outbox.Issue(txn, target.host(),
                   MakePromote(name, target.slot(), epoch, env.config.lease_ms,
                               OtherCopies(env.model, store, target)));
  retry_now_.erase(name);
  final_pulls_.erase(name);
  // Every other replica follows the new master.
  const HostRecord* th = FindHost(env.model, target.host());
  for (const auto& c : st->copies()) {
    if (c.role() != v1::SLOT_REPLICA) continue;
    env.outbox.Issue(
        txn, c.slot().host(),
        MakeAssignReplica(name, c.slot().slot(), epoch,
                          th != nullptr ? th->info().peer_address() : "", target.slot()));
  }
  store.clear_pending_target();
  store.set_pending_forced(false);
  store.set_moving_master(false);
  st->set_master_unusable_since_ms(0);
  store.set_master_hard_since_ms(0);
  if (automatic) {
    RecordAutomaticFailover(env.automation, name, now, env.config);
    automatic_.insert(name);
    txn.automation = true;
  } else {
    automatic_.erase(name);
  }
  txn.stores.insert(name);
  env.journal.Record(txn, event_kind::kStoreFailover, v1::CRITICAL,
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
  env.recompute(txn);
  *rc.mutable_new_master() = EndpointOf(env.model, target);
  txn.routing.push_back(rc);
}

PromotionChoice Promoter::Choose(FailoverEnv& env, const ClusterView& view,
                                 const StoreRecord& store, bool force, const v1::SlotRef* wanted) {
  const int64_t mono = env.clock->MonotonicMs();
  const std::string& name = store.info().name();
  PromotionChoice choice;
  const std::vector<v1::SlotRef> refused = env.masters.Refused(name, mono);
  if (refused.empty()) {
    choice = ChoosePromotion(view, name, env.config, force, wanted);
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
    choice = ChoosePromotion(without, name, env.config, force, wanted);
  }
  if (choice.target && env.masters.MayBeOnFailsafe(store, *choice.target, mono)) {
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

void Promoter::Repromote(FailoverEnv& env, Txn& txn, StoreRecord& store, const v1::Copy& master) {
  const std::string& name = store.info().name();
  const v1::SlotRef ref = master.slot();
  const uint64_t epoch = store.info().master_epoch();
  env.leases.Grant(model::SlotName(ref), env.clock->MonotonicMs() + env.config.lease_ms);
  env.outbox.Issue(txn, ref.host(),
                   MakePromote(name, ref.slot(), epoch, env.config.lease_ms,
                               OtherCopies(env.model, store, ref)));
  env.masters.NoteRepromoted(ref, env.clock->MonotonicMs());
  txn.stores.insert(name);
  env.journal.Record(
      txn, event_kind::kStoreRepromote, v1::WARNING,
      absl::StrCat("store ", name, ": master ", model::SlotName(ref),
                   " holds no lease (its agent restarted or fenced it); promoting it "
                   "again at epoch ",
                   epoch, " so that its promote hook starts the mail server"),
      ref.host(), ref.slot(), name);
}

void Promoter::PromoteFailed(FailoverEnv& env, Txn& txn, const std::string& host,
                             const v1::PromoteCommand& promote, const v1::CommandAck& ack) {
  auto sit = env.model.stores.find(promote.store());
  if (sit == env.model.stores.end()) return;
  StoreRecord& store = sit->second;
  v1::SlotRef ref;
  ref.set_host(host);
  ref.set_slot(promote.slot());
  const v1::Copy* master = MasterCopy(store);
  if (master == nullptr || !model::SameSlot(master->slot(), ref) ||
      promote.epoch() != store.info().master_epoch()) {
    return;  // an older promotion: the store has moved on
  }
  const int64_t mono = env.clock->MonotonicMs();
  SetSlotRole(env.model, txn, ref, v1::SLOT_REPLICA, store.info().name()).IgnoreError();
  if (v1::SlotInfo* s = FindSlot(&env.model, ref)) s->set_serving(false);
  env.leases.Release(ref);
  env.masters.Refuse(store.info().name(), ref, mono, env.config.lease_ms);
  retry_now_.insert(store.info().name());
  if (automatic_.erase(store.info().name()) > 0) {
    ForgetLastAutomaticFailover(env.automation, store.info().name());
    txn.automation = true;
  }
  txn.stores.insert(store.info().name());
  env.journal.Record(
      txn, event_kind::kStorePromoteFailed, v1::CRITICAL,
      absl::StrCat("store ", store.info().name(), ": promoting ", model::SlotName(ref), " failed (",
                   ack.error(), ")",
                   ack.hook_output().empty() ? "" : " [hook: " + ack.hook_output() + "]",
                   "; the next candidate is tried"),
      host, ref.slot(), store.info().name());
  // Proxies stop sending mail there: no master until the next promotion.
  v1::RoutingChange rc;
  rc.set_time_ms(env.clock->NowMs());
  rc.set_store(store.info().name());
  *rc.mutable_old_master() = EndpointOf(env.model, ref);
  rc.set_master_epoch(store.info().master_epoch());
  txn.routing.push_back(rc);
  env.recompute(txn);
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

bool Promoter::FinalPullStep(FailoverEnv& env, Txn& txn, StoreRecord& store,
                             const v1::SlotRef& target) {
  const std::string& name = store.info().name();
  const v1::Copy* master = MasterCopy(store);
  if (env.config.final_pull_deadline_ms <= 0 || master == nullptr ||
      !StillReadable(env.model, master->slot())) {
    return false;
  }
  const int64_t mono = env.clock->MonotonicMs();
  auto it = final_pulls_.find(name);
  if (it == final_pulls_.end() || !model::SameSlot(it->second.target, target)) {
    const HostRecord* source = FindHost(env.model, master->slot().host());
    v1::Command cmd;
    v1::FinalPullCommand* fp = cmd.mutable_final_pull();
    fp->set_store(name);
    fp->set_target_slot(target.slot());
    fp->set_source_peer_address(source != nullptr ? source->info().peer_address() : "");
    fp->set_source_slot(master->slot().slot());
    fp->set_deadline_ms(env.config.final_pull_deadline_ms);
    env.outbox.Issue(txn, target.host(), std::move(cmd));
    final_pulls_[name] = {target, mono, false};
    env.journal.Record(
        txn, event_kind::kStoreFinalPull, v1::WARNING,
        absl::StrCat("store ", name, ": ", model::SlotName(target),
                     " pulls once more from the old master ", model::SlotName(master->slot()),
                     " (still readable) before it is promoted"),
        target.host(), target.slot(), name);
    return true;
  }
  // The pull ended (acknowledged), or ran out of time: promote either way;
  // mail it could not pull stays on the old master (stranded, reported).
  const int64_t give_up = it->second.issued_mono + env.config.final_pull_deadline_ms + 5000;
  return !it->second.answered && mono < give_up;
}

void Promoter::FinalPullAnswered(const std::string& store) {
  auto it = final_pulls_.find(store);
  if (it != final_pulls_.end()) it->second.answered = true;
}

}  // namespace slotkeeper::slotmgr
