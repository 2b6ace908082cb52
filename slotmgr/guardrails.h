// Guardrails: when automation must not act, with the reason for the event.
//
// Pure checks over a ClusterView, the recent automatic failovers and the
// current time. The coordinator keeps the automation mode and the failover
// history in its AutomationRecord, persists them, and journals the reason.
//
// - Mass-failure brake: when more than max_down_fraction of the hosts went
//   silent within the brake window, the coordinator assumes that it is the
//   one cut off (Kubernetes' "master disruption mode" stops evictions above
//   55% of a zone unhealthy); it freezes automation until an operator
//   resumes it, because only a person can tell whether the coordinator was
//   the one cut off.
// - Failover rate limit: at most `max_auto_failovers` automatic failovers in
//   any sliding `failover_window_ms`, and none for the same store again
//   within `store_cooldown_ms` (orchestrator's anti-flapping rule).
// - Evidence brake: when hard evidence arrives on more than a share of the
//   hosts or of the drive units within `evidence_window_ms`, it is more
//   likely a bad probe or agent release than that many disks failing at
//   once; the coordinator stops every irreversible step until an operator
//   acknowledges (the same spirit as Kubernetes' unhealthy-zone rule).
// - Hourly limits: at most so many drive units declared lost and stores
//   re-replicated by automation per sliding hour (the blast radius).
// - Flap damping: a unit's penalty rises by 1 at each failure and decays
//   exponentially (BGP route flap damping); above a threshold the unit is
//   suppressed until the penalty has fallen below half of it.
//
// Operator actions (slotctl failover) do not pass through these checks.
// Thread-safe (no state).
#ifndef SLOTKEEPER_SLOTMGR_GUARDRAILS_H_
#define SLOTKEEPER_SLOTMGR_GUARDRAILS_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "proto/model.pb.h"
#include "slotmgr/cluster_view.h"

namespace slotkeeper::slotmgr {

// The coordinator derives these from CoordinatorConfig (config.h); the
// defaults here are the same as the config's.
struct GuardrailOptions {
  // Brake when strictly more than this fraction of hosts went silent
  // (SUSPECT or DOWN) within `brake_window_ms`.
  double max_down_fraction = 0.3;
  // ... and at least this many hosts: in a 3-host cluster one dead host is
  // 33%, and failing it over is exactly what automation is for.
  int min_silent_hosts_for_brake = 2;
  // "At once": hosts last heard within this window before now. Equal to the
  // default failover grace for silence (10 min), so hosts going silent
  // together are seen as one event before any silence-driven failover.
  // Hosts silent for longer are known failures: they count in neither the
  // numerator nor the denominator.
  int64_t brake_window_ms = 10 * 60'000;

  // Automatic failovers per sliding window: enough for one host's masters,
  // while a cascade (flapping network, a bug promoting in circles) stops
  // and waits for a person.
  int max_auto_failovers = 20;
  int64_t failover_window_ms = 10 * 60'000;
  // The same store is not failed over automatically again within this
  // (orchestrator uses 3600 s): a second failover that soon means the cause
  // is not the host, and a human should look.
  int64_t store_cooldown_ms = 60 * 60'000;

  // Evidence brake: engage when strictly more than this fraction of the
  // hosts, and at least `evidence_min_hosts` of them, saw hard evidence
  // arrive within the window; or the same for drive units. The minimums
  // keep one failing host (its units) in a small cluster from braking: that
  // is what automation is for.
  double evidence_host_fraction = 0.3;
  int evidence_min_hosts = 2;
  double evidence_unit_fraction = 0.2;
  int evidence_min_units = 3;
  int64_t evidence_window_ms = 2 * 60'000;

  // Per sliding hour: drive units declared lost, stores re-replicated.
  int max_units_lost_per_hour = 4;
  int max_rereplications_per_hour = 100;

  // Flap damping: the penalty halves every `flap_half_life_ms`; a unit is
  // suppressed at `flap_suppress_threshold` (each failure adds 1: three
  // failures in a few minutes).
  int64_t flap_half_life_ms = 15 * 60'000;
  double flap_suppress_threshold = 2.5;

  // INVALID_ARGUMENT naming the field for out-of-range values.
  absl::Status Validate() const;
};

struct BrakeDecision {
  bool engage = false;
  int silent_hosts = 0;             // SUSPECT or DOWN, last heard within the window
  int considered_hosts = 0;         // all hosts but those silent before the window
  std::vector<std::string> silent;  // their names, sorted
  std::string reason;               // e.g. "7 of 20 hosts (35%) went silent within 10m: ..."
};

// The mass-failure brake over the host table at `now_ms` (coordinator
// clock). It only says whether the condition holds now; keeping automation
// frozen until an operator resumes it is the caller's policy.
BrakeDecision CheckMassFailure(const ClusterView& view, int64_t now_ms,
                               const GuardrailOptions& options);

// One automatic failover, as remembered for the rate limit.
struct FailoverRecord {
  std::string store;
  int64_t time_ms = 0;
};

struct RateLimitDecision {
  bool allowed = true;
  int recent = 0;  // automatic failovers within the window
  int limit = 0;
  std::string reason;  // why not
};

// May `store` be failed over automatically at `now_ms`, given the recent
// automatic failovers (any order; older entries are ignored)?
RateLimitDecision CheckFailoverRate(const std::vector<FailoverRecord>& history,
                                    absl::string_view store, int64_t now_ms,
                                    const GuardrailOptions& options);

// ---- The evidence brake ---------------------------------------------------

// Hard evidence arriving on one drive unit (a hard condition about it, its
// filesystem, one of its slots or its whole host that was not there before).
struct EvidenceArrival {
  std::string host;
  std::string unit;
  int64_t time_ms = 0;
};

struct EvidenceBrakeDecision {
  bool engage = false;
  int hosts = 0;        // distinct hosts with an arrival within the window
  int total_hosts = 0;  // of the cluster
  int units = 0;        // distinct drive units with an arrival within the window
  int total_units = 0;
  std::string reason;  // e.g. "hard evidence on 4 of 4 hosts (100%) and 8 of 8 units ..."
};

// Whether the arrivals (any order; those outside the window before `now_ms`
// are ignored) are a burst that must stop automation's irreversible steps.
EvidenceBrakeDecision CheckEvidenceBrake(const std::vector<EvidenceArrival>& arrivals,
                                         int total_hosts, int total_units, int64_t now_ms,
                                         const GuardrailOptions& options);

// ---- Hourly limits --------------------------------------------------------

struct HourlyLimitDecision {
  bool allowed = true;
  int used = 0;  // within the hour before now
  int limit = 0;
  int remaining = 0;   // may still be done within the hour
  std::string reason;  // why not, naming `what`
};

// May `wanted` more actions (e.g. drive units declared lost) be taken at
// `now_ms`, given when earlier ones were (any order; older than an hour
// ignored) and at most `limit` per sliding hour?
HourlyLimitDecision CheckHourlyLimit(const std::vector<int64_t>& times, int64_t now_ms, int limit,
                                     int wanted, absl::string_view what);

// ---- Flap damping ---------------------------------------------------------

// A drive unit's flap penalty, as of `at_ms`.
struct FlapPenalty {
  double penalty = 0;
  int64_t at_ms = 0;
  bool suppressed = false;
};

// The penalty decayed from `at_ms` to `now_ms` (halved every half-life).
double DecayedPenalty(const FlapPenalty& p, int64_t now_ms, int64_t half_life_ms);

// After a failure at `now_ms`: the decayed penalty plus one, suppressed
// once it reaches the threshold (and still suppressed if it was).
FlapPenalty PenaltyAfterFailure(const FlapPenalty& p, int64_t now_ms,
                                const GuardrailOptions& options);

// True when a suppressed unit's penalty has decayed below half the
// threshold at `now_ms` (the hysteresis keeps a unit that fails now and
// then from going in and out of suppression).
bool FlapSuppressionEnds(const FlapPenalty& p, int64_t now_ms, const GuardrailOptions& options);

}  // namespace slotkeeper::slotmgr

#endif  // SLOTKEEPER_SLOTMGR_GUARDRAILS_H_
