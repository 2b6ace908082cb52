#include "replicator/command_handler.h"

#include "absl/strings/str_cat.h"
#include "base/log.h"
#include "proto/model_util.h"
#include "replicator/lease_file.h"

namespace slotkeeper::replicator {

CommandHandler::CommandHandler(const AgentConfig* config, LeaseManager* leases,
                               AgentStateStore* state, DataPlane* data_plane,
                               CommandHandlerOptions options)
    : config_(config),
      leases_(leases),
      state_(state),
      data_plane_(data_plane),
      options_(std::move(options)) {}

const SlotConfig* CommandHandler::FindSlot(const std::string& name) const {
  for (const SlotConfig& s : config_->slots()) {
    if (s.name() == name) return &s;
  }
  return nullptr;
}

HookResult CommandHandler::RunHookFor(const std::string& command, const std::string& action,
                                      const SlotConfig& slot, const std::string& store,
                                      uint64_t epoch) {
  HookContext context{action, store, slot.name(), slot.path(), epoch};
  if (!options_.lease_dir.empty())
    context.lease_file = LeaseFilePath(options_.lease_dir, slot.name());
  context.service_address = slot.service_address();
  HookResult r = RunHook(command, context, absl::Milliseconds(config_->hooks().timeout_ms()));
  if (r.ran) {
    LogInfo("agent", absl::StrCat(action, " hook for slot ", slot.name(), " (", store, "@", epoch,
                                  "): ", r.status.ok() ? "ok" : r.status.ToString()));
  }
  return r;
}

v1::CommandAck CommandHandler::Handle(const v1::Command& command) {
  v1::CommandAck ack;
  ack.set_command_id(command.id());
  if (command.id().empty()) {
    ack.set_ok(false);
    ack.set_error("command without an id");
    return ack;
  }
  absl::MutexLock lock(&mu_);
  if (std::optional<AppliedCommand> done = state_->FindApplied(command.id())) {
    ack.set_duplicate(true);
    ack.set_ok(done->ok());
    ack.set_error(done->error());
    return ack;
  }
  Outcome out;
  switch (command.action_case()) {
    case v1::Command::kPromote:
      out = PromoteLocked(command.promote());
      break;
    case v1::Command::kDemote:
      out = DemoteLocked(command.demote());
      break;
    case v1::Command::kAssignReplica:
      out = AssignReplicaLocked(command.assign_replica());
      break;
    case v1::Command::kStartTask:
      out.status = RefuseIfServing(command.start_task().target_slot(), "copy a store into");
      if (out.status.ok()) out.status = data_plane_->StartTask(command.start_task());
      break;
    case v1::Command::kCancelTask:
      out.status = data_plane_->CancelTask(command.cancel_task());
      break;
    case v1::Command::kFinalPull:
      // Into a replica only: a serving master is not overwritten.
      out.status = RefuseIfServing(command.final_pull().target_slot(), "pull into");
      if (out.status.ok()) out.status = data_plane_->FinalPull(command.final_pull());
      break;
    case v1::Command::kRestoreQuarantined:
      out.status = data_plane_->RestoreQuarantined(command.restore_quarantined());
      break;
    case v1::Command::kReconcile:
      out.status = data_plane_->Reconcile(command.reconcile());
      break;
    case v1::Command::kUnblockUser:
      out.status = data_plane_->UnblockUser(command.unblock_user());
      break;
    case v1::Command::kPurgeQuarantine:
      out.status = data_plane_->PurgeQuarantine(command.purge_quarantine());
      break;
    case v1::Command::kReleaseSlot:
      out.status = RefuseIfServing(command.release_slot().slot(), "release");
      if (out.status.ok()) out.status = data_plane_->ReleaseSlot(command.release_slot());
      if (out.status.ok()) {
        if (absl::Status s = state_->SetRole(command.release_slot().slot(), "", "spare", 0);
            !s.ok()) {
          LogError("agent", absl::StrCat("cannot record role of slot ",
                                         command.release_slot().slot(), ": ", s.message()));
        }
      }
      break;
    default:
      out.status = absl::InvalidArgumentError("command has no action this agent knows");
  }
  ack.set_ok(out.status.ok());
  if (!out.status.ok()) ack.set_error(std::string(out.status.message()));
  ack.set_hook_output(out.hook_output);
  if (absl::Status s = state_->RecordApplied(command.id(), ack.ok(), ack.error()); !s.ok()) {
    // The command is applied; only idempotence across a restart is at risk.
    LogError("agent", absl::StrCat("cannot record command ", command.id(), ": ", s.message()));
  }
  LogInfo("agent", absl::StrCat("command ", command.id(), ": ", ack.ok() ? "ok" : ack.error()));
  return ack;
}

absl::Mutex* CommandHandler::SlotMutex(const std::string& slot) {
  absl::MutexLock lock(&slot_mutexes_mu_);
  std::unique_ptr<absl::Mutex>& m = slot_mutexes_[slot];
  if (m == nullptr) m = std::make_unique<absl::Mutex>();
  return m.get();
}

CommandHandler::Outcome CommandHandler::PromoteLocked(const v1::PromoteCommand& c) {
  absl::MutexLock slot_lock(SlotMutex(c.slot()));
  Outcome out;
  const SlotConfig* slot = FindSlot(c.slot());
  if (slot == nullptr) {
    out.status = absl::NotFoundError(absl::StrCat("no slot ", c.slot(), " on this host"));
    return out;
  }
  if (c.store().empty() || c.lease().duration_ms() <= 0) {
    out.status = absl::InvalidArgumentError("promote needs a store and a lease duration");
    return out;
  }
  if (options_.promises != nullptr) {
    if (std::optional<v1::FailsafePromise> p = options_.promises->Binding(c.store())) {
      out.status = absl::FailedPreconditionError(absl::StrCat(
          "failsafe promise: this agent granted ", model::SlotName(p->master()), " (", c.store(),
          "@", p->epoch(), ") a lease while the coordinator was unreachable; no promotion for ",
          absl::FormatDuration(absl::Milliseconds(p->remaining_ms()))));
      return out;
    }
  }
  HookResult pre =
      RunHookFor(config_->hooks().pre_promote(), "pre_promote", *slot, c.store(), c.epoch());
  out.hook_output = pre.output_tail;
  if (!pre.status.ok()) {
    out.status = absl::FailedPreconditionError(
        absl::StrCat("pre-promote hook vetoed the promotion: ", pre.status.message()));
    return out;
  }
  if (absl::Status s = leases_->Promote(c.slot(), c.store(), c.epoch(), c.lease().duration_ms(),
                                        {c.other_copies().begin(), c.other_copies().end()});
      !s.ok()) {
    out.status = s;
    return out;
  }
  HookResult promote =
      RunHookFor(config_->hooks().promote(), "promote", *slot, c.store(), c.epoch());
  out.hook_output += promote.output_tail;
  if (!promote.status.ok()) {
    // Not serving: give the lease back at once.
    leases_->Demote(c.slot(), c.epoch()).IgnoreError();
    out.status =
        absl::AbortedError(absl::StrCat("promote hook failed: ", promote.status.message()));
    return out;
  }
  if (absl::Status s = state_->SetRole(c.slot(), c.store(), "master", c.epoch()); !s.ok()) {
    LogError("agent", absl::StrCat("cannot record role of slot ", c.slot(), ": ", s.message()));
  }
  data_plane_->OnRoleChanged(c.slot(), c.store(), v1::SLOT_MASTER, c.epoch());
  return out;
}

CommandHandler::Outcome CommandHandler::DemoteLocked(const v1::DemoteCommand& c) {
  absl::MutexLock slot_lock(SlotMutex(c.slot()));
  Outcome out;
  const SlotConfig* slot = FindSlot(c.slot());
  if (slot == nullptr) {
    out.status = absl::NotFoundError(absl::StrCat("no slot ", c.slot(), " on this host"));
    return out;
  }
  if (absl::Status s = leases_->Demote(c.slot(), c.epoch()); !s.ok()) {
    out.status = s;
    return out;
  }
  HookResult demote = RunHookFor(config_->hooks().demote(), "demote", *slot, c.store(), c.epoch());
  out.hook_output = demote.output_tail;
  if (absl::Status s = state_->SetRole(c.slot(), c.store(), "replica", c.epoch()); !s.ok()) {
    LogError("agent", absl::StrCat("cannot record role of slot ", c.slot(), ": ", s.message()));
  }
  data_plane_->OnRoleChanged(c.slot(), c.store(), v1::SLOT_REPLICA, c.epoch());
  if (!demote.status.ok()) {
    out.status = absl::AbortedError(
        absl::StrCat("lease dropped, but the demote hook failed: ", demote.status.message()));
  }
  return out;
}

std::vector<v1::Lease> CommandHandler::FenceExpired() {
  // Not under mu_: a long hook of another slot must not delay a fence.
  std::vector<v1::Lease> expired = leases_->TakeExpired();
  for (const v1::Lease& l : expired) {
    absl::MutexLock slot_lock(SlotMutex(l.slot()));
    // A promotion of the slot may have completed while this waited: then
    // the slot serves under its new lease and must not be stopped.
    if (leases_->IsMaster(l.slot())) {
      LogInfo("agent", absl::StrCat("lease of slot ", l.slot(), " (", l.store(), "@", l.epoch(),
                                    ") expired but the slot was promoted again meanwhile"));
      continue;
    }
    LogWarning("agent", absl::StrCat("lease of slot ", l.slot(), " (", l.store(), "@", l.epoch(),
                                     ") expired without renewal: demoting it"));
    if (const SlotConfig* slot = FindSlot(l.slot())) {
      RunHookFor(config_->hooks().demote(), "demote", *slot, l.store(), l.epoch());
    }
    if (absl::Status s = state_->SetRole(l.slot(), l.store(), "replica", l.epoch()); !s.ok()) {
      LogError("agent", absl::StrCat("cannot record role of slot ", l.slot(), ": ", s.message()));
    }
    data_plane_->OnRoleChanged(l.slot(), l.store(), v1::SLOT_REPLICA, l.epoch());
  }
  return expired;
}

absl::Status CommandHandler::RefuseIfServing(const std::string& slot,
                                             absl::string_view what) const {
  if (!leases_->IsServing(slot)) return absl::OkStatus();
  return absl::FailedPreconditionError(
      absl::StrCat("slot ", slot, " serves as master under a lease here: refusing to ", what,
                   " it (demote it first)"));
}

CommandHandler::Outcome CommandHandler::AssignReplicaLocked(const v1::AssignReplicaCommand& c) {
  Outcome out;
  out.status = RefuseIfServing(c.slot(), "make a replica of");
  if (!out.status.ok()) return out;
  // A slot adopted as master whose lease is gone becomes a replica: drop the
  // stale master role first.
  if (leases_->IsMaster(c.slot())) {
    if (absl::Status s = leases_->Demote(c.slot(), c.epoch()); !s.ok()) {
      out.status = s;
      return out;
    }
  }
  out.status = data_plane_->AssignReplica(c);
  if (out.status.ok()) {
    if (absl::Status s = state_->SetRole(c.slot(), c.store(), "replica", c.epoch()); !s.ok()) {
      LogError("agent", absl::StrCat("cannot record role of slot ", c.slot(), ": ", s.message()));
    }
  }
  return out;
}

std::optional<SlotRoleRecord> CommandHandler::RecordedRole(const std::string& slot) const {
  for (const SlotRoleRecord& r : state_->Roles()) {
    if (r.slot() == slot) return r;
  }
  return std::nullopt;
}

void CommandHandler::Adopt(const std::vector<v1::SlotAssignment>& assignments) {
  // The lease manager is thread-safe; waiting for a running hook here would
  // hold up registration. Replicas go through the command path (mu_): an
  // AssignReplica is quick, it only starts the catch-up.
  for (const v1::SlotAssignment& a : assignments) {
    if (FindSlot(a.slot()) == nullptr) continue;
    if (a.role() == v1::SLOT_MASTER) {
      if (!leases_->IsServing(a.slot())) leases_->AdoptWithoutLease(a.slot(), a.store(), a.epoch());
      continue;
    }
    if (a.role() != v1::SLOT_REPLICA || a.master_peer_address().empty()) continue;
    v1::AssignReplicaCommand c;
    c.set_slot(a.slot());
    c.set_store(a.store());
    c.set_epoch(a.epoch());
    c.set_master_peer_address(a.master_peer_address());
    c.set_master_slot(a.master_slot());
    absl::MutexLock lock(&mu_);
    Outcome out = AssignReplicaLocked(c);
    LogInfo("agent", absl::StrCat("slot ", a.slot(), ": replica of ", a.store(), "@", a.epoch(),
                                  " from ", a.master_peer_address(), "/", a.master_slot(), ": ",
                                  out.status.ok() ? "catching up" : out.status.ToString()));
  }
}

}  // namespace slotkeeper::replicator
