// The replication scheduler: which replication tasks run now.
//
// Tasks wait in a queue ordered by risk (a store with 1 usable copy before
// one with 2, as HDFS's low-redundancy queues and Ceph's recovery priorities
// do; then the oldest first), and start within two-sided limits: at most
// `max_incoming_per_host` tasks writing to a host, at most
// `max_outgoing_per_host` reading from a host (Ceph's osd_max_backfills,
// counted separately for each side), and at most `max_running` in all. A
// failed task is retried after an exponential backoff, up to
// `max_attempts`; then it is FAILED for good.
//
// The scheduler persists nothing. Its whole state is the list of
// TaskRecords (Tasks()); the coordinator persists each record it changes (in
// the same RocksDB batch as the decision and its event) and rebuilds the
// scheduler after a restart with Restore(). Times are wall-clock
// milliseconds from the injected Clock, because they are persisted and must
// survive a restart.
//
// Thread-safety: not thread-safe; the owner serializes calls (the
// coordinator calls it under its model lock). The Clock is not owned and
// must outlive the scheduler.
#ifndef SLOTKEEPER_SLOTMGR_SCHEDULER_H_
#define SLOTKEEPER_SLOTMGR_SCHEDULER_H_

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "base/clock.h"
#include "proto/model.pb.h"
#include "slotmgr/cluster_view.h"

namespace slotkeeper {
namespace slotmgr {

struct SchedulerOptions {
  int max_incoming_per_host = 2;         // tasks writing to one host at once
  int max_outgoing_per_host = 2;         // tasks reading from one host at once
  int max_running = 64;                  // tasks at once in the whole cluster
  int max_attempts = 5;                  // a task fails for good after this many
  int64_t initial_backoff_ms = 30'000;   // after the first failure
  int64_t max_backoff_ms = 15 * 60'000;  // backoff doubles up to this

  // INVALID_ARGUMENT naming the field when a limit is < 1 or a backoff < 0.
  absl::Status Validate() const;
};

// Everything the scheduler knows about one task: what the coordinator
// persists, and what it rebuilds the scheduler from.
struct TaskRecord {
  std::string id;
  v1::TaskKind kind = v1::TASK_RE_REPLICATE;
  v1::TaskState state = v1::TASK_QUEUED;
  std::string store;
  SlotId source;
  SlotId target;
  // Risk at enqueue time: the store's usable copies and required copies.
  // UpdateRisk() changes them when the store's health changes.
  int usable_copies = 1;
  int required_copies = 3;
  int32_t priority = 0;  // derived: TaskPriority(); higher runs first
  int64_t created_ms = 0;
  int64_t started_ms = 0;
  int64_t finished_ms = 0;
  uint32_t attempts = 0;        // starts so far
  int64_t next_attempt_ms = 0;  // BACKOFF: not before this
  std::string last_error;
};

// The priority of a task, exposed as TaskInfo.priority (higher runs first).
// Re-replication and catch-up: 1000 - 100 * usable copies (so 1 usable copy
// = 900 beats 2 = 800), plus 10 per missing copy; verification runs last
// (100). Clamped to [0, 1000].
int32_t TaskPriority(v1::TaskKind kind, int usable_copies, int required_copies);

// The pure selection: which of `tasks` (QUEUED, or BACKOFF whose time has
// come) start at `now_ms`, given those already RUNNING, in priority order
// (priority desc, created_ms asc, id asc) within the limits. Returns ids.
std::vector<std::string> SelectTasksToStart(const std::vector<const TaskRecord*>& tasks,
                                            const SchedulerOptions& options, int64_t now_ms);

class ReplicationScheduler {
 public:
  // `clock` is not owned. Options must be valid (see Create).
  ReplicationScheduler(const SchedulerOptions& options, Clock* clock);

  // Validates the options. INVALID_ARGUMENT for bad options.
  static absl::StatusOr<ReplicationScheduler> Create(const SchedulerOptions& options, Clock* clock);

  // Rebuilds the state from persisted records (any states; finished ones are
  // kept for Tasks()). RUNNING tasks stay RUNNING: the agents report on them
  // after they reconnect. INVALID_ARGUMENT for an empty or duplicate id or a
  // record without store, source or target.
  absl::Status Restore(std::vector<TaskRecord> records);

  // Adds a new task in state QUEUED; sets created_ms (if 0), priority and
  // clears attempts. INVALID_ARGUMENT for a missing id, store, source or
  // target, or source == target; ALREADY_EXISTS for a known id. Returns the
  // record as stored.
  absl::StatusOr<TaskRecord> Enqueue(TaskRecord task);

  // Picks the tasks to start now (SelectTasksToStart), marks them RUNNING
  // (started_ms = now, attempts + 1) and returns the changed records, which
  // the caller persists and commands.
  std::vector<TaskRecord> StartReady();

  // A running task finished (DONE). NOT_FOUND for an unknown id;
  // FAILED_PRECONDITION if it is not RUNNING. Returns the changed record.
  absl::StatusOr<TaskRecord> MarkDone(absl::string_view id);

  // A running task failed: BACKOFF until now + backoff, or FAILED when it
  // has used max_attempts. Same errors as MarkDone.
  absl::StatusOr<TaskRecord> MarkFailed(absl::string_view id, absl::string_view error);

  // Cancels a task that has not finished (CANCELLED). NOT_FOUND for an
  // unknown id; FAILED_PRECONDITION if it already finished. A RUNNING task
  // is only marked: the caller tells the agent to stop.
  absl::StatusOr<TaskRecord> Cancel(absl::string_view id, absl::string_view reason);

  // The store's health changed: re-prioritizes its unfinished tasks.
  // Returns the changed records.
  std::vector<TaskRecord> UpdateRisk(absl::string_view store, int usable_copies,
                                     int required_copies);

  // nullptr for an unknown id. The pointer is valid until the next call.
  const TaskRecord* Find(absl::string_view id) const;

  // All tasks, in id order (finished ones included until Forget()).
  std::vector<TaskRecord> Tasks() const;

  // Counts for status pages.
  int RunningCount() const;
  int WaitingCount() const;  // QUEUED or BACKOFF

  // Drops finished tasks (DONE, FAILED, CANCELLED) finished before
  // `before_ms`, once the coordinator has archived them.
  void Forget(int64_t before_ms);

  // The backoff before attempt number `attempts + 1`, after `attempts`
  // failed attempts: initial * 2^(attempts-1), capped.
  int64_t BackoffMs(uint32_t attempts) const;

 private:
  absl::StatusOr<TaskRecord*> FindRunning(absl::string_view id);

  SchedulerOptions options_;
  Clock* clock_;
  std::map<std::string, TaskRecord, std::less<>> tasks_;
};

}  // namespace slotmgr
}  // namespace slotkeeper

#endif  // SLOTKEEPER_SLOTMGR_SCHEDULER_H_
