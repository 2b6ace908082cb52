// Coordinator: what agents send on their session (reports, command
// acknowledgements, task updates). The hot path is ApplyReport.
#include <algorithm>
#include <set>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "proto/event_kinds.h"
#include "proto/model_util.h"
#include "slotmgr/coordinator.h"
#include "slotmgr/failure_detector.h"
#include "slotmgr/model.h"

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

}  // namespace

const Coordinator::SlotCache& Coordinator::SlotCacheLocked(const std::string& host,
                                                           const v1::HostInfo& info) {
  SlotCache& cache = slot_cache_[host];
  if (cache.generation == generation_ &&
      cache.name.size() == static_cast<size_t>(info.slots_size())) {
    return cache;
  }
  cache.generation = generation_;
  cache.store.assign(info.slots_size(), nullptr);
  cache.copy.assign(info.slots_size(), nullptr);
  cache.name.clear();
  for (int i = 0; i < info.slots_size(); ++i) {
    const v1::SlotInfo& si = info.slots(i);
    cache.name.push_back(model::SlotName(si.ref()));
    auto sit = model_.stores.find(si.store());
    if (si.store().empty() || sit == model_.stores.end()) continue;
    cache.store[i] = &sit->second;
    cache.copy[i] = FindCopy(sit->second, si.ref());
  }
  return cache;
}

// ---------------------------------------------------------------------------
// Reports, acknowledgements, task updates.
// ---------------------------------------------------------------------------

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
  v1::HostInfo* h = rec.mutable_info();
  // Validate everything before changing anything.
  if (report.agent_time_ms() <= 0) {
    return absl::InvalidArgumentError("HealthReport.agent_time_ms is missing");
  }
  // Slot index by name; agents list slots in inventory order, so the
  // position in the report is tried first (the hot path stays linear).
  auto slot_index = [h](const std::string& name, int hint) {
    if (hint >= 0 && hint < h->slots_size() && h->slots(hint).ref().slot() == name) return hint;
    for (int i = 0; i < h->slots_size(); ++i) {
      if (h->slots(i).ref().slot() == name) return i;
    }
    return -1;
  };
  auto has_slot = [&](const std::string& name) { return slot_index(name, -1) >= 0; };
  for (const auto& c : report.conditions()) {
    bool known = true;
    switch (c.subject_kind()) {
      case v1::SUBJECT_HOST:
        break;
      case v1::SUBJECT_UNIT:
        known = std::any_of(h->units().begin(), h->units().end(),
                            [&](const v1::UnitInfo& u) { return u.name() == c.subject(); });
        break;
      case v1::SUBJECT_FILESYSTEM:
        known = std::any_of(
            h->filesystems().begin(), h->filesystems().end(),
            [&](const v1::FilesystemInfo& f) { return f.mount_point() == c.subject(); });
        break;
      case v1::SUBJECT_SLOT:
        known = has_slot(c.subject());
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
  }
  std::vector<int> usage_slot(report.slots_size()), replication_slot(report.replication_size());
  for (int i = 0, hint = 0; i < report.replication_size(); ++i) {
    const auto& r = report.replication(i);
    replication_slot[i] = slot_index(r.slot(), hint);
    hint = replication_slot[i] + 1;
    if (replication_slot[i] < 0) {
      return absl::NotFoundError(
          absl::StrCat("replication status for slot '", r.slot(), "', not on host ", host));
    }
  }
  for (int i = 0; i < report.slots_size(); ++i) {
    const auto& u = report.slots(i);
    usage_slot[i] = slot_index(u.slot(), i);
    if (usage_slot[i] < 0) {
      return absl::NotFoundError(
          absl::StrCat("usage for slot '", u.slot(), "', not on host ", host));
    }
  }
  for (const auto& c : report.contents()) {
    if (!has_slot(c.slot())) {
      return absl::NotFoundError(
          absl::StrCat("contents for slot '", c.slot(), "', not on host ", host));
    }
  }

  const int64_t now = clock_->NowMs();
  Txn txn;
  bool recompute = false;
  last_heard_ms_[host] = now;
  h->set_last_heard_ms(now);
  if (h->state() != v1::HOST_UP) {
    journal_.Record(
        txn, event_kind::kHostUp, v1::INFO,
        absl::StrCat("host ", host, " reports again (was ", model::Name(h->state()), ")"), host);
    h->set_state(v1::HOST_UP);
    h->set_state_since_ms(now);
    txn.hosts.insert(host);
    recompute = true;
  }
  const int64_t offset = EstimateClockOffsetMs(report, now);
  h->set_clock_offset_ms(offset);
  const bool skewed = IsClockSkewed(offset, config_.max_clock_skew_ms);
  if (skewed != h->clock_skewed()) {
    h->set_clock_skewed(skewed);
    txn.hosts.insert(host);
    recompute = true;
    if (skewed) {
      journal_.Record(txn, event_kind::kHostClockSkewed, v1::CRITICAL,
                      absl::StrCat("host ", host, " clock is off by ", offset, " ms (max ",
                                   config_.max_clock_skew_ms, "); it will not be promoted"),
                      host);
    } else {
      journal_.Record(txn, event_kind::kHostClockOk, v1::INFO,
                      absl::StrCat("host ", host, " clock offset back to ", offset, " ms"), host);
    }
  }
  if (!SameConditions(h->conditions(), report.conditions())) {
    std::vector<std::string> list;
    for (const auto& c : report.conditions()) {
      list.push_back(absl::StrCat(v1::ConditionType_Name(c.type()), " on ", c.subject(),
                                  c.reason().empty() ? "" : " (" + c.reason() + ")"));
    }
    journal_.Record(txn, event_kind::kHostConditions,
                    report.conditions().empty() ? v1::INFO : v1::WARNING,
                    absl::StrCat("host ", host, " conditions: ",
                                 list.empty() ? std::string("none") : absl::StrJoin(list, ", ")),
                    host);
    *h->mutable_conditions() = report.conditions();
    ApplyHardRule(h->mutable_conditions());
    txn.hosts.insert(host);
    recompute = true;
  }
  for (const auto& f : report.filesystems()) {
    for (auto& fi : *h->mutable_filesystems()) {
      if (fi.mount_point() != f.mount_point()) continue;
      fi.set_total_bytes(f.total_bytes());
      fi.set_free_bytes(f.free_bytes());
      fi.set_free_inodes(f.free_inodes());
    }
  }
  for (int i = 0; i < report.slots_size(); ++i) {
    h->mutable_slots(usage_slot[i])->set_used_bytes(report.slots(i).used_bytes());
  }
  const SlotCache& cache = SlotCacheLocked(host, *h);
  for (int i = 0; i < report.replication_size(); ++i) {
    const v1::ReplicationStatus& r = report.replication(i);
    v1::Copy* c = cache.copy[replication_slot[i]];
    if (c == nullptr) continue;
    c->set_lag_ms(r.lag_ms());
    c->set_in_sync(h->slots(replication_slot[i]).role() == v1::SLOT_MASTER || r.in_sync());
    c->set_last_synced_ms(r.last_synced_ms());
  }
  if (!blocked_users_.empty() ||
      std::any_of(report.replication().begin(), report.replication().end(),
                  [](const v1::ReplicationStatus& r) { return r.blocked_users_size() > 0; })) {
    for (const v1::ReplicationStatus& r : report.replication()) {
      NoteBlockedUsersLocked(txn, host, r.slot(), r.store(), r.blocked_users(), true);
    }
  }
  for (const auto& c : report.contents()) RecognizeContentsLocked(txn, host, c);
  if (recompute) RecomputeLocked(txn);
  absl::Status st = CommitLocked(txn);
  if (!st.ok()) return st;

  // Renew the leases of this host's usable masters, unless the master is
  // being moved away (operator failover, drain): then it runs out.
  std::optional<v1::LeaseRenewal> renewal;
  const SlotCache& fresh = SlotCacheLocked(host, *h);  // the commit may have changed stores
  for (int i = 0; i < h->slots_size(); ++i) {
    const v1::SlotInfo& si = h->slots(i);
    if (si.role() != v1::SLOT_MASTER || !si.usable()) continue;
    const StoreRecord* store = fresh.store[i];
    if (store == nullptr || store->moving_master() || store->has_pending_target()) continue;
    if (!renewal) {
      renewal.emplace();
      renewal->set_report_id(report.report_id());
    }
    v1::Lease* lease = renewal->add_leases();
    lease->set_store(si.store());
    lease->set_slot(si.ref().slot());
    lease->set_epoch(store->info().master_epoch());
    lease->set_duration_ms(config_.lease_ms);
    // Counted from now, after the agent sent its report: the agent's view ends first.
    leases_.Grant(fresh.name[i], now + config_.lease_ms);
  }
  return renewal;
}

absl::Status Coordinator::ApplyAck(const std::string& host, const v1::CommandAck& ack) {
  if (ack.command_id().empty()) return absl::InvalidArgumentError("ack without command_id");
  absl::MutexLock lock(&mu_);
  Txn txn;
  absl::StatusOr<std::optional<v1::Command>> acked =
      outbox_.Acknowledge(txn, host, ack.command_id());
  if (!acked.ok()) return acked.status();
  if (!acked->has_value()) return absl::OkStatus();  // a duplicate
  const v1::Command cmd = **acked;
  if (ack.ok()) {
    journal_.Record(txn, event_kind::kCommandAcked, v1::INFO,
                    absl::StrCat("command ", cmd.id(), " applied by ", host,
                                 ack.duplicate() ? " (duplicate)" : ""),
                    host);
    if (cmd.has_promote()) {
      // The agent counts the new lease from when it received the command,
      // which is before this acknowledgement: bound it from now.
      v1::SlotRef ref;
      ref.set_host(host);
      ref.set_slot(cmd.promote().slot());
      leases_.Extend(ref, clock_->NowMs() + cmd.promote().lease().duration_ms());
    }
    if (cmd.has_demote()) {
      // The old master fenced itself: its lease is no longer a reason to wait.
      v1::SlotRef ref;
      ref.set_host(host);
      ref.set_slot(cmd.demote().slot());
      leases_.Release(ref);
    }
  } else {
    journal_.Record(
        txn, event_kind::kCommandFailed, v1::WARNING,
        absl::StrCat("command ", cmd.id(), " failed on ", host, ": ", ack.error(),
                     ack.hook_output().empty() ? "" : " [hook: " + ack.hook_output() + "]"),
        host);
    if (cmd.has_start_task()) {
      auto tit = model_.tasks.find(cmd.start_task().task_id());
      if (tit != model_.tasks.end() && tit->second.info().state() == v1::TASK_RUNNING) {
        if (tasks_.FinishTask(txn, tit->second, false, "agent refused: " + ack.error())) {
          RecomputeLocked(txn);
        }
      }
    }
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
  *task.mutable_info()->mutable_progress() = update.progress();
  Txn txn;
  if (update.blocked_users_size() > 0) {
    NoteBlockedUsersLocked(txn, host, task.info().target().slot(), task.info().store(),
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

void Coordinator::NoteBlockedUsersLocked(
    Txn& txn, const std::string& host, const std::string& slot, const std::string& store,
    const google::protobuf::RepeatedPtrField<std::string>& users, bool complete) {
  const std::string where = absl::StrCat(host, "/", slot);
  auto it = blocked_users_.find(where);
  if (users.empty() && (it == blocked_users_.end() || !complete)) return;
  std::set<std::string>& known = blocked_users_[where];
  for (const std::string& user : users) {
    if (!known.insert(user).second) continue;
    journal_.Record(
        txn, event_kind::kReplicationBlocked, v1::WARNING,
        absl::StrCat("sync of user ", user, " of store ", store, " into ", where,
                     " stopped by the mass-deletion guard: the source lost most of its "
                     "mail; the replica keeps it. Check the master before anything else"),
        host, slot, store);
  }
  if (complete) {
    const std::set<std::string> now(users.begin(), users.end());
    for (auto u = known.begin(); u != known.end();) {
      if (now.count(*u) > 0) {
        ++u;
        continue;
      }
      journal_.Record(
          txn, event_kind::kReplicationUnblocked, v1::INFO,
          absl::StrCat("sync of user ", *u, " of store ", store, " into ", where, " runs again"),
          host, slot, store);
      u = known.erase(u);
    }
  }
  if (known.empty()) blocked_users_.erase(where);
}

}  // namespace slotkeeper::slotmgr
