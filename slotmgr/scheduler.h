// Scheduling of replication tasks: which queued tasks start now, in what
// order, and how long a failed one waits before its next attempt.
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
// Pure functions over plain records: the coordinator's task records are the
// truth (it persists them); it copies what the selection needs into
// TaskRecords, calls SelectTasksToStart, and changes and persists the tasks
// it is told to start. Thread-safe (no state).
#ifndef SLOTKEEPER_SLOTMGR_SCHEDULER_H_
#define SLOTKEEPER_SLOTMGR_SCHEDULER_H_

#include <cstdint>
#include <string>
#include <vector>

#include "proto/model.pb.h"
#include "slotmgr/cluster_view.h"

namespace slotkeeper::slotmgr {

// The coordinator derives these from CoordinatorConfig (config.h); the
// defaults here are the same as the config's.
struct SchedulerOptions {
  int max_incoming_per_host = 2;         // tasks writing to one host at once
  int max_outgoing_per_host = 2;         // tasks reading from one host at once
  int max_running = 64;                  // tasks at once in the whole cluster
  int max_attempts = 5;                  // a task fails for good after this many
  int64_t initial_backoff_ms = 30'000;   // after the first failure
  int64_t max_backoff_ms = 15 * 60'000;  // backoff doubles up to this
};

// What the selection reads of one task.
struct TaskRecord {
  std::string id;
  v1::TaskState state = v1::TASK_QUEUED;
  SlotId source;
  SlotId target;
  int32_t priority = 0;  // TaskPriority(); higher runs first
  int64_t created_ms = 0;
  int64_t next_attempt_ms = 0;  // BACKOFF: not before this
};

// The priority of a task, exposed as TaskInfo.priority (higher runs first).
// Re-replication and catch-up: 1000 - 100 * usable copies (so 1 usable copy
// = 900 beats 2 = 800), plus 10 per missing copy; verification runs last
// (100). Clamped to [0, 1000].
int32_t TaskPriority(v1::TaskKind kind, int usable_copies, int required_copies);

// Which of `tasks` (QUEUED, or BACKOFF whose time has come) start at
// `now_ms`, given those already RUNNING, in priority order (priority desc,
// created_ms asc, id asc) within the limits. A task held back by a busy host
// does not hold back tasks between other hosts. Returns ids.
std::vector<std::string> SelectTasksToStart(const std::vector<const TaskRecord*>& tasks,
                                            const SchedulerOptions& options, int64_t now_ms);

// The wait before attempt number `attempts + 1`, after `attempts` failed
// attempts: initial * 2^(attempts-1), capped at max_backoff_ms.
int64_t BackoffMs(const SchedulerOptions& options, uint32_t attempts);

}  // namespace slotkeeper::slotmgr

#endif  // SLOTKEEPER_SLOTMGR_SCHEDULER_H_
