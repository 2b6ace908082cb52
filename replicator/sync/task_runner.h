// TaskRunner: the engine's replication tasks as threads, by task id and by
// the slot each writes into.
//
// A task is a piece of work with a cancellation flag, run on a thread of
// its own (Start) or on the caller's (RunHere: a final pull); either way
// its id is taken while it runs (a second task of that id is refused) and
// it counts as writing into its slot. The work itself decides what the
// flag stops (SlotPuller ends its calls to a source within about 100 ms).
//
// Never waiting on the work: Cancel, CancelInto and Shutdown only set
// flags and return. AwaitQuietInto and AwaitAllEnded wait for tasks to end,
// up to a deadline (real time: a bound on local work whose calls are
// already cancelled), so that nothing writes into a slot being emptied or
// outlives the engine. A task marks itself finished (under the lock) as the
// last thing it does; Reap then joins and drops finished threads at once.
//
// Thread-safe; the work runs with no runner lock held.
#ifndef SLOTKEEPER_REPLICATOR_SYNC_TASK_RUNNER_H_
#define SLOTKEEPER_REPLICATOR_SYNC_TASK_RUNNER_H_

#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

namespace slotkeeper::sync {

class TaskRunner {
 public:
  // The work of a task; `cancelled` is set once the task is to stop.
  using Work = std::function<void(std::atomic<bool>* cancelled)>;

  TaskRunner() = default;
  // Shutdown(), then joins every thread, however long what remains of its
  // work takes.
  ~TaskRunner();
  TaskRunner(const TaskRunner&) = delete;
  TaskRunner& operator=(const TaskRunner&) = delete;

  // Runs `work` on a thread of its own as task `id` writing into
  // `target_slot`. ALREADY_EXISTS while a task of that id runs;
  // FAILED_PRECONDITION after Shutdown.
  absl::Status Start(const std::string& id, const std::string& target_slot, Work work)
      ABSL_LOCKS_EXCLUDED(mu_);
  // The same on the caller's thread: returns once `work` returned (or at
  // once with Start's errors, `work` not run).
  absl::Status RunHere(const std::string& id, const std::string& target_slot, const Work& work)
      ABSL_LOCKS_EXCLUDED(mu_);
  // Sets the flag of running task `id`. NOT_FOUND when no such task runs.
  absl::Status Cancel(const std::string& id) ABSL_LOCKS_EXCLUDED(mu_);
  // Sets the flag of every task writing into `slot`.
  void CancelInto(const std::string& slot) ABSL_LOCKS_EXCLUDED(mu_);
  // Waits until no task writes into `slot`, or until `deadline`; whether
  // none does.
  bool AwaitQuietInto(const std::string& slot, absl::Time deadline) ABSL_LOCKS_EXCLUDED(mu_);
  // Refuses new tasks from now on and cancels every running one.
  void Shutdown() ABSL_LOCKS_EXCLUDED(mu_);
  // Waits until every task has ended, or until `deadline`; whether all did.
  bool AwaitAllEnded(absl::Time deadline) ABSL_LOCKS_EXCLUDED(mu_);
  // Joins the threads of finished tasks and forgets them.
  void Reap() ABSL_LOCKS_EXCLUDED(mu_);

 private:
  struct Task {
    std::string target_slot;
    std::atomic<bool> cancelled{false};
    std::thread thread;     // none for RunHere
    bool finished = false;  // guarded by mu_
  };
  // Takes `id` for a new task; the finished attempt of the same id it
  // replaces goes to `previous` (its thread to be joined by the caller).
  absl::StatusOr<Task*> AddLocked(const std::string& id, const std::string& target_slot,
                                  std::unique_ptr<Task>* previous)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  bool WritingIntoLocked(const std::string& slot) const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  absl::Mutex mu_;
  std::map<std::string, std::unique_ptr<Task>> tasks_ ABSL_GUARDED_BY(mu_);
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
};

}  // namespace slotkeeper::sync

#endif  // SLOTKEEPER_REPLICATOR_SYNC_TASK_RUNNER_H_
