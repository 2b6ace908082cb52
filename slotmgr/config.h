// The coordinator's tunables. slotmgrd fills this from its flags; tests build
// it by hand. Durations are milliseconds.
#ifndef SLOTKEEPER_SLOTMGR_CONFIG_H_
#define SLOTKEEPER_SLOTMGR_CONFIG_H_

#include <cstdint>

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
  int64_t max_clock_skew_ms = 5000;
  // A failed unit is declared lost (and its copies replaced) after this.
  int64_t replace_after_ms = 60 * 60 * 1000;
  // A replica this far behind is not promoted without force.
  int64_t max_failover_lag_ms = 60 * 1000;
  // Mass-failure brake: freeze when more than this fraction of hosts is
  // silent (suspect or down), and at least `mass_failure_min_hosts` of them.
  double max_down_fraction = 0.3;
  int mass_failure_min_hosts = 2;
  // At most this many automatic failovers per window.
  int failover_rate_limit = 20;
  int64_t failover_rate_window_ms = 10 * 60 * 1000;
  // Scheduler limits.
  int max_incoming_per_host = 2;
  int max_outgoing_per_host = 2;
  int max_tasks_global = 64;
  int max_task_attempts = 5;
  int64_t task_retry_backoff_ms = 30 * 1000;
  // Placement: a new replica needs the store's data plus this fraction.
  double placement_headroom = 0.2;
  uint32_t default_copies = 3;
};

}  // namespace slotkeeper::slotmgr

#endif  // SLOTKEEPER_SLOTMGR_CONFIG_H_
