// Guardrails: when automation must not act, with the reason for the event.
//
// Pure checks over a ClusterView, a little history and the current time;
// the coordinator persists the resulting automation state and events. Each
// decision carries a `reason` (one sentence for the event's text) and its
// suggested Event.kind as kEventKind.
//
// - Automation pause (operator, like Ceph's `noout`) and freeze (the
//   mass-failure brake): no automatic failover or re-replication.
// - Mass-failure brake: when more than max_down_fraction of the hosts went
//   silent within the brake window, the coordinator assumes that it is the
//   one cut off (Kubernetes' "master disruption mode" stops evictions above
//   55% of a zone unhealthy); it freezes automation and raises an event.
// - Failover rate limit: at most `max_auto_failovers` automatic failovers in
//   any sliding `failover_window_ms`, and none for the same store again
//   within `store_cooldown_ms` (orchestrator's anti-flapping rule).
// - Clock skew: a host whose |offset| exceeds max_clock_skew is flagged and
//   never promoted.
//
// Operator actions (slotctl failover) do not pass through these checks
// except the clock check inside promotion.
//
// Thread-safety: free functions are pure; FailoverHistory is not
// thread-safe (its owner serializes calls).
#ifndef SLOTKEEPER_SLOTMGR_GUARDRAILS_H_
#define SLOTKEEPER_SLOTMGR_GUARDRAILS_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "proto/model.pb.h"
#include "slotmgr/cluster_view.h"

namespace slotkeeper {
namespace slotmgr {

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

  // Automatic failovers per sliding window. Default 50 per 10 min: one whole
  // host with up to 80 slots masters at most ~40 stores in a balanced
  // cluster, so a single host failure fails over fully, while a cascade
  // (flapping network, a bug promoting in circles) stops after about one
  // host's worth and waits for a person.
  int max_auto_failovers = 50;
  int64_t failover_window_ms = 10 * 60'000;
  // The same store is not failed over automatically again within this
  // (orchestrator uses 3600 s): a second failover that soon means the cause
  // is not the host, and a human should look.
  int64_t store_cooldown_ms = 60 * 60'000;

  int64_t max_clock_skew_ms = 5'000;

  // INVALID_ARGUMENT naming the field for out-of-range values.
  absl::Status Validate() const;
};

// What automation may do now.
struct AutomationDecision {
  bool allowed = true;
  std::string reason;  // why not, for the event and slotctl
  static constexpr const char kEventKind[] = "automation.blocked";
};

// Paused or frozen automation blocks every automatic action; RUNNING (or
// UNSPECIFIED, for a fresh coordinator) allows it.
AutomationDecision CheckAutomation(v1::AutomationMode mode, absl::string_view reason);

struct BrakeDecision {
  bool engage = false;
  int silent_hosts = 0;             // SUSPECT or DOWN, last heard within the window
  int considered_hosts = 0;         // all hosts but those silent before the window
  std::vector<std::string> silent;  // their names, sorted
  std::string reason;               // e.g. "7 of 20 hosts (35%) went silent within 10m: ..."
  static constexpr const char kEventKind[] = "automation.frozen";
};

// The mass-failure brake over the host table at `now_ms` (coordinator
// clock). It only says whether the condition holds now; keeping automation
// frozen until an operator resumes it is the caller's policy (see
// NextAutomationMode).
BrakeDecision CheckMassFailure(const ClusterView& view, int64_t now_ms,
                               const GuardrailOptions& options);

// The automation mode after a brake check. RUNNING -> FROZEN when the brake
// engages. FROZEN stays FROZEN even once the hosts are back: the operator
// resumes (SetAutomation), after checking that the coordinator was indeed
// the one cut off. PAUSED stays PAUSED (the operator's word wins).
v1::AutomationMode NextAutomationMode(v1::AutomationMode current, const BrakeDecision& brake);

// One automatic failover, as remembered for the rate limit (rebuilt from the
// event journal after a restart).
struct FailoverRecord {
  std::string store;
  int64_t time_ms = 0;
};

struct RateLimitDecision {
  bool allowed = true;
  int recent = 0;  // automatic failovers within the window
  int limit = 0;
  std::string reason;  // why not
  static constexpr const char kEventKind[] = "failover.rate_limited";
};

// May `store` be failed over automatically at `now_ms`, given the recent
// automatic failovers (any order; older entries are ignored)?
RateLimitDecision CheckFailoverRate(const std::vector<FailoverRecord>& history,
                                    absl::string_view store, int64_t now_ms,
                                    const GuardrailOptions& options);

// The sliding window as a small object: the coordinator keeps one, adds a
// record at every automatic failover it commits, and rebuilds it from the
// journal after a restart.
class FailoverHistory {
 public:
  explicit FailoverHistory(const GuardrailOptions& options) : options_(options) {}

  RateLimitDecision Check(absl::string_view store, int64_t now_ms) const;
  void Record(absl::string_view store, int64_t now_ms);
  // Drops records older than both windows.
  void Prune(int64_t now_ms);
  int RecentCount(int64_t now_ms) const;
  const std::vector<FailoverRecord>& records() const { return records_; }

 private:
  GuardrailOptions options_;
  std::vector<FailoverRecord> records_;  // in time order
};

struct ClockSkewDecision {
  bool skewed = false;
  std::string reason;  // "imap2: clock offset -6h exceeds 5s"
  static constexpr const char kEventKind[] = "host.clock_skew";
};

ClockSkewDecision CheckClockSkew(const HostView& host, const GuardrailOptions& options);

}  // namespace slotmgr
}  // namespace slotkeeper

#endif  // SLOTKEEPER_SLOTMGR_GUARDRAILS_H_
