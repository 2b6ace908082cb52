// The coordinator's tunables, and the one place where the planners' options
// are derived from them.
//
// slotmgrd fills CoordinatorConfig from its flags; tests build it by hand.
// Durations are milliseconds. The planners (promotion.h, placement.h,
// scheduler.h, guardrails.h) take their own option structs so that they stay
// independent of the coordinator; the *OptionsFrom functions below are the
// only translation, so a setting means the same thing everywhere.
// Plain values; thread-compatible.
#ifndef SLOTKEEPER_SLOTMGR_CONFIG_H_
#define SLOTKEEPER_SLOTMGR_CONFIG_H_

#include <cstdint>

#include "absl/status/status.h"
#include "slotmgr/guardrails.h"
#include "slotmgr/placement.h"
#include "slotmgr/promotion.h"
#include "slotmgr/scheduler.h"

namespace slotkeeper::slotmgr {

struct CoordinatorConfig {
  int64_t heartbeat_ms = 1000;
  int64_t suspect_after_ms = 5000;
  int64_t down_after_ms = 30000;
  // Failover waits this long after the master became unusable: silence...
  int64_t failover_grace_silent_ms = 10 * 60 * 1000;
  // ...or hard evidence reported by a live agent.
  int64_t failover_grace_hard_ms = 30 * 1000;
  int64_t lease_ms = 20000;
  // Beyond a lease, how long a failsafe promise may outlast it (the agents'
  // margin, 1 s by default, plus slack): a witness connected for a lease plus
  // this proves the old master cannot be on failsafe grants.
  int64_t failsafe_margin_ms = 3000;
  // Before failing over from a master whose agent still runs and whose
  // filesystem is still mounted (read-only, failing but readable), the
  // replica to promote pulls from it once more within this time (0: never),
  // so that mail delivered after the last sync is on the new master.
  int64_t final_pull_deadline_ms = 30000;
  int64_t max_clock_skew_ms = 5000;
  // A failed unit is declared lost (and its copies replaced) after this; so
  // is every unit of a host DOWN for this long (counted from DOWN).
  int64_t replace_after_ms = 60 * 60 * 1000;
  // A replica this far behind is not promoted without force.
  int64_t max_failover_lag_ms = 60 * 1000;
  // Mass-failure brake: freeze when more than this fraction of hosts is
  // silent (suspect or down), and at least `mass_failure_min_hosts` of them.
  double max_down_fraction = 0.3;
  int mass_failure_min_hosts = 2;
  // At most this many automatic failovers per window: one host's masters
  // fail over fully, a cascade stops and waits for a person.
  int failover_rate_limit = 20;
  int64_t failover_rate_window_ms = 10 * 60 * 1000;
  // The same store is not failed over automatically again within this.
  int64_t failover_store_cooldown_ms = 60 * 60 * 1000;
  // Evidence brake (guardrails.h): hard evidence arriving on more than this
  // share of the hosts (and at least so many) or of the drive units (and at
  // least so many) within the window stops every irreversible step until an
  // operator acknowledges.
  double evidence_brake_host_fraction = 0.3;
  int evidence_brake_min_hosts = 2;
  double evidence_brake_unit_fraction = 0.2;
  int evidence_brake_min_units = 3;
  int64_t evidence_brake_window_ms = 2 * 60 * 1000;
  // Blast radius: per sliding hour, at most this many drive units declared
  // lost (automatically, or by an operator without --force) and stores
  // given new replicas by automation.
  int max_units_lost_per_hour = 4;
  int max_rereplications_per_hour = 100;
  // Flap damping: each failure of a drive unit adds 1 to its penalty, which
  // halves every half-life; at the threshold the unit is suppressed.
  int64_t flap_half_life_ms = 15 * 60 * 1000;
  double flap_suppress_threshold = 2.5;
  // Scheduler limits.
  int max_incoming_per_host = 2;
  int max_outgoing_per_host = 2;
  int max_tasks_global = 64;
  int max_task_attempts = 5;
  int64_t task_retry_backoff_ms = 30 * 1000;
  // Placement: a new replica needs the store's data plus this fraction.
  double placement_headroom = 0.2;
  uint32_t default_copies = 3;
  // Test-only: a failed RocksDB commit aborts the process (the model in
  // memory would be ahead of the disk); only tests that inject write
  // failures turn this off. slotmgrd has no flag for it.
  bool exit_on_commit_failure = true;
};

// INVALID_ARGUMENT naming the first setting out of range (by its slotmgrd
// flag).
absl::Status ValidateConfig(const CoordinatorConfig& config);

// The planners' options, as the coordinator runs them.
PromotionOptions PromotionOptionsFrom(const CoordinatorConfig& config);
PlacementOptions PlacementOptionsFrom(const CoordinatorConfig& config);
// The backoff doubles from task_retry_backoff up to 15 minutes (or the
// first backoff, if that is longer).
SchedulerOptions SchedulerOptionsFrom(const CoordinatorConfig& config);
// The brake window is the silence grace (or down_after, if longer): hosts
// going silent together are seen as one event before any silence-driven
// failover.
GuardrailOptions GuardrailOptionsFrom(const CoordinatorConfig& config);

}  // namespace slotkeeper::slotmgr

#endif  // SLOTKEEPER_SLOTMGR_CONFIG_H_
