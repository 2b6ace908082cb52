#include "slotmgr/guardrails.h"

#include <algorithm>
#include <cmath>
#include <set>

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
  if (!(evidence_host_fraction > 0.0 && evidence_host_fraction <= 1.0) ||
      !(evidence_unit_fraction > 0.0 && evidence_unit_fraction <= 1.0)) {
    return absl::InvalidArgumentError("evidence brake fractions must be in (0, 1]");
  }
  if (evidence_min_hosts < 1 || evidence_min_units < 1) {
    return absl::InvalidArgumentError("evidence brake minimums must be at least 1");
  }
  if (evidence_window_ms <= 0) return absl::InvalidArgumentError("evidence_window_ms must be > 0");
  if (max_units_lost_per_hour < 0 || max_rereplications_per_hour < 0) {
    return absl::InvalidArgumentError("hourly limits must not be negative");
  }
  if (flap_half_life_ms <= 0) return absl::InvalidArgumentError("flap_half_life_ms must be > 0");
  if (!(flap_suppress_threshold >= 1.0)) {
    return absl::InvalidArgumentError("flap_suppress_threshold must be at least 1");
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

EvidenceBrakeDecision CheckEvidenceBrake(const std::vector<EvidenceArrival>& arrivals,
                                         int total_hosts, int total_units, int64_t now_ms,
                                         const GuardrailOptions& options) {
  EvidenceBrakeDecision d;
  d.total_hosts = total_hosts;
  d.total_units = total_units;
  std::set<std::string> hosts, units;
  for (const EvidenceArrival& a : arrivals) {
    if (a.time_ms > now_ms || a.time_ms <= now_ms - options.evidence_window_ms) continue;
    hosts.insert(a.host);
    units.insert(absl::StrCat(a.host, "/", a.unit));
  }
  d.hosts = static_cast<int>(hosts.size());
  d.units = static_cast<int>(units.size());
  if (d.hosts == 0 || total_hosts <= 0 || total_units <= 0) return d;
  const double host_share = static_cast<double>(d.hosts) / total_hosts;
  const double unit_share = static_cast<double>(d.units) / total_units;
  const bool by_hosts =
      d.hosts >= options.evidence_min_hosts && host_share > options.evidence_host_fraction;
  const bool by_units =
      d.units >= options.evidence_min_units && unit_share > options.evidence_unit_fraction;
  d.engage = by_hosts || by_units;
  d.reason = absl::StrFormat(
      "hard evidence arrived on %d of %d hosts (%.0f%%, limit %.0f%%) and %d of %d drive units "
      "(%.0f%%, limit %.0f%%) within %s: %s",
      d.hosts, total_hosts, 100 * host_share, 100 * options.evidence_host_fraction, d.units,
      total_units, 100 * unit_share, 100 * options.evidence_unit_fraction,
      FormatMs(options.evidence_window_ms), absl::StrJoin(units, ", "));
  return d;
}

HourlyLimitDecision CheckHourlyLimit(const std::vector<int64_t>& times, int64_t now_ms, int limit,
                                     int wanted, absl::string_view what) {
  constexpr int64_t kHourMs = 60 * 60'000;
  HourlyLimitDecision d;
  d.limit = limit;
  for (int64_t t : times) d.used += t <= now_ms && t > now_ms - kHourMs;
  d.remaining = std::max(0, limit - d.used);
  d.allowed = wanted <= d.remaining;
  if (!d.allowed) {
    d.reason =
        absl::StrCat(d.used, " ", what, " within the last hour (limit ", limit, " per hour)");
  }
  return d;
}

double DecayedPenalty(const FlapPenalty& p, int64_t now_ms, int64_t half_life_ms) {
  if (p.penalty <= 0 || half_life_ms <= 0) return 0;
  const double elapsed = static_cast<double>(std::max<int64_t>(0, now_ms - p.at_ms));
  return p.penalty * std::exp2(-elapsed / static_cast<double>(half_life_ms));
}

FlapPenalty PenaltyAfterFailure(const FlapPenalty& p, int64_t now_ms,
                                const GuardrailOptions& options) {
  FlapPenalty out;
  out.penalty = DecayedPenalty(p, now_ms, options.flap_half_life_ms) + 1.0;
  out.at_ms = now_ms;
  out.suppressed = p.suppressed || out.penalty >= options.flap_suppress_threshold;
  return out;
}

bool FlapSuppressionEnds(const FlapPenalty& p, int64_t now_ms, const GuardrailOptions& options) {
  return p.suppressed &&
         DecayedPenalty(p, now_ms, options.flap_half_life_ms) < options.flap_suppress_threshold / 2;
}

}  // namespace slotkeeper::slotmgr
