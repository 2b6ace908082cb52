#include "slotmgr/config.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"

namespace slotkeeper::slotmgr {

absl::Status ValidateConfig(const CoordinatorConfig& c) {
  auto positive = [](const char* name, int64_t v) {
    return v > 0 ? absl::OkStatus()
                 : absl::InvalidArgumentError(absl::StrCat("--", name, " must be positive"));
  };
  for (absl::Status st :
       {positive("heartbeat", c.heartbeat_ms), positive("suspect_after", c.suspect_after_ms),
        positive("down_after", c.down_after_ms), positive("lease", c.lease_ms),
        positive("max_clock_skew", c.max_clock_skew_ms),
        positive("replace_after", c.replace_after_ms),
        positive("failover_rate_limit", c.failover_rate_limit),
        positive("max_incoming_per_host", c.max_incoming_per_host),
        positive("max_outgoing_per_host", c.max_outgoing_per_host),
        positive("max_tasks", c.max_tasks_global),
        positive("max_task_attempts", c.max_task_attempts), positive("copies", c.default_copies)}) {
    if (!st.ok()) return st;
  }
  if (c.down_after_ms <= c.suspect_after_ms) {
    return absl::InvalidArgumentError("--down_after must be longer than --suspect_after");
  }
  if (c.failover_grace_silent_ms < 0 || c.failover_grace_hard_ms < 0) {
    return absl::InvalidArgumentError("failover graces must not be negative");
  }
  if (!(c.max_down_fraction > 0 && c.max_down_fraction <= 1)) {
    return absl::InvalidArgumentError("--max_down_fraction must be in (0, 1]");
  }
  for (auto [name, v] : {std::pair<const char*, double>{"evidence_brake_host_fraction",
                                                        c.evidence_brake_host_fraction},
                         {"evidence_brake_unit_fraction", c.evidence_brake_unit_fraction}}) {
    if (!(v > 0 && v <= 1)) {
      return absl::InvalidArgumentError(absl::StrCat("--", name, " must be in (0, 1]"));
    }
  }
  for (absl::Status st : {positive("evidence_brake_min_hosts", c.evidence_brake_min_hosts),
                          positive("evidence_brake_min_units", c.evidence_brake_min_units),
                          positive("evidence_brake_window", c.evidence_brake_window_ms),
                          positive("flap_half_life", c.flap_half_life_ms)}) {
    if (!st.ok()) return st;
  }
  if (c.max_units_lost_per_hour < 0 || c.max_rereplications_per_hour < 0) {
    return absl::InvalidArgumentError(
        "--max_units_lost_per_hour and --max_rereplications_per_hour must not be negative");
  }
  if (!(c.flap_suppress_threshold >= 1)) {
    return absl::InvalidArgumentError("--flap_suppress_threshold must be at least 1");
  }
  return absl::OkStatus();
}

PromotionOptions PromotionOptionsFrom(const CoordinatorConfig& c) {
  PromotionOptions o;
  o.max_clock_skew_ms = c.max_clock_skew_ms;
  o.max_lag_ms = c.max_failover_lag_ms;
  return o;
}

PlacementOptions PlacementOptionsFrom(const CoordinatorConfig& c) {
  PlacementOptions o;
  o.headroom_fraction = c.placement_headroom;
  o.max_clock_skew_ms = c.max_clock_skew_ms;
  return o;
}

SchedulerOptions SchedulerOptionsFrom(const CoordinatorConfig& c) {
  SchedulerOptions o;
  o.max_incoming_per_host = c.max_incoming_per_host;
  o.max_outgoing_per_host = c.max_outgoing_per_host;
  o.max_running = c.max_tasks_global;
  o.max_attempts = c.max_task_attempts;
  o.initial_backoff_ms = c.task_retry_backoff_ms;
  o.max_backoff_ms = std::max<int64_t>(c.task_retry_backoff_ms, 15 * 60'000);
  return o;
}

GuardrailOptions GuardrailOptionsFrom(const CoordinatorConfig& c) {
  GuardrailOptions o;
  o.max_down_fraction = c.max_down_fraction;
  o.min_silent_hosts_for_brake = c.mass_failure_min_hosts;
  o.brake_window_ms = std::max<int64_t>(c.failover_grace_silent_ms, c.down_after_ms);
  o.max_auto_failovers = c.failover_rate_limit;
  o.failover_window_ms = c.failover_rate_window_ms;
  o.store_cooldown_ms = c.failover_store_cooldown_ms;
  o.evidence_host_fraction = c.evidence_brake_host_fraction;
  o.evidence_min_hosts = c.evidence_brake_min_hosts;
  o.evidence_unit_fraction = c.evidence_brake_unit_fraction;
  o.evidence_min_units = c.evidence_brake_min_units;
  o.evidence_window_ms = c.evidence_brake_window_ms;
  o.max_units_lost_per_hour = c.max_units_lost_per_hour;
  o.max_rereplications_per_hour = c.max_rereplications_per_hour;
  o.flap_half_life_ms = c.flap_half_life_ms;
  o.flap_suppress_threshold = c.flap_suppress_threshold;
  return o;
}

}  // namespace slotkeeper::slotmgr
