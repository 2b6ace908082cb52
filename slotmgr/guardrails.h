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

}  // namespace slotkeeper::slotmgr

#endif  // SLOTKEEPER_SLOTMGR_GUARDRAILS_H_
