// Coordinator: what agents send on their session: health reports (the hot
// path), command acknowledgements and task updates.
#include <algorithm>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "base/status_macros.h"
#include "proto/event_kinds.h"
#include "proto/model_util.h"
#include "slotmgr/automation_guard.h"
#include "slotmgr/coordinator.h"
#include "slotmgr/copy_status.h"
#include "slotmgr/failure_detector.h"
#include "slotmgr/slot_contents.h"

namespace slotkeeper::slotmgr {
namespace {

std::string ConditionKey(const v1::Condition& c) {
  return absl::StrCat(c.type(), "|", c.subject_kind(), "|", c.subject());
}

bool SameConditions(const Conditions& a, const Conditions& b) {
  if (a.size() != b.size()) return false;
  std::set<std::string> ka, kb;
  for (const auto& c : a) ka.insert(ConditionKey(c));
  for (const auto& c : b) kb.insert(ConditionKey(c));
  return ka == kb;
}

// Where a report's per-slot parts apply: indices into the host's slots.
struct ReportSlots {
  std::vector<int> usage;        // per report.slots()
  std::vector<int> replication;  // per report.replication()
};

// Slot index by name, -1 if none; agents list slots in inventory order, so
// the position `hint` is tried first (the hot path stays linear).
int SlotIndex(const v1::HostInfo& h, const std::string& name, int hint) {
  if (hint >= 0 && hint < h.slots_size() && h.slots(hint).ref().slot() == name) return hint;
  for (int i = 0; i < h.slots_size(); ++i) {
    if (h.slots(i).ref().slot() == name) return i;
  }
  return -1;
}

absl::Status ValidateCondition(const std::string& host, const v1::HostInfo& h,
                               const v1::Condition& c) {
  bool known = true;
  switch (c.subject_kind()) {
    case v1::SUBJECT_HOST:
      break;
    case v1::SUBJECT_UNIT:
      known = std::any_of(h.units().begin(), h.units().end(),
                          [&](const v1::UnitInfo& u) { return u.name() == c.subject(); });
      break;
    case v1::SUBJECT_FILESYSTEM:
      known =
          std::any_of(h.filesystems().begin(), h.filesystems().end(),
                      [&](const v1::FilesystemInfo& f) { return f.mount_point() == c.subject(); });
      break;
    case v1::SUBJECT_SLOT:
      known = SlotIndex(h, c.subject(), -1) >= 0;
      break;
    default:
      return absl::InvalidArgumentError(
          absl::StrCat("condition ", c.type(), " has no subject kind"));
  }
  if (c.type() == v1::CONDITION_TYPE_UNSPECIFIED) {
    return absl::InvalidArgumentError("a condition has no type");
  }
  if (!known) {
    return absl::NotFoundError(absl::StrCat("condition names '", c.subject(), "', which host ",
                                            host, " did not register"));
  }
  return absl::OkStatus();
}

// Checks everything in `report` against what `host` registered, before
// anything changes: INVALID_ARGUMENT for a malformed report, NOT_FOUND for
// a unit, filesystem or slot the host does not have.
absl::StatusOr<ReportSlots> ValidateReport(const std::string& host, const v1::HostInfo& h,
                                           const v1::HealthReport& report) {
  if (report.agent_time_ms() <= 0) {
    return absl::InvalidArgumentError("HealthReport.agent_time_ms is missing");
  }
  for (const auto& c : report.conditions()) SK_RETURN_IF_ERROR(ValidateCondition(host, h, c));
  ReportSlots where;
  where.usage.resize(report.slots_size());
  where.replication.resize(report.replication_size());
  for (int i = 0, hint = 0; i < report.replication_size(); ++i) {
    const auto& r = report.replication(i);
    where.replication[i] = SlotIndex(h, r.slot(), hint);
    hint = where.replication[i] + 1;
    if (where.replication[i] < 0) {
      return absl::NotFoundError(
          absl::StrCat("replication status for slot '", r.slot(), "', not on host ", host));
    }
  }
  for (int i = 0; i < report.slots_size(); ++i) {
    where.usage[i] = SlotIndex(h, report.slots(i).slot(), i);
    if (where.usage[i] < 0) {
      return absl::NotFoundError(
          absl::StrCat("usage for slot '", report.slots(i).slot(), "', not on host ", host));
    }
  }
  for (const auto& c : report.contents()) {
    if (SlotIndex(h, c.slot(), -1) < 0) {
      return absl::NotFoundError(
          absl::StrCat("contents for slot '", c.slot(), "', not on host ", host));
    }
  }
  return where;
}

// The agent's clock offset from this report; journals when the host's clock
// becomes skewed (it will not be promoted) or sane again. True if the skew
// verdict changed.
bool NoteClock(Journal& journal, Txn& txn, const std::string& host, v1::HostInfo& h,
               const v1::HealthReport& report, int64_t now, int64_t max_skew_ms) {
  const int64_t offset = EstimateClockOffsetMs(report, now);
  h.set_clock_offset_ms(offset);
  const bool skewed = IsClockSkewed(offset, max_skew_ms);
  if (skewed == h.clock_skewed()) return false;
  h.set_clock_skewed(skewed);
  txn.hosts.insert(host);
  if (skewed) {
    journal.Record(txn, event_kind::kHostClockSkewed, v1::CRITICAL,
                   absl::StrCat("host ", host, " clock is off by ", offset, " ms (max ",
                                max_skew_ms, "); it will not be promoted"),
                   host);
  } else {
    journal.Record(txn, event_kind::kHostClockOk, v1::INFO,
                   absl::StrCat("host ", host, " clock offset back to ", offset, " ms"), host);
  }
  return true;
}

// Replaces the host's conditions when the set changed, with the
// coordinator's hard verdict, and journals the new set. True if it changed;
// `arrived` gets the drive units with hard evidence that is new.
bool NoteConditions(Journal& journal, Txn& txn, const std::string& host, v1::HostInfo& h,
                    const v1::HealthReport& report, std::vector<std::string>* arrived) {
  if (SameConditions(h.conditions(), report.conditions())) return false;
  *arrived = UnitsWithNewHardEvidence(h, h.conditions(), report.conditions());
  std::vector<std::string> list;
  for (const auto& c : report.conditions()) {
    list.push_back(absl::StrCat(v1::ConditionType_Name(c.type()), " on ", c.subject(),
                                c.reason().empty() ? "" : " (" + c.reason() + ")"));
  }
  journal.Record(
      txn, event_kind::kHostConditions, report.conditions().empty() ? v1::INFO : v1::WARNING,
      absl::StrCat("host ", host,
                   " conditions: ", list.empty() ? std::string("none") : absl::StrJoin(list, ", ")),
      host);
  *h.mutable_conditions() = report.conditions();
  ApplyHardRule(h.mutable_conditions());
  txn.hosts.insert(host);
  return true;
}

// Space figures and copies' replication state. Figures are not journaled
// or persisted by themselves (they ride along with the next change of the
// host or store); what copy_status.h calls news is journaled (and its store
// persisted with it).
void NoteUsage(Journal& journal, Txn& txn, v1::HostInfo& h, const v1::HealthReport& report,
               const ReportSlots& where, const SlotCopyIndex::HostSlots& copies, int64_t now_ms) {
  const AgentClock agent_clock{h.clock_offset_ms(), now_ms};
  for (const auto& f : report.filesystems()) {
    for (auto& fi : *h.mutable_filesystems()) {
      if (fi.mount_point() != f.mount_point()) continue;
      fi.set_total_bytes(f.total_bytes());
      fi.set_free_bytes(f.free_bytes());
      fi.set_free_inodes(f.free_inodes());
    }
  }
  for (int i = 0; i < report.slots_size(); ++i) {
    v1::SlotInfo* slot = h.mutable_slots(where.usage[i]);
    slot->set_used_bytes(report.slots(i).used_bytes());
    v1::Copy* c = copies.copy[where.usage[i]];
    if (c != nullptr && c->user_count() != report.slots(i).user_count()) {
      c->set_user_count(report.slots(i).user_count());
      txn.stores.insert(slot->store());
    }
  }
  for (int i = 0; i < report.replication_size(); ++i) {
    const v1::ReplicationStatus& r = report.replication(i);
    v1::Copy* c = copies.copy[where.replication[i]];
    if (c == nullptr) continue;
    const v1::SlotInfo& slot = h.slots(where.replication[i]);
    std::vector<v1::Event> news =
        ApplyReplicationStatus(slot.store(), slot.role() == v1::SLOT_MASTER, r, agent_clock, *c);
    if (!news.empty()) txn.stores.insert(slot.store());
    for (v1::Event& e : news) journal.Record(txn, std::move(e));
  }
}

// Whether `report` holds the lease of `si` at the store's current epoch.
bool HoldsCurrentLease(const v1::HealthReport& report, const v1::SlotInfo& si,
                       const StoreRecord& store) {
  return std::any_of(report.leases_held().begin(), report.leases_held().end(),
                     [&](const v1::Lease& l) {
                       return l.slot() == si.ref().slot() && l.store() == si.store() &&
                              l.epoch() == store.info().master_epoch();
                     });
}

// Renews the leases of the host's usable masters, unless the master is
// being moved away (operator failover, drain): then it runs out. Each bound
// counts from now, after the agent sent its report, so the agent's view of
// the lease ends first.
//
// A master whose promote is not acknowledged yet is renewed too when the
// report holds its lease at the current epoch: its agent took the lease
// before running the promote hook, and the hook (starting the mail server)
// may take longer than one lease. Never two masters: the agent accepts a
// renewal only for a slot serving under an unexpired lease of that store
// and epoch, its mail server runs only under that lease (slotfence), and
// the bound granted here ends after the agent's, as for any renewal; the
// coordinator promotes no other copy before that bound has passed.
std::optional<v1::LeaseRenewal> RenewLeases(const ClusterModel& model, const v1::HostInfo& h,
                                            const SlotCopyIndex::HostSlots& copies,
                                            const AutomationRecord& automation,
                                            const v1::HealthReport& report, int64_t mono,
                                            int64_t lease_ms, LeaseTable& leases) {
  std::optional<v1::LeaseRenewal> renewal;
  for (int i = 0; i < h.slots_size(); ++i) {
    const v1::SlotInfo& si = h.slots(i);
    if (si.role() != v1::SLOT_MASTER) continue;
    const StoreRecord* store = copies.store[i];
    if (store == nullptr || store->moving_master() || store->has_pending_target()) continue;
    // A master that is not serving holds no lease to renew: it needs a
    // promote (its agent would refuse the renewal).
    if (!si.serving() && !HoldsCurrentLease(report, si, *store)) continue;
    // An unusable master is fenced so that a replica can take over, unless
    // the evidence brake keeps it (automation_guard.h).
    if (!si.usable() && !BrakeKeepsServing(automation, h, si, *store)) continue;
    if (!renewal) {
      renewal.emplace();
      renewal->set_report_id(report.report_id());
    }
    v1::Lease* lease = renewal->add_leases();
    lease->set_store(si.store());
    lease->set_slot(si.ref().slot());
    lease->set_epoch(store->info().master_epoch());
    lease->set_duration_ms(lease_ms);
    v1::StoreCopies* witnesses = renewal->add_copies();
    witnesses->set_store(si.store());
    for (v1::CopyPeer& p : OtherCopies(model, *store, si.ref())) {
      *witnesses->add_copies() = std::move(p);
    }
    leases.Grant(copies.name[i], mono + lease_ms);
  }
  return renewal;
}

}  // namespace

absl::StatusOr<std::optional<v1::LeaseRenewal>> Coordinator::ApplyReport(
    const std::string& host, const std::string& session_id, const v1::HealthReport& report) {
  absl::MutexLock lock(&mu_);
  auto hit = model_.hosts.find(host);
  if (hit == model_.hosts.end()) {
    return absl::NotFoundError(absl::StrCat("host '", host, "' is not registered"));
  }
  HostRecord& rec = hit->second;
  if (rec.session_id() != session_id) {
    return absl::FailedPreconditionError(
        absl::StrCat("session '", session_id, "' of host ", host, " is stale; register again"));
  }
  v1::HostInfo& h = *rec.mutable_info();
  SK_ASSIGN_OR_RETURN(const ReportSlots where, ValidateReport(host, h, report));

  const int64_t now = clock_->NowMs();
  const int64_t mono = clock_->MonotonicMs();
  Txn txn;
  bool recompute = false;
  last_heard_mono_ms_[host] = mono;
  h.set_last_heard_ms(now);
  if (h.state() != v1::HOST_UP) {
    journal_.Record(
        txn, event_kind::kHostUp, v1::INFO,
        absl::StrCat("host ", host, " reports again (was ", model::Name(h.state()), ")"), host);
    h.set_state(v1::HOST_UP);
    h.set_state_since_ms(now);
    txn.hosts.insert(host);
    recompute = true;
  }
  recompute |= NoteClock(journal_, txn, host, h, report, now, config_.max_clock_skew_ms);
  std::vector<std::string> arrived;
  recompute |= NoteConditions(journal_, txn, host, h, report, &arrived);
  if (!arrived.empty()) {
    Mutation m = MutationLocked(txn);
    NoteHardEvidence(m, host, arrived);
  }
  NoteUsage(journal_, txn, h, report, where, slot_copies_.For(host, h, model_), now);
  recompute |= masters_.NoteReport(txn, model_, host, h, report, outbox_);
  if (!blocked_users_.empty() ||
      std::any_of(report.replication().begin(), report.replication().end(),
                  [](const v1::ReplicationStatus& r) { return r.blocked_users_size() > 0; })) {
    for (const v1::ReplicationStatus& r : report.replication()) {
      blocked_users_.Note(journal_, txn, host, r.slot(), r.store(), r.blocked_users(), true);
    }
  }
  if (report.contents_size() > 0) {
    Mutation m = MutationLocked(txn);
    for (const auto& c : report.contents()) RecognizeContents(m, host, c);
  }
  if (recompute) RecomputeLocked(txn);
  SK_RETURN_IF_ERROR(CommitLocked(txn));
  // The commit may have changed stores: the index is looked up again.
  return RenewLeases(model_, h, slot_copies_.For(host, h, model_), automation_, report, mono,
                     config_.lease_ms, leases_);
}

absl::Status Coordinator::ApplyAck(const std::string& host, const v1::CommandAck& ack) {
  if (ack.command_id().empty()) return absl::InvalidArgumentError("ack without command_id");
  absl::MutexLock lock(&mu_);
  Txn txn;
  SK_ASSIGN_OR_RETURN(const std::optional<v1::Command> acked,
                      outbox_.Acknowledge(txn, host, ack.command_id()));
  if (!acked.has_value()) return absl::OkStatus();  // a duplicate
  const v1::Command& cmd = *acked;
  if (cmd.has_final_pull()) {
    promoter_.FinalPullAnswered(cmd.final_pull().store());
    journal_.Record(
        txn, event_kind::kStoreFinalPull, ack.ok() ? v1::INFO : v1::WARNING,
        absl::StrCat("store ", cmd.final_pull().store(), ": final pull into ", host, "/",
                     cmd.final_pull().target_slot(),
                     ack.ok() ? " complete" : absl::StrCat(" incomplete: ", ack.error()),
                     "; promoting it"),
        host, cmd.final_pull().target_slot(), cmd.final_pull().store());
    return CommitLocked(txn);
  }
  if (!ack.ok()) {
    if (cmd.has_promote()) {
      FailoverEnv env = FailoverEnvLocked();
      promoter_.PromoteFailed(env, txn, host, cmd.promote(), ack);
    }
    journal_.Record(
        txn, event_kind::kCommandFailed, v1::WARNING,
        absl::StrCat("command ", cmd.id(), " failed on ", host, ": ", ack.error(),
                     ack.hook_output().empty() ? "" : " [hook: " + ack.hook_output() + "]"),
        host);
    if (cmd.has_start_task()) {
      auto tit = model_.tasks.find(cmd.start_task().task_id());
      if (tit != model_.tasks.end() && tit->second.info().state() == v1::TASK_RUNNING &&
          tasks_.FinishTask(txn, tit->second, false, "agent refused: " + ack.error())) {
        RecomputeLocked(txn);
      }
    }
    return CommitLocked(txn);
  }
  journal_.Record(txn, event_kind::kCommandAcked, v1::INFO,
                  absl::StrCat("command ", cmd.id(), " applied by ", host,
                               ack.duplicate() ? " (duplicate)" : ""),
                  host);
  v1::SlotRef ref;
  ref.set_host(host);
  if (cmd.has_promote()) {
    // The agent counts the new lease from when it received the command,
    // which is before this acknowledgement: bound it from now.
    ref.set_slot(cmd.promote().slot());
    leases_.Extend(ref, clock_->MonotonicMs() + cmd.promote().lease().duration_ms());
    masters_.PromoteApplied(txn, model_, ref);
    RecomputeLocked(txn);
  }
  if (cmd.has_demote()) {
    // The old master fenced itself: its lease is no longer a reason to wait.
    ref.set_slot(cmd.demote().slot());
    leases_.Release(ref);
  }
  return CommitLocked(txn);
}

absl::Status Coordinator::ApplyTaskUpdate(const std::string& host, const v1::TaskUpdate& update) {
  if (update.task_id().empty()) return absl::InvalidArgumentError("task update without task_id");
  if (update.state() != v1::TASK_RUNNING && update.state() != v1::TASK_DONE &&
      update.state() != v1::TASK_FAILED) {
    return absl::InvalidArgumentError(absl::StrCat(
        "task update state must be RUNNING, DONE or FAILED, not ", model::Name(update.state())));
  }
  absl::MutexLock lock(&mu_);
  auto it = model_.tasks.find(update.task_id());
  if (it == model_.tasks.end()) {
    return absl::NotFoundError(absl::StrCat("no task '", update.task_id(), "'"));
  }
  StoredTask& task = it->second;
  if (task.info().target().host() != host) {
    return absl::FailedPreconditionError(absl::StrCat("task ", update.task_id(), " runs on ",
                                                      task.info().target().host(), ", not ", host));
  }
  if (task.info().state() == update.state() && model::IsTaskFinished(update.state())) {
    return absl::OkStatus();  // the agent repeating a final state after a reconnect
  }
  if (model::IsTaskFinished(task.info().state()) && update.state() != v1::TASK_RUNNING) {
    // The outcome reported again (an agent answers a re-sent start of a task
    // it finished with the same outcome): already applied.
    return absl::OkStatus();
  }
  if (task.info().state() != v1::TASK_RUNNING) {
    return absl::FailedPreconditionError(absl::StrCat(
        "task ", update.task_id(), " is ", model::Name(task.info().state()), ", not running"));
  }
  *task.mutable_info()->mutable_progress() =
      TruthfulProgress(task.info().progress(), update.progress());
  Txn txn;
  if (update.blocked_users_size() > 0) {
    blocked_users_.Note(journal_, txn, host, task.info().target().slot(), task.info().store(),
                        update.blocked_users(), false);
  }
  bool finished = false;
  if (update.state() == v1::TASK_DONE) {
    finished = update.verified()
                   ? tasks_.FinishTask(txn, task, true, "")
                   : tasks_.FinishTask(txn, task, false, "copy finished but was not verified");
  } else if (update.state() == v1::TASK_FAILED) {
    finished =
        tasks_.FinishTask(txn, task, false, update.error().empty() ? "failed" : update.error());
  } else if (txn.events.empty()) {
    return absl::OkStatus();  // progress only: kept in memory, persisted with the next change
  }
  if (finished) RecomputeLocked(txn);
  return CommitLocked(txn);
}

}  // namespace slotkeeper::slotmgr
