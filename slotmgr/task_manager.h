// TaskManager: the coordinator's re-replication tasks, from placement to
// completion.
//
// Plans replacements for stores short of copies (placement.h), creates the
// tasks, starts them within the scheduler's limits (scheduler.h) with a
// StartTask command to the target's agent, starts them again when that
// agent registers anew, and finishes them: a verified copy becomes a
// replica and the lost copy it replaces is dropped (replace before evict);
// a failed attempt backs off and is retried, and after the last attempt the
// target slot is released. Every task state change goes through
// SetTaskState (model.h), so the task state machine holds.
//
// The tasks themselves are records of the model (ClusterModel::tasks, one
// StoredTask each, persisted through the Txn); the manager owns the task id
// counter and the one-time placement notices. Thread-compatible: the
// coordinator calls it under its mutex. The model, journal, outbox, clock
// and config are not owned and must outlive the manager.
#ifndef SLOTKEEPER_SLOTMGR_TASK_MANAGER_H_
#define SLOTKEEPER_SLOTMGR_TASK_MANAGER_H_

#include <cstdint>
#include <functional>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "base/clock.h"
#include "proto/model.pb.h"
#include "slotmgr/cluster_view.h"
#include "slotmgr/command_outbox.h"
#include "slotmgr/config.h"
#include "slotmgr/journal.h"
#include "slotmgr/model.h"
#include "slotmgr/txn.h"

namespace slotkeeper::slotmgr {

// A task's progress after its agent reported `reported`, knowing `known`:
// the agent's figures, but a total it does not know yet (0) keeps the known
// one, and a known total is never smaller than what is done (model.proto
// TaskProgress); a total still unknown stays 0. Pure.
v1::TaskProgress TruthfulProgress(const v1::TaskProgress& known, const v1::TaskProgress& reported);

class TaskManager {
 public:
  // The planners' snapshot of the current model; nullopt if it cannot be
  // built (the callee logs why).
  using ViewFn = std::function<std::optional<ClusterView>()>;

  TaskManager(ClusterModel* model, Journal* journal, CommandOutbox* outbox, Clock* clock,
              const CoordinatorConfig* config, ViewFn view)
      : model_(model),
        journal_(journal),
        outbox_(outbox),
        clock_(clock),
        config_(config),
        view_(std::move(view)) {}

  // The number of the last task created (persisted in MetaRecord).
  uint64_t last_seq() const { return last_seq_; }
  void set_last_seq(uint64_t seq) { last_seq_ = seq; }

  // What PlanReplacements did.
  struct Replanned {
    std::vector<std::string> tasks;   // ids of the tasks created
    std::vector<std::string> stores;  // stores given new replicas
    int waiting = 0;                  // stores short of copies left for later (max_stores)
  };

  // For every declared store short of copies (LOST ones do not count,
  // SEEDING ones do), at most `max_stores` of them (-1: all), those with
  // fewest copies first: places new replicas, marks their slots SEEDING and
  // creates a task for each. A store only recognised on disk (epoch 0)
  // waits for an operator. A store that cannot be placed is journaled once
  // per reason.
  Replanned PlanReplacements(Txn& txn, int max_stores = -1);

  // A QUEUED task copying `store` from `source` into `target`, standing for
  // the lost copy `replaces` (empty SlotRef: none). TASK_CATCH_UP brings a
  // copy already there up to date (a reinstated one). Its totals start as
  // the source copy's users and its slot's size, until the agent lists
  // them. Returns its id.
  std::string CreateTask(Txn& txn, const std::string& store, const v1::SlotRef& source,
                         const v1::SlotRef& target, const v1::SlotRef& replaces,
                         v1::TaskKind kind = v1::TASK_RE_REPLICATE);

  // Cancels an unfinished task (`why` journaled): a running one is told to
  // stop, and the copy it was seeding is released (its agent quarantines
  // what was copied) and leaves the store. True when copies changed.
  bool CancelTask(Txn& txn, StoredTask& task, const std::string& why);

  // Moves tasks whose backoff is over back to QUEUED and starts what the
  // scheduler selects (StartTask commands).
  void Schedule(Txn& txn);

  // Starts again the RUNNING tasks whose target is `host`, which registered
  // again (its agent may have restarted and forgotten them), except those
  // whose start is still unacknowledged (sent again anyway).
  void RestartTasksOf(Txn& txn, const std::string& host);

  // A RUNNING task ended: verified success, or a failed attempt (`error`).
  // A catch-up that fails for good leaves its copy LOST (kept on disk, not
  // released: it may be reinstated again). Returns true when copies or
  // slots changed, so that health must be derived again.
  bool FinishTask(Txn& txn, StoredTask& task, bool success, const std::string& error);

 private:
  // The StartTask command of a task, naming its source's current address.
  v1::Command StartTaskCommand(const v1::TaskInfo& task) const;
  // Another usable, in-sync copy to copy from than the task's current
  // source (a replica rather than the master); false when there is none.
  bool RechooseSource(v1::TaskInfo& task) const;
  bool Succeed(Txn& txn, StoredTask& task);
  bool Fail(Txn& txn, StoredTask& task, const std::string& error);
  // Removes `slot` from `store`'s copies and makes it a spare again, with a
  // ReleaseSlot command to its agent.
  void ReleaseTarget(Txn& txn, const std::string& store, const v1::SlotRef& slot);

  ClusterModel* const model_;
  Journal* const journal_;
  CommandOutbox* const outbox_;
  Clock* const clock_;
  const CoordinatorConfig* const config_;
  const ViewFn view_;
  uint64_t last_seq_ = 0;
  std::set<std::string> placement_notices_;  // "store/why" already journaled
};

}  // namespace slotkeeper::slotmgr

#endif  // SLOTKEEPER_SLOTMGR_TASK_MANAGER_H_
