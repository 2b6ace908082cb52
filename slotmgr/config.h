// The coordinator's tunables. slotmgrd fills this from its flags; tests build
// it by hand. Durations are milliseconds.
#ifndef SLOTKEEPER_SLOTMGR_CONFIG_H_
#define SLOTKEEPER_SLOTMGR_CONFIG_H_

#include <cstdint>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

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
  // A failed unit is declared lost (and its copies replaced) after this; so
  // is every unit of a host DOWN for this long (counted from DOWN).
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
  // The same store is not failed over automatically again within this.
  int64_t failover_store_cooldown_ms = 60 * 60 * 1000;
  // Scheduler limits.
  int max_incoming_per_host = 2;
  int max_outgoing_per_host = 2;
  int max_tasks_global = 64;
  int max_task_attempts = 5;
  int64_t task_retry_backoff_ms = 30 * 1000;
  // Placement: a new replica needs the store's data plus this fraction.
  double placement_headroom = 0.2;
  uint32_t default_copies = 3;
  // A failed RocksDB commit aborts the process (the model in memory would be
  // ahead of the disk); off only in tests that inject write failures.
  bool exit_on_commit_failure = true;
};

// INVALID_ARGUMENT naming the first setting out of range.
inline absl::Status ValidateConfig(const CoordinatorConfig& c) {
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
  return absl::OkStatus();
}

}  // namespace slotkeeper::slotmgr

#endif  // SLOTKEEPER_SLOTMGR_CONFIG_H_
