#include "slotmgr/journal_retention.h"

#include <algorithm>

#include "proto/model_util.h"

namespace slotkeeper::slotmgr {

int64_t OpenTroubleSinceMs(const ClusterModel& model, const AutomationRecord& automation,
                           int64_t now_ms) {
  int64_t floor = now_ms;
  auto consider = [&](int64_t since) {
    if (since > 0) floor = std::min(floor, since);
  };
  for (const auto& [name, rec] : model.hosts) {
    const v1::HostInfo& h = rec.info();
    if (h.state() != v1::HOST_UP) consider(h.state_since_ms());
    if (h.has_automation_pause()) consider(h.automation_pause().since_ms());
    for (const v1::UnitInfo& u : h.units()) {
      if (u.state() != v1::UNIT_ONLINE) consider(u.failed_since_ms());
    }
  }
  for (const auto& [name, rec] : model.stores) {
    consider(rec.info().master_unusable_since_ms());
  }
  for (const auto& [id, task] : model.tasks) {
    if (!model::IsTaskFinished(task.info().state())) consider(task.info().created_ms());
  }
  const v1::AutomationState& as = automation.state();
  if (as.mode() != v1::AUTOMATION_RUNNING && as.mode() != v1::AUTOMATION_MODE_UNSPECIFIED) {
    consider(as.since_ms());
  }
  consider(as.brake_since_ms());
  return floor;
}

EventPrune PlanPrune(const RetentionOptions& options, int64_t now_ms, uint64_t last_seq,
                     int64_t floor_ms) {
  EventPrune p;
  p.older_than_ms = now_ms - options.max_age_ms;
  p.below_seq = last_seq > options.max_events ? last_seq - options.max_events + 1 : 0;
  p.floor_ms = floor_ms;
  // The floor holds while the journal stays within ten times its size: a
  // trouble left open for good (a host down and never removed) must not
  // let the journal grow without bound.
  const uint64_t hard_max = options.max_events * kHardMaxFactor;
  p.force_below_seq = last_seq > hard_max ? last_seq - hard_max + 1 : 0;
  p.max_delete = kMaxDeletePerPass;
  return p;
}

}  // namespace slotkeeper::slotmgr
