// Coordinator: the timers (Tick): host silence, the mass-failure brake,
// replace_after, failover (promoter.h); drive units declared lost.
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
  FailoverEnv env = FailoverEnvLocked();
  promoter_.Step(env, txn);
  if (AutomationRunningLocked()) {
    tasks_.PlanReplacements(txn);
    tasks_.Schedule(txn);
  }
  return CommitLocked(txn);
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
