#include "slotmgr/task_manager.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "base/log.h"
#include "proto/event_kinds.h"
#include "proto/model_util.h"
#include "slotmgr/scheduler.h"
#include "slotmgr/view_builder.h"

namespace slotkeeper::slotmgr {

using model::SlotName;

TaskManager::Replanned TaskManager::PlanReplacements(Txn& txn, int max_stores) {
  // Stores short of copies (lost copies do not count; seeding ones do),
  // those with fewest copies first.
  std::vector<std::pair<uint32_t, std::string>> by_copies;
  for (const auto& [name, rec] : model_->stores) {
    // A store only recognised on disk (epoch 0: never declared, no master)
    // waits for an operator's `store create`; it is not re-replicated.
    if (rec.info().master_epoch() == 0) continue;
    uint32_t present = 0;
    for (const auto& c : rec.info().copies()) present += c.role() != v1::SLOT_LOST;
    if (present < rec.info().required_copies()) by_copies.emplace_back(present, name);
  }
  std::sort(by_copies.begin(), by_copies.end());
  Replanned out;
  std::vector<std::string> short_stores;
  for (const auto& [present, name] : by_copies) {
    if (max_stores >= 0 && static_cast<int>(short_stores.size()) >= max_stores) {
      ++out.waiting;
      continue;
    }
    short_stores.push_back(name);
  }
  if (short_stores.empty()) return out;
  std::optional<ClusterView> view = view_();
  if (!view) return out;
  absl::StatusOr<PlacementOutcome> outcome = PlaceReplicas(*view, short_stores, *config_);
  if (!outcome.ok()) {
    LogError("coordinator", absl::StrCat("placement: ", outcome.status().ToString()));
    return out;
  }
  for (const auto& [store, why] : outcome->refused) {
    if (placement_notices_.insert(absl::StrCat(store, "/", why)).second) {
      journal_->Record(txn, event_kind::kPlacementRefused, v1::CRITICAL,
                       absl::StrCat("store ", store, ": ", why), "", "", store);
    }
  }
  std::set<std::string> covered;  // lost copies a live task already replaces
  for (const auto& [id, t] : model_->tasks) {
    if (!model::IsTaskFinished(t.info().state()) && t.has_replaces()) {
      covered.insert(SlotName(t.replaces()));
    }
  }
  for (const PlacementResult& r : outcome->placed) {
    StoreRecord& store = model_->stores[r.store];
    // The lost copy this new replica stands for, if any (replace before evict).
    v1::SlotRef replaces;
    for (const auto& c : store.info().copies()) {
      if (c.role() == v1::SLOT_LOST && covered.insert(SlotName(c.slot())).second) {
        replaces = c.slot();
        break;
      }
    }
    v1::Copy* c = store.mutable_info()->add_copies();
    *c->mutable_slot() = r.target;
    c->set_role(v1::SLOT_SEEDING);
    c->set_usable(true);
    SetSlotRole(*model_, txn, r.target, v1::SLOT_SEEDING, r.store).IgnoreError();
    out.tasks.push_back(CreateTask(txn, r.store, r.source, r.target, replaces));
    if (out.stores.empty() || out.stores.back() != r.store) out.stores.push_back(r.store);
  }
  return out;
}

v1::TaskProgress TruthfulProgress(const v1::TaskProgress& known, const v1::TaskProgress& reported) {
  v1::TaskProgress p = reported;
  if (p.users_total() == 0) p.set_users_total(known.users_total());
  if (p.files_total() == 0) p.set_files_total(known.files_total());
  if (p.bytes_total() == 0) p.set_bytes_total(known.bytes_total());
  if (p.users_total() > 0) p.set_users_total(std::max(p.users_total(), p.users_done()));
  if (p.files_total() > 0) p.set_files_total(std::max(p.files_total(), p.files_done()));
  if (p.bytes_total() > 0) p.set_bytes_total(std::max(p.bytes_total(), p.bytes_done()));
  return p;
}

std::string TaskManager::CreateTask(Txn& txn, const std::string& store, const v1::SlotRef& source,
                                    const v1::SlotRef& target, const v1::SlotRef& replaces,
                                    v1::TaskKind kind) {
  StoredTask t;
  v1::TaskInfo* ti = t.mutable_info();
  ti->set_id(absl::StrCat("t", ++last_seq_));
  ti->set_kind(kind);
  ti->set_state(v1::TASK_QUEUED);  // a new task; not a transition
  ti->set_store(store);
  *ti->mutable_source() = source;
  *ti->mutable_target() = target;
  ti->set_priority(TaskPriority(model_->stores[store]));
  ti->set_created_ms(clock_->NowMs());
  if (const v1::SlotInfo* s = FindSlot(*model_, source)) {
    ti->mutable_progress()->set_bytes_total(s->used_bytes());
  }
  if (const v1::Copy* c = FindCopy(model_->stores[store], source)) {
    ti->mutable_progress()->set_users_total(c->user_count());
  }
  if (!replaces.host().empty()) *t.mutable_replaces() = replaces;
  const std::string id = ti->id();
  journal_->Record(
      txn, event_kind::kTaskCreated, v1::INFO,
      absl::StrCat("task ", id, kind == v1::TASK_CATCH_UP ? ": catch up " : ": copy ", store,
                   " from ", SlotName(source), kind == v1::TASK_CATCH_UP ? " into " : " to ",
                   SlotName(target),
                   replaces.host().empty() ? "" : " (replaces " + SlotName(replaces) + ")"),
      target.host(), target.slot(), store, id);
  model_->tasks[id] = std::move(t);
  txn.tasks.insert(id);
  return id;
}

void TaskManager::Schedule(Txn& txn) {
  const int64_t now = clock_->NowMs();
  for (auto& [id, t] : model_->tasks) {
    if (t.info().state() == v1::TASK_BACKOFF && t.info().next_attempt_ms() <= now) {
      SetTaskState(txn, t, v1::TASK_QUEUED).IgnoreError();
    }
  }
  for (const std::string& id : TasksToStart(*model_, *config_, now)) {
    StoredTask& t = model_->tasks[id];
    if (!SetTaskState(txn, t, v1::TASK_RUNNING).ok()) continue;
    v1::TaskInfo* ti = t.mutable_info();
    ti->set_started_ms(now);
    ti->set_attempts(ti->attempts() + 1);
    // A new attempt starts clean: what went wrong before stays in
    // last_error, which readers label as the previous attempt's.
    ti->set_note("");
    std::string source_note;
    if (ti->attempts() > 1) {
      // A retry copies from another good copy when there is one: the last
      // source may be what failed (hung, unreachable, its disk going bad).
      const v1::SlotRef before = ti->source();
      if (RechooseSource(*ti)) {
        source_note =
            absl::StrCat(", from ", SlotName(ti->source()), " instead of ", SlotName(before));
        txn.tasks.insert(id);
      }
    }
    outbox_->Issue(txn, ti->target().host(), StartTaskCommand(*ti));
    journal_->Record(
        txn, event_kind::kTaskStarted, v1::INFO,
        absl::StrCat("task ", id, " started (attempt ", ti->attempts(), source_note, ")"),
        ti->target().host(), ti->target().slot(), ti->store(), id);
  }
}

v1::Command TaskManager::StartTaskCommand(const v1::TaskInfo& task) const {
  const HostRecord* src = FindHost(*model_, task.source().host());
  v1::Command cmd;
  v1::StartTaskCommand* st = cmd.mutable_start_task();
  st->set_task_id(task.id());
  st->set_kind(task.kind());
  st->set_store(task.store());
  st->set_target_slot(task.target().slot());
  st->set_source_peer_address(src != nullptr ? src->info().peer_address() : "");
  st->set_source_slot(task.source().slot());
  st->set_attempt(task.attempts());
  return cmd;
}

bool TaskManager::RechooseSource(v1::TaskInfo& task) const {
  auto sit = model_->stores.find(task.store());
  if (sit == model_->stores.end()) return false;
  const v1::Copy* best = nullptr;
  for (const v1::Copy& c : sit->second.info().copies()) {
    if (!model::IsUsableCopy(c) || !c.in_sync() || model::SameSlot(c.slot(), task.target()) ||
        model::SameSlot(c.slot(), task.source())) {
      continue;
    }
    // Prefer a replica: the master is busy taking mail.
    if (best == nullptr || (best->role() == v1::SLOT_MASTER && c.role() == v1::SLOT_REPLICA)) {
      best = &c;
    }
  }
  if (best == nullptr) return false;
  *task.mutable_source() = best->slot();
  return true;
}

void TaskManager::RestartTasksOf(Txn& txn, const std::string& host) {
  // A start not yet acknowledged is sent again after the hello anyway.
  const std::set<std::string> outstanding = outbox_->UnacknowledgedStarts(host);
  for (auto& [id, t] : model_->tasks) {
    const v1::TaskInfo& ti = t.info();
    if (ti.state() != v1::TASK_RUNNING || ti.target().host() != host || outstanding.count(id)) {
      continue;
    }
    // Same task id: an agent still running it acknowledges the start as
    // applied; a restarted one resumes from its data path's checkpoints.
    outbox_->Issue(txn, host, StartTaskCommand(ti));
    journal_->Record(txn, event_kind::kTaskResent, v1::INFO,
                     absl::StrCat("task ", id, " started again on ", host,
                                  " (its agent registered again; it resumes from its checkpoints)"),
                     host, ti.target().slot(), ti.store(), id);
  }
}

bool TaskManager::FinishTask(Txn& txn, StoredTask& task, bool success, const std::string& error) {
  return success ? Succeed(txn, task) : Fail(txn, task, error);
}

bool TaskManager::Succeed(Txn& txn, StoredTask& task) {
  const int64_t now = clock_->NowMs();
  v1::TaskInfo* ti = task.mutable_info();
  const std::string id = ti->id();
  // A copy finished into a slot declared lost (or gone) meanwhile is no copy:
  // it must not count, nor stand for the copy it was to replace.
  const v1::SlotInfo* target = FindSlot(*model_, ti->target());
  if (target == nullptr || target->role() == v1::SLOT_LOST) {
    return CancelTask(txn, task, "finished, but its target slot is lost or gone");
  }
  txn.tasks.insert(id);
  if (!SetTaskState(txn, task, v1::TASK_DONE).ok()) return false;
  ti->set_finished_ms(now);
  ti->set_last_error("");
  ti->set_note("");
  journal_->Record(
      txn, event_kind::kTaskDone, v1::INFO,
      absl::StrCat("task ", id, " done and verified: ", SlotName(ti->target()), " is a replica of ",
                   ti->store(), " (", ti->progress().bytes_received(), " of ",
                   ti->progress().bytes_total(), " bytes copied)"),
      ti->target().host(), ti->target().slot(), ti->store(), id);
  auto sit = model_->stores.find(ti->store());
  if (sit == model_->stores.end()) return false;
  StoreRecord& store = sit->second;
  SetSlotRole(*model_, txn, ti->target(), v1::SLOT_REPLICA, ti->store()).IgnoreError();
  if (v1::Copy* c = FindCopy(store, ti->target())) {
    c->set_in_sync(true);
    c->set_lag_ms(0);
    c->set_last_synced_ms(now);
  }
  if (const v1::Copy* m = MasterCopy(store)) {
    const HostRecord* mh = FindHost(*model_, m->slot().host());
    outbox_->Issue(
        txn, ti->target().host(),
        MakeAssignReplica(ti->store(), ti->target().slot(), store.info().master_epoch(),
                          mh != nullptr ? mh->info().peer_address() : "", m->slot().slot()));
  }
  // Replace before evict: only now is the lost copy dropped.
  if (task.has_replaces()) {
    auto* copies = store.mutable_info()->mutable_copies();
    for (int i = 0; i < copies->size(); ++i) {
      if (!model::SameSlot(copies->Get(i).slot(), task.replaces())) continue;
      copies->DeleteSubrange(i, 1);
      if (v1::SlotInfo* ls = FindSlot(model_, task.replaces())) {
        ls->set_store("");
        txn.hosts.insert(task.replaces().host());
      }
      journal_->Record(txn, event_kind::kCopyDropped, v1::INFO,
                       absl::StrCat("lost copy ", SlotName(task.replaces()), " dropped from ",
                                    ti->store(), " (replaced by ", SlotName(ti->target()), ")"),
                       task.replaces().host(), task.replaces().slot(), ti->store(), id);
      break;
    }
  }
  return true;
}

bool TaskManager::Fail(Txn& txn, StoredTask& task, const std::string& error) {
  const int64_t now = clock_->NowMs();
  v1::TaskInfo* ti = task.mutable_info();
  const std::string id = ti->id();
  txn.tasks.insert(id);
  ti->set_last_error(error);
  if (static_cast<int>(ti->attempts()) < config_->max_task_attempts) {
    if (!SetTaskState(txn, task, v1::TASK_BACKOFF).ok()) return false;
    const int64_t backoff = BackoffMs(SchedulerOptionsFrom(*config_), ti->attempts());
    ti->set_next_attempt_ms(now + backoff);
    ti->set_note(absl::StrCat("attempt ", ti->attempts(), " failed: ", error));
    journal_->Record(
        txn, event_kind::kTaskRetry, v1::WARNING,
        absl::StrCat("task ", id, " failed (", error, "); retry in ", backoff / 1000, " s"),
        ti->target().host(), ti->target().slot(), ti->store(), id);
    return false;
  }
  if (!SetTaskState(txn, task, v1::TASK_FAILED).ok()) return false;
  ti->set_finished_ms(now);
  ti->set_note(absl::StrCat("gave up after ", ti->attempts(), " attempts: ", error));
  journal_->Record(
      txn, event_kind::kTaskFailed, v1::CRITICAL,
      absl::StrCat("task ", id, " gave up after ", ti->attempts(), " attempts: ", error),
      ti->target().host(), ti->target().slot(), ti->store(), id);
  if (ti->kind() == v1::TASK_CATCH_UP) {
    // A reinstated copy that cannot catch up is lost again, not emptied.
    SetSlotRole(*model_, txn, ti->target(), v1::SLOT_LOST, ti->store()).IgnoreError();
    return true;
  }
  // Release the target so that placement can try elsewhere.
  ReleaseTarget(txn, ti->store(), ti->target());
  return true;
}

void TaskManager::ReleaseTarget(Txn& txn, const std::string& store, const v1::SlotRef& slot) {
  auto sit = model_->stores.find(store);
  if (sit != model_->stores.end()) {
    auto* copies = sit->second.mutable_info()->mutable_copies();
    for (int i = 0; i < copies->size(); ++i) {
      if (model::SameSlot(copies->Get(i).slot(), slot)) {
        copies->DeleteSubrange(i, 1);
        txn.stores.insert(store);
        break;
      }
    }
  }
  SetSlotRole(*model_, txn, slot, v1::SLOT_SPARE, "").IgnoreError();
  v1::Command release;
  release.mutable_release_slot()->set_slot(slot.slot());
  release.mutable_release_slot()->set_store(store);
  outbox_->Issue(txn, slot.host(), release);
}

bool TaskManager::CancelTask(Txn& txn, StoredTask& task, const std::string& why) {
  v1::TaskInfo* ti = task.mutable_info();
  const v1::TaskState was = ti->state();
  if (model::IsTaskFinished(was) || !SetTaskState(txn, task, v1::TASK_CANCELLED).ok()) return false;
  ti->set_finished_ms(clock_->NowMs());
  ti->set_note(absl::StrCat("cancelled: ", why));
  if (was == v1::TASK_RUNNING) {
    v1::Command cancel;
    cancel.mutable_cancel_task()->set_task_id(ti->id());
    outbox_->Issue(txn, ti->target().host(), std::move(cancel));
  }
  journal_->Record(txn, event_kind::kTaskCancelled, v1::INFO,
                   absl::StrCat("task ", ti->id(), " cancelled: ", why), ti->target().host(),
                   ti->target().slot(), ti->store(), ti->id());
  const v1::SlotInfo* target = FindSlot(*model_, ti->target());
  if (target == nullptr || target->role() != v1::SLOT_SEEDING) return false;
  ReleaseTarget(txn, ti->store(), ti->target());
  return true;
}

}  // namespace slotkeeper::slotmgr
