// Cancel and retry a task (task_actions.h).
#include "slotmgr/task_actions.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "proto/event_kinds.h"
#include "proto/model_util.h"
#include "slotmgr/automation_guard.h"

namespace slotkeeper::slotmgr {
namespace {

absl::StatusOr<StoredTask*> FindTask(ClusterModel& model, const std::string& id) {
  if (id.empty()) return absl::InvalidArgumentError("task id is empty");
  auto it = model.tasks.find(id);
  if (it == model.tasks.end()) return absl::NotFoundError(absl::StrCat("no task '", id, "'"));
  return &it->second;
}

std::string Who(const std::string& actor, const std::string& reason) {
  return absl::StrCat("by ", actor, reason.empty() ? "" : ": " + reason);
}

// The copy a retried task copies from: its old source while that is a
// usable copy in sync (or the master), else another one, a replica first.
const v1::Copy* RetrySource(const StoreRecord& store, const v1::TaskInfo& task) {
  const v1::Copy* best = nullptr;
  for (const v1::Copy& c : store.info().copies()) {
    if (!model::IsUsableCopy(c) || model::SameSlot(c.slot(), task.target())) continue;
    if (c.role() != v1::SLOT_MASTER && !c.in_sync()) continue;
    if (model::SameSlot(c.slot(), task.source())) return &c;
    if (best == nullptr || (best->role() == v1::SLOT_MASTER && c.role() == v1::SLOT_REPLICA)) {
      best = &c;
    }
  }
  return best;
}

// Why a FAILED task `t` cannot be retried into its target now; empty when
// it can. `source` is set to the copy it would copy from.
std::string WhyNotRetryFailed(const ClusterModel& model, const v1::TaskInfo& t,
                              const v1::Copy** source) {
  if (t.kind() != v1::TASK_RE_REPLICATE) {
    return "only a failed re-replication can be retried; a failed catch-up left its copy lost: "
           "reinstate the unit again (slotctl unit reinstate)";
  }
  auto sit = model.stores.find(t.store());
  if (sit == model.stores.end()) return absl::StrCat("its store ", t.store(), " is gone");
  const StoreRecord& store = sit->second;
  uint32_t present = 0;
  for (const v1::Copy& c : store.info().copies()) present += c.role() != v1::SLOT_LOST;
  if (present >= store.info().required_copies()) {
    return absl::StrCat(
        "store ", t.store(), " has ", present, " of ", store.info().required_copies(),
        " copies already (another task may be placing one: slotctl tasks --store ", t.store(), ")");
  }
  const v1::SlotInfo* target = FindSlot(model, t.target());
  if (target == nullptr)
    return absl::StrCat("its target slot ", model::SlotName(t.target()), " is gone");
  if (target->role() != v1::SLOT_SPARE || !target->store().empty() || !target->usable()) {
    return absl::StrCat("its target slot ", model::SlotName(t.target()),
                        " is no longer a usable spare (", model::Name(target->role()),
                        "); placement chooses another slot for the store by itself");
  }
  const HostRecord* host = FindHost(model, t.target().host());
  if (host == nullptr || host->info().state() != v1::HOST_UP) {
    return absl::StrCat("the target's host ", t.target().host(), " is not up");
  }
  *source = RetrySource(store, t);
  if (*source == nullptr)
    return absl::StrCat("store ", t.store(), " has no usable copy to copy from");
  return "";
}

absl::StatusOr<v1::TaskInfo> RetryFailed(Mutation& m, StoredTask& failed,
                                         const v1::RetryTaskRequest& req,
                                         const std::string& actor) {
  const v1::TaskInfo& t = failed.info();
  const v1::Copy* source = nullptr;
  if (std::string why = WhyNotRetryFailed(m.model, t, &source); !why.empty()) {
    return absl::FailedPreconditionError(
        absl::StrCat("task ", t.id(), " cannot be retried: ", why));
  }
  const v1::SlotRef from = source->slot();
  const std::string store_name = t.store();
  StoreRecord& store = m.model.stores[store_name];
  // The lost copy it stood for, unless another unfinished task stands for it.
  v1::SlotRef replaces;
  if (failed.has_replaces()) {
    bool covered = false;
    for (const auto& [id, other] : m.model.tasks) {
      covered |= !model::IsTaskFinished(other.info().state()) && other.has_replaces() &&
                 model::SameSlot(other.replaces(), failed.replaces());
    }
    const v1::Copy* lost = FindCopy(store, failed.replaces());
    if (!covered && lost != nullptr && lost->role() == v1::SLOT_LOST) replaces = failed.replaces();
  }
  v1::Copy* c = store.mutable_info()->add_copies();
  *c->mutable_slot() = t.target();
  c->set_role(v1::SLOT_SEEDING);
  c->set_usable(true);
  m.txn.stores.insert(store_name);
  if (absl::Status st = SetSlotRole(m.model, m.txn, t.target(), v1::SLOT_SEEDING, store_name);
      !st.ok()) {
    return st;  // checked above; an error here means the model changed under us
  }
  const std::string id = m.tasks->CreateTask(m.txn, store_name, from, t.target(), replaces);
  StoredTask& fresh = m.model.tasks[id];
  fresh.mutable_info()->set_note(absl::StrCat("retry of ", t.id(), " ", Who(actor, req.reason())));
  failed.mutable_info()->set_note(
      absl::StrCat(t.note(), t.note().empty() ? "" : "; ", "retried as ", id, " ", Who(actor, "")));
  m.txn.tasks.insert(t.id());
  v1::Event e = MakeEvent(
      event_kind::kTaskRetried, v1::INFO,
      absl::StrCat("task ", t.id(), " (failed) retried as ", id, " ", Who(actor, req.reason())),
      t.target().host(), t.target().slot(), store_name, id);
  e.set_actor(actor);
  m.journal.Record(m.txn, std::move(e));
  m.recompute = true;
  if (AutomationRunning(*m.automation)) m.tasks->Schedule(m.txn);
  return m.model.tasks[id].info();
}

}  // namespace

absl::StatusOr<v1::TaskInfo> CancelTaskAction(Mutation& m, const v1::CancelTaskRequest& req,
                                              const std::string& actor) {
  absl::StatusOr<StoredTask*> task = FindTask(m.model, req.task());
  if (!task.ok()) return task.status();
  const v1::TaskState state = (*task)->info().state();
  if (model::IsTaskFinished(state)) {
    return absl::FailedPreconditionError(absl::StrCat(
        "task ", req.task(), " is ", model::Name(state), " already: nothing to cancel"));
  }
  if (m.tasks->CancelTask(m.txn, **task, Who(actor, req.reason()))) m.recompute = true;
  return (*task)->info();
}

absl::StatusOr<v1::TaskInfo> RetryTaskAction(Mutation& m, const v1::RetryTaskRequest& req,
                                             const std::string& actor) {
  absl::StatusOr<StoredTask*> found = FindTask(m.model, req.task());
  if (!found.ok()) return found.status();
  StoredTask& task = **found;
  v1::TaskInfo* ti = task.mutable_info();
  switch (ti->state()) {
    case v1::TASK_FAILED:
      return RetryFailed(m, task, req, actor);
    case v1::TASK_BACKOFF:
      break;
    case v1::TASK_QUEUED:
    case v1::TASK_RUNNING:
      return absl::FailedPreconditionError(
          absl::StrCat("task ", ti->id(), " is ", model::Name(ti->state()),
                       ": it needs no retry (cancel it with slotctl task cancel ", ti->id(), ")"));
    default:
      return absl::FailedPreconditionError(
          absl::StrCat("task ", ti->id(), " is ", model::Name(ti->state()),
                       ": only a task waiting to retry (BACKOFF) or a FAILED one can be retried"));
  }
  if (absl::Status st = SetTaskState(m.txn, task, v1::TASK_QUEUED); !st.ok()) return st;
  ti->set_next_attempt_ms(0);
  const bool running = AutomationRunning(*m.automation);
  ti->set_note(absl::StrCat("retry requested ", Who(actor, req.reason()),
                            running ? "" : "; waits while automation is paused"));
  v1::Event e = MakeEvent(event_kind::kTaskRetried, v1::INFO,
                          absl::StrCat("task ", ti->id(), ": new attempt requested ",
                                       Who(actor, req.reason()), ", backoff reset"),
                          ti->target().host(), ti->target().slot(), ti->store(), ti->id());
  e.set_actor(actor);
  m.journal.Record(m.txn, std::move(e));
  if (running) m.tasks->Schedule(m.txn);
  return task.info();
}

}  // namespace slotkeeper::slotmgr
