// The kinds of journal events (Event.kind): a public contract between the
// coordinator, which emits them, and every reader (slotctl's incident
// write-up, `slotctl events --kind`, tools that watch the journal). A kind is
// "<subject>.<what happened>"; readers may match a whole subject by its
// prefix (kPrefix*). Add a kind here before emitting it; never reuse one for
// another meaning.
#ifndef SLOTKEEPER_PROTO_EVENT_KINDS_H_
#define SLOTKEEPER_PROTO_EVENT_KINDS_H_

namespace slotkeeper::event_kind {

// The coordinator itself.
inline constexpr char kCoordinatorStart[] = "coordinator.start";

// Hosts: registration, silence, clock, reported conditions, drain.
inline constexpr char kHostRegistered[] = "host.registered";
inline constexpr char kHostReregistered[] = "host.reregistered";
inline constexpr char kHostUp[] = "host.up";
inline constexpr char kHostSuspect[] = "host.suspect";
inline constexpr char kHostDown[] = "host.down";
inline constexpr char kHostClockSkewed[] = "host.clock_skewed";
inline constexpr char kHostClockOk[] = "host.clock_ok";
inline constexpr char kHostConditions[] = "host.conditions";
inline constexpr char kHostDrain[] = "host.drain";
inline constexpr char kHostUndrain[] = "host.undrain";
// An operator removed a host that was down or never up, and held no copy
// that is usable or needed, from the model (slotctl host forget).
inline constexpr char kHostForgotten[] = "host.forgotten";
// An agent's inventory that was refused or changed in a notable way.
inline constexpr char kInventoryHost[] = "inventory.host";

// Drive units, filesystems, slots.
inline constexpr char kUnitFailed[] = "unit.failed";
inline constexpr char kUnitOnline[] = "unit.online";
inline constexpr char kUnitLost[] = "unit.lost";
// A unit due to be declared lost: its slots are read over the peer channel
// first (a second opinion).
inline constexpr char kUnitSecondOpinion[] = "unit.second_opinion";
// Its slots could be read: not declared lost, held out of service until an
// operator reinstates it.
inline constexpr char kUnitHeld[] = "unit.held";
// Flap damping: the unit failed too often lately (held out of placement),
// and when its penalty has decayed again.
inline constexpr char kUnitFlapping[] = "unit.flapping";
inline constexpr char kUnitFlapEnded[] = "unit.flap_ended";
// An operator returned a held or lost unit to service after its copies
// verified.
inline constexpr char kUnitReinstated[] = "unit.reinstated";
inline constexpr char kFilesystemState[] = "filesystem.state";
inline constexpr char kSlotUnusable[] = "slot.unusable";
inline constexpr char kSlotUsable[] = "slot.usable";
inline constexpr char kSlotContentsMismatch[] = "slot.contents_mismatch";
// A master's agent reports it holds no lease (the mail server is not
// serving), and when it serves again.
inline constexpr char kSlotNotServing[] = "slot.not_serving";
inline constexpr char kSlotServing[] = "slot.serving";

// Stores and their copies.
inline constexpr char kStoreCreated[] = "store.created";
inline constexpr char kStoreState[] = "store.state";
inline constexpr char kStoreFailover[] = "store.failover";
inline constexpr char kStoreFailoverRequested[] = "store.failover_requested";
inline constexpr char kStoreFailoverRefused[] = "store.failover_refused";
inline constexpr char kStoreFailoverRateLimited[] = "store.failover_rate_limited";
inline constexpr char kStoreCopyRecognized[] = "store.copy_recognized";
// A promotion the target refused or failed (pre_promote veto, hook failure
// or timeout, a failsafe promise): the next candidate is tried.
inline constexpr char kStorePromoteFailed[] = "store.promote_failed";
// The master holds no lease (its agent restarted, or it fenced itself): it
// is promoted again, so that its promote hook starts the mail server.
inline constexpr char kStoreRepromote[] = "store.repromote";
// The master serves on failsafe grants of the other copies (the coordinator
// was unreachable from it), and when it is renewed by the coordinator again.
inline constexpr char kStoreFailsafe[] = "store.failsafe";
inline constexpr char kStoreFailsafeEnded[] = "store.failsafe_ended";
// A failover waits because the old master may still serve on failsafe grants.
inline constexpr char kStoreFailoverWaitsFailsafe[] = "store.failover_waits_failsafe";
inline constexpr char kCopyLost[] = "copy.lost";
inline constexpr char kCopyDropped[] = "copy.dropped";

// Re-replication tasks and placement.
inline constexpr char kTaskCreated[] = "task.created";
inline constexpr char kTaskStarted[] = "task.started";
inline constexpr char kTaskResent[] = "task.resent";
inline constexpr char kTaskRetry[] = "task.retry";
inline constexpr char kTaskDone[] = "task.done";
inline constexpr char kTaskFailed[] = "task.failed";
inline constexpr char kTaskCancelled[] = "task.cancelled";
// An operator asked for a new attempt of a task now (slotctl task retry).
inline constexpr char kTaskRetried[] = "task.retried";
inline constexpr char kPlacementRefused[] = "placement.refused";

// The data path's guards, as agents report them.
inline constexpr char kReplicationBlocked[] = "replication.blocked";
inline constexpr char kReplicationUnblocked[] = "replication.unblocked";

// Data safety, as agents report it: a scrub found corrupt files on a copy; a
// slot's identity changed behind its agent's back (emptied, replaced,
// another filesystem); mail stranded on an old master (and reconciled).
inline constexpr char kSlotCorruptFiles[] = "slot.corrupt_files";
inline constexpr char kSlotIdentityChanged[] = "slot.identity_changed";
inline constexpr char kStoreStrandedMail[] = "store.stranded_mail";
inline constexpr char kStoreStrandedCleared[] = "store.stranded_cleared";
// A final pull from a readable old master before promoting away from it.
inline constexpr char kStoreFinalPull[] = "store.final_pull";

// Operators' data-safety actions.
inline constexpr char kQuarantineRestore[] = "quarantine.restore";
inline constexpr char kQuarantinePurge[] = "quarantine.purge";
inline constexpr char kUserUnblock[] = "user.unblock";
inline constexpr char kStoreReconcile[] = "store.reconcile";

// Commands to agents.
inline constexpr char kCommandQueued[] = "command.queued";
inline constexpr char kCommandAcked[] = "command.acked";
inline constexpr char kCommandFailed[] = "command.failed";

// Automation: operator pause / resume, the mass-failure brake.
inline constexpr char kAutomationPaused[] = "automation.paused";
inline constexpr char kAutomationResumed[] = "automation.resumed";
inline constexpr char kAutomationFrozen[] = "automation.frozen";
// The evidence brake engaged (hard conditions on too many hosts or units at
// once), and an operator's acknowledgement that releases it.
inline constexpr char kAutomationBrake[] = "automation.brake";
inline constexpr char kAutomationBrakeAcknowledged[] = "automation.brake_acknowledged";
// A blast-radius limit, the evidence brake or a host pause held an
// automatic action back.
inline constexpr char kAutomationHeldBack[] = "automation.held_back";
// Automation paused and resumed on one host.
inline constexpr char kAutomationHostPaused[] = "automation.host_paused";
inline constexpr char kAutomationHostResumed[] = "automation.host_resumed";

// Audit: a call that changes the cluster (or would have), with the
// caller's identity, the request and its outcome; one the caller's role did
// not allow. A host's peer address changed at registration.
inline constexpr char kAuditCall[] = "audit.call";
inline constexpr char kAuditDenied[] = "audit.denied";
inline constexpr char kHostAddressChanged[] = "host.address_changed";

// Prefixes, for readers that treat a whole subject alike.
inline constexpr char kPrefixHost[] = "host.";
inline constexpr char kPrefixUnit[] = "unit.";
inline constexpr char kPrefixFilesystem[] = "filesystem.";
inline constexpr char kPrefixSlot[] = "slot.";
inline constexpr char kPrefixStore[] = "store.";
inline constexpr char kPrefixTask[] = "task.";
inline constexpr char kPrefixAutomation[] = "automation.";
inline constexpr char kPrefixCommand[] = "command.";
inline constexpr char kPrefixInventory[] = "inventory.";
inline constexpr char kPrefixPlacement[] = "placement.";
inline constexpr char kPrefixAudit[] = "audit.";

}  // namespace slotkeeper::event_kind

#endif  // SLOTKEEPER_PROTO_EVENT_KINDS_H_
