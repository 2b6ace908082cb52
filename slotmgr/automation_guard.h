// What automation may do now, beyond the failover rules (guardrails.h:
// rate limit, cooldown, the mass-failure brake): the evidence brake, the
// hourly blast-radius limits, pauses of single hosts, flap damping; and the
// operator actions that release them (acknowledging the brake, pausing and
// resuming a host). Each function works on one Mutation (mutation.h) under
// the coordinator's lock; the decisions themselves are the pure functions
// of guardrails.h. Thread-compatible.
//
// The evidence brake. Hard evidence that arrives on more than a share of
// the hosts or drive units within a window (CheckEvidenceBrake) is more
// likely a probe or an agent release gone wrong than disks failing
// together. The brake engages with one critical event and stays engaged
// until an operator acknowledges it (AcknowledgeBrake); it is independent
// of the automation mode.
//
// Safety argument: what can never happen while the brake is engaged.
//  - No drive unit is declared lost by automation: every automatic
//    declaration (replace_after, flapping, a host down) asks
//    HoldBackLostDeclaration when it becomes due and again when its second
//    opinion arrives (lost_units.h), and the brake holds it back both times.
//  - No copy is placed to replace another and no queued task starts: the
//    coordinator's tick plans and schedules re-replication only while the
//    brake is released. Copies are dropped only when a replacement
//    completes, so no copy is dropped either, except by a replacement
//    already running when the brake engaged, which replaces a copy declared
//    lost before the evidence arrived.
//  - Never two masters: the brake promotes nothing. It only lets the lease
//    of a master be renewed although its slot is unusable on hard evidence
//    from a live agent, and only while its store has no promotable replica
//    (BrakeKeepsServing). The promoter still promotes only once the old
//    master's lease can no longer be valid (LeaseTable::MayBeValid): when a
//    replica becomes promotable the store leaves STORE_UNAVAILABLE, the
//    renewals stop, and failover waits for the lease to run out as always.
//    The worst the brake does is keep a master serving whose filesystem
//    really is read-only: deliveries fail there and senders retry, rather
//    than the only copy that could serve being fenced because of evidence
//    that may be false.
//  - Operators keep every command: mark-lost, failover, reinstate.
#ifndef SLOTKEEPER_SLOTMGR_AUTOMATION_GUARD_H_
#define SLOTKEEPER_SLOTMGR_AUTOMATION_GUARD_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "proto/automation.pb.h"
#include "proto/model.pb.h"
#include "slotmgr/config.h"
#include "slotmgr/failure_detector.h"
#include "slotmgr/model.h"
#include "slotmgr/mutation.h"
#include "slotmgr/state.pb.h"

namespace slotkeeper::slotmgr {

// ---- The evidence brake ----------------------------------------------------

// The drive units of `host` about which `after` holds a hard condition that
// `before` did not (a condition about the host counts for each unit), sorted.
std::vector<std::string> UnitsWithNewHardEvidence(const v1::HostInfo& host,
                                                  const Conditions& before,
                                                  const Conditions& after);

// Notes hard evidence newly arrived on `units` of `host` at m.now, and
// engages the brake (one critical event naming the units and their agents'
// versions against the fleet's) when the arrivals within the window are a
// burst.
void NoteHardEvidence(Mutation& m, const std::string& host, const std::vector<std::string>& units);

bool BrakeEngaged(const AutomationRecord& automation);
// Whether automation runs (not paused by an operator or frozen by the brake).
bool AutomationRunning(const AutomationRecord& automation);

// Whether the master `slot` of `store` on `host` keeps its lease although
// its slot is unusable: the brake is engaged, the slot is unusable only on
// hard evidence from its live agent (host up, unit not lost, slot listed),
// and the store has no replica to promote (STORE_UNAVAILABLE). See the
// safety argument above.
bool BrakeKeepsServing(const AutomationRecord& automation, const v1::HostInfo& host,
                       const v1::SlotInfo& slot, const StoreRecord& store);

// Releases the evidence brake: `reason` is required. The arrivals it saw
// are forgotten (new ones may engage it again). FAILED_PRECONDITION when
// it is not engaged. Journals who (`set_by`, `caller`) and why.
absl::StatusOr<v1::AutomationState> AcknowledgeBrake(Mutation& m,
                                                     const v1::AckAutomationRequest& request,
                                                     const std::string& caller);

// ---- Blast radius ---------------------------------------------------------------

// Why automation may not declare `unit` of `host` lost now, or "" when it
// may: the evidence brake, a pause of the host, or the hourly limit on
// units declared lost. A reason is journaled once per unit and cause, and
// kept as the automation state's `held_back`.
std::string HoldBackLostDeclaration(Mutation& m, const std::string& host, const std::string& unit);
// A unit declared lost (by automation or an operator): counts toward the
// hourly limit.
void NoteUnitLost(Mutation& m, const std::string& host, const std::string& unit);
// The hourly limit on units declared lost, for `wanted` more.
HourlyLimitDecision UnitsLostLimit(const Mutation& m, int wanted);

// How many more stores automation may give new replicas within the hour.
int RereplicationBudget(const Mutation& m);
// Stores given new replicas now (counted toward the hourly limit), and how
// many stores short of copies the limit made wait (journaled once each
// time the limit starts holding stores back).
void NoteRereplications(Mutation& m, const std::vector<std::string>& stores, int waiting);

// Pauses or resumes automation on request.host(): no automatic failover of
// its masters, no unit of it declared lost, no new replica placed on it.
// INVALID_ARGUMENT for a bad name or a pause without a reason, NOT_FOUND
// for an unknown host, FAILED_PRECONDITION to resume a host not paused.
absl::StatusOr<v1::AutomationState> SetHostPause(Mutation& m,
                                                 const v1::SetAutomationRequest& request,
                                                 const std::string& caller);
bool HostPaused(const ClusterModel& model, const std::string& host);

// ---- Flap damping ---------------------------------------------------------

// Suppressed units whose penalty has decayed below half the threshold
// return to placement; an online one is no longer due to be declared lost.
void ReleaseDecayedFlaps(Mutation& m);

// ---- For clients -----------------------------------------------------------

// The automation state as clients see it: the record's, with the hourly
// counts and limits as of `now_ms` and the paused hosts.
v1::AutomationState AutomationStateForClients(const AutomationRecord& automation,
                                              const ClusterModel& model, int64_t now_ms,
                                              const CoordinatorConfig& config);

}  // namespace slotkeeper::slotmgr

#endif  // SLOTKEEPER_SLOTMGR_AUTOMATION_GUARD_H_
