#include "slotmgr/guardrails.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"

namespace slotkeeper::slotmgr {

absl::Status GuardrailOptions::Validate() const {
  if (!(max_down_fraction > 0.0 && max_down_fraction <= 1.0)) {
    return absl::InvalidArgumentError(
        absl::StrCat("max_down_fraction must be in (0, 1], got ", max_down_fraction));
  }
  if (min_silent_hosts_for_brake < 1) {
    return absl::InvalidArgumentError("min_silent_hosts_for_brake must be at least 1");
  }
  if (brake_window_ms <= 0) return absl::InvalidArgumentError("brake_window_ms must be > 0");
  if (max_auto_failovers < 0) {
    return absl::InvalidArgumentError("max_auto_failovers must not be negative");
  }
  if (failover_window_ms <= 0) {
    return absl::InvalidArgumentError("failover_window_ms must be > 0");
  }
  if (store_cooldown_ms < 0) {
    return absl::InvalidArgumentError("store_cooldown_ms must not be negative");
  }
  return absl::OkStatus();
}

BrakeDecision CheckMassFailure(const ClusterView& view, int64_t now_ms,
                               const GuardrailOptions& options) {
  BrakeDecision d;
  const int64_t window_start = now_ms - options.brake_window_ms;
  for (const HostView& h : view.hosts) {
    const bool silent = h.state == v1::HOST_SUSPECT || h.state == v1::HOST_DOWN;
    if (silent && h.last_heard_ms < window_start) continue;  // a known, older failure
    ++d.considered_hosts;
    if (silent) {
      ++d.silent_hosts;
      d.silent.push_back(h.name);
    }
  }
  std::sort(d.silent.begin(), d.silent.end());
  if (d.considered_hosts == 0) return d;
  const double fraction = static_cast<double>(d.silent_hosts) / d.considered_hosts;
  d.engage =
      d.silent_hosts >= options.min_silent_hosts_for_brake && fraction > options.max_down_fraction;
  if (d.silent_hosts > 0) {
    d.reason = absl::StrFormat("%d of %d hosts (%.0f%%) went silent within %s (limit %.0f%%): %s",
                               d.silent_hosts, d.considered_hosts, 100 * fraction,
                               FormatMs(options.brake_window_ms), 100 * options.max_down_fraction,
                               absl::StrJoin(d.silent, ", "));
    if (d.engage) {
      absl::StrAppend(&d.reason, "; assuming the coordinator is cut off, freezing automation");
    }
  }
  return d;
}

RateLimitDecision CheckFailoverRate(const std::vector<FailoverRecord>& history,
                                    absl::string_view store, int64_t now_ms,
                                    const GuardrailOptions& options) {
  RateLimitDecision d;
  d.limit = options.max_auto_failovers;
  int64_t last_of_store = -1;
  for (const FailoverRecord& r : history) {
    if (r.time_ms > now_ms - options.failover_window_ms && r.time_ms <= now_ms) ++d.recent;
    if (r.store == store && r.time_ms <= now_ms) last_of_store = std::max(last_of_store, r.time_ms);
  }
  if (last_of_store >= 0 && now_ms - last_of_store < options.store_cooldown_ms) {
    d.allowed = false;
    d.reason = absl::StrCat("store ", store, " was failed over automatically ",
                            FormatMs(now_ms - last_of_store), " ago (cooldown ",
                            FormatMs(options.store_cooldown_ms), "); failover needs an operator");
    return d;
  }
  if (d.recent >= d.limit) {
    d.allowed = false;
    d.reason =
        absl::StrCat(d.recent, " automatic failovers within ", FormatMs(options.failover_window_ms),
                     " (limit ", d.limit, "); failover needs an operator or waits for the window");
  }
  return d;
}

}  // namespace slotkeeper::slotmgr
