// Coordinator: the timers (Tick): host silence, the mass-failure brake,
// units due to be declared lost (lost_units.h), flap damping, failover
// (promoter.h), re-replication within the evidence brake and the hourly
// limit (automation_guard.h).
#include <algorithm>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "base/log.h"
#include "base/status_macros.h"
#include "proto/event_kinds.h"
#include "proto/model_util.h"
#include "slotmgr/automation_guard.h"
#include "slotmgr/coordinator.h"
#include "slotmgr/journal_retention.h"
#include "slotmgr/lost_units.h"
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

  // Units due to be declared lost are read first (a second opinion,
  // lost_units.h); flap damping releases units that settled.
  Mutation m = MutationLocked(txn);
  ReleaseDecayedFlaps(m);
  if (AutomationRunning(automation_)) RequestLostDeclarations(m);
  if (m.recompute) RecomputeLocked(txn);
  FailoverEnv env = FailoverEnvLocked();
  promoter_.Step(env, txn);
  // While the evidence brake is engaged nothing is placed or started
  // (automation_guard.h, the safety argument).
  if (AutomationRunning(automation_) && !BrakeEngaged(automation_)) {
    Mutation r = MutationLocked(txn);
    const TaskManager::Replanned planned = tasks_.PlanReplacements(txn, RereplicationBudget(r));
    NoteRereplications(r, planned.stores, planned.waiting);
    tasks_.Schedule(txn);
  }
  SK_RETURN_IF_ERROR(CommitLocked(txn));
  if (last_prune_mono_ms_ < 0 ||
      mono - last_prune_mono_ms_ >= config_.journal_retention.interval_ms) {
    last_prune_mono_ms_ = mono;
    const EventPrune prune = PlanPrune(config_.journal_retention, now, journal_.LastSeq(),
                                       OpenTroubleSinceMs(model_, automation_, now));
    absl::StatusOr<size_t> pruned = store_->PruneEvents(prune);
    if (!pruned.ok()) return pruned.status();
    if (*pruned > 0) {
      LogInfo("coordinator", absl::StrCat("journal: pruned ", *pruned, " old events"));
    }
  }
  return absl::OkStatus();
}

}  // namespace slotkeeper::slotmgr
