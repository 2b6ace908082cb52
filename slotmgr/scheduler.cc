#include "slotmgr/scheduler.h"

#include <algorithm>
#include <tuple>
#include <utility>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"

namespace slotkeeper {
namespace slotmgr {
namespace {

bool Finished(v1::TaskState s) {
  return s == v1::TASK_DONE || s == v1::TASK_FAILED || s == v1::TASK_CANCELLED;
}

absl::Status CheckRecord(const TaskRecord& t) {
  if (t.id.empty()) return absl::InvalidArgumentError("task has no id");
  if (t.store.empty()) return absl::InvalidArgumentError(absl::StrCat("task ", t.id, ": no store"));
  if (t.source.host.empty() || t.source.slot.empty()) {
    return absl::InvalidArgumentError(absl::StrCat("task ", t.id, ": no source slot"));
  }
  if (t.target.host.empty() || t.target.slot.empty()) {
    return absl::InvalidArgumentError(absl::StrCat("task ", t.id, ": no target slot"));
  }
  if (t.source == t.target) {
    return absl::InvalidArgumentError(
        absl::StrCat("task ", t.id, ": source and target are both ", t.source.ToString()));
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status SchedulerOptions::Validate() const {
  if (max_incoming_per_host < 1) {
    return absl::InvalidArgumentError("max_incoming_per_host must be at least 1");
  }
  if (max_outgoing_per_host < 1) {
    return absl::InvalidArgumentError("max_outgoing_per_host must be at least 1");
  }
  if (max_running < 1) return absl::InvalidArgumentError("max_running must be at least 1");
  if (max_attempts < 1) return absl::InvalidArgumentError("max_attempts must be at least 1");
  if (initial_backoff_ms < 0 || max_backoff_ms < 0) {
    return absl::InvalidArgumentError("backoff durations must not be negative");
  }
  return absl::OkStatus();
}

int32_t TaskPriority(v1::TaskKind kind, int usable_copies, int required_copies) {
  if (kind == v1::TASK_VERIFY) return 100;
  int usable = std::max(0, usable_copies);
  int missing = std::max(0, required_copies - usable);
  int p = 1000 - 100 * usable + 10 * missing;
  return std::clamp(p, 0, 1000);
}

std::vector<std::string> SelectTasksToStart(const std::vector<const TaskRecord*>& tasks,
                                            const SchedulerOptions& options, int64_t now_ms) {
  absl::flat_hash_map<std::string, int> incoming;  // host -> running tasks writing to it
  absl::flat_hash_map<std::string, int> outgoing;  // host -> running tasks reading from it
  int running = 0;
  std::vector<const TaskRecord*> ready;
  for (const TaskRecord* t : tasks) {
    if (t->state == v1::TASK_RUNNING) {
      ++incoming[t->target.host];
      ++outgoing[t->source.host];
      ++running;
    } else if (t->state == v1::TASK_QUEUED ||
               (t->state == v1::TASK_BACKOFF && t->next_attempt_ms <= now_ms)) {
      ready.push_back(t);
    }
  }
  std::sort(ready.begin(), ready.end(), [](const TaskRecord* a, const TaskRecord* b) {
    return std::make_tuple(-a->priority, a->created_ms, a->id) <
           std::make_tuple(-b->priority, b->created_ms, b->id);
  });
  std::vector<std::string> start;
  for (const TaskRecord* t : ready) {
    if (running >= options.max_running) break;
    int& in = incoming[t->target.host];
    int& out = outgoing[t->source.host];
    // A blocked task does not block lower-priority tasks between other
    // hosts: the limits protect hosts, not the queue order.
    if (in >= options.max_incoming_per_host || out >= options.max_outgoing_per_host) continue;
    ++in;
    ++out;
    ++running;
    start.push_back(t->id);
  }
  return start;
}

ReplicationScheduler::ReplicationScheduler(const SchedulerOptions& options, Clock* clock)
    : options_(options), clock_(clock) {}

absl::StatusOr<ReplicationScheduler> ReplicationScheduler::Create(const SchedulerOptions& options,
                                                                  Clock* clock) {
  if (clock == nullptr) return absl::InvalidArgumentError("scheduler needs a clock");
  absl::Status s = options.Validate();
  if (!s.ok()) return s;
  return ReplicationScheduler(options, clock);
}

absl::Status ReplicationScheduler::Restore(std::vector<TaskRecord> records) {
  std::map<std::string, TaskRecord, std::less<>> restored;
  for (TaskRecord& t : records) {
    absl::Status s = CheckRecord(t);
    if (!s.ok()) return s;
    if (t.state == v1::TASK_STATE_UNSPECIFIED) {
      return absl::InvalidArgumentError(absl::StrCat("task ", t.id, ": state unspecified"));
    }
    t.priority = TaskPriority(t.kind, t.usable_copies, t.required_copies);
    const std::string id = t.id;
    if (!restored.emplace(id, std::move(t)).second) {
      return absl::InvalidArgumentError(absl::StrCat("duplicate task id '", id, "'"));
    }
  }
  tasks_ = std::move(restored);
  return absl::OkStatus();
}

absl::StatusOr<TaskRecord> ReplicationScheduler::Enqueue(TaskRecord task) {
  absl::Status s = CheckRecord(task);
  if (!s.ok()) return s;
  if (tasks_.count(task.id) != 0) {
    return absl::AlreadyExistsError(absl::StrCat("task '", task.id, "' already exists"));
  }
  task.state = v1::TASK_QUEUED;
  if (task.created_ms == 0) task.created_ms = clock_->NowMs();
  task.priority = TaskPriority(task.kind, task.usable_copies, task.required_copies);
  task.attempts = 0;
  task.started_ms = 0;
  task.finished_ms = 0;
  task.next_attempt_ms = 0;
  task.last_error.clear();
  auto [it, inserted] = tasks_.emplace(task.id, std::move(task));
  return it->second;
}

std::vector<TaskRecord> ReplicationScheduler::StartReady() {
  const int64_t now = clock_->NowMs();
  std::vector<const TaskRecord*> all;
  all.reserve(tasks_.size());
  for (const auto& [id, t] : tasks_) {
    if (!Finished(t.state)) all.push_back(&t);
  }
  std::vector<TaskRecord> started;
  for (const std::string& id : SelectTasksToStart(all, options_, now)) {
    TaskRecord& t = tasks_.find(id)->second;
    t.state = v1::TASK_RUNNING;
    t.started_ms = now;
    t.next_attempt_ms = 0;
    ++t.attempts;
    started.push_back(t);
  }
  return started;
}

absl::StatusOr<TaskRecord*> ReplicationScheduler::FindRunning(absl::string_view id) {
  auto it = tasks_.find(id);
  if (it == tasks_.end()) return absl::NotFoundError(absl::StrCat("unknown task '", id, "'"));
  if (it->second.state != v1::TASK_RUNNING) {
    return absl::FailedPreconditionError(
        absl::StrCat("task '", id, "' is ", v1::TaskState_Name(it->second.state), ", not running"));
  }
  return &it->second;
}

absl::StatusOr<TaskRecord> ReplicationScheduler::MarkDone(absl::string_view id) {
  absl::StatusOr<TaskRecord*> t = FindRunning(id);
  if (!t.ok()) return t.status();
  (*t)->state = v1::TASK_DONE;
  (*t)->finished_ms = clock_->NowMs();
  return **t;
}

absl::StatusOr<TaskRecord> ReplicationScheduler::MarkFailed(absl::string_view id,
                                                            absl::string_view error) {
  absl::StatusOr<TaskRecord*> found = FindRunning(id);
  if (!found.ok()) return found.status();
  TaskRecord& t = **found;
  const int64_t now = clock_->NowMs();
  t.last_error = std::string(error);
  if (static_cast<int>(t.attempts) >= options_.max_attempts) {
    t.state = v1::TASK_FAILED;
    t.finished_ms = now;
    t.next_attempt_ms = 0;
  } else {
    t.state = v1::TASK_BACKOFF;
    t.next_attempt_ms = now + BackoffMs(t.attempts);
  }
  return t;
}

absl::StatusOr<TaskRecord> ReplicationScheduler::Cancel(absl::string_view id,
                                                        absl::string_view reason) {
  auto it = tasks_.find(id);
  if (it == tasks_.end()) return absl::NotFoundError(absl::StrCat("unknown task '", id, "'"));
  TaskRecord& t = it->second;
  if (Finished(t.state)) {
    return absl::FailedPreconditionError(
        absl::StrCat("task '", id, "' already finished (", v1::TaskState_Name(t.state), ")"));
  }
  t.state = v1::TASK_CANCELLED;
  t.finished_ms = clock_->NowMs();
  t.last_error = std::string(reason);
  return t;
}

std::vector<TaskRecord> ReplicationScheduler::UpdateRisk(absl::string_view store, int usable_copies,
                                                         int required_copies) {
  std::vector<TaskRecord> changed;
  for (auto& [id, t] : tasks_) {
    if (t.store != store || Finished(t.state)) continue;
    t.usable_copies = usable_copies;
    t.required_copies = required_copies;
    int32_t p = TaskPriority(t.kind, usable_copies, required_copies);
    if (p == t.priority) continue;
    t.priority = p;
    changed.push_back(t);
  }
  return changed;
}

const TaskRecord* ReplicationScheduler::Find(absl::string_view id) const {
  auto it = tasks_.find(id);
  return it == tasks_.end() ? nullptr : &it->second;
}

std::vector<TaskRecord> ReplicationScheduler::Tasks() const {
  std::vector<TaskRecord> out;
  out.reserve(tasks_.size());
  for (const auto& [id, t] : tasks_) out.push_back(t);
  return out;
}

int ReplicationScheduler::RunningCount() const {
  int n = 0;
  for (const auto& [id, t] : tasks_) n += t.state == v1::TASK_RUNNING;
  return n;
}

int ReplicationScheduler::WaitingCount() const {
  int n = 0;
  for (const auto& [id, t] : tasks_) {
    n += t.state == v1::TASK_QUEUED || t.state == v1::TASK_BACKOFF;
  }
  return n;
}

void ReplicationScheduler::Forget(int64_t before_ms) {
  for (auto it = tasks_.begin(); it != tasks_.end();) {
    if (Finished(it->second.state) && it->second.finished_ms < before_ms) {
      it = tasks_.erase(it);
    } else {
      ++it;
    }
  }
}

int64_t ReplicationScheduler::BackoffMs(uint32_t attempts) const {
  int64_t backoff = options_.initial_backoff_ms;
  for (uint32_t i = 1; i < attempts && backoff < options_.max_backoff_ms; ++i) backoff *= 2;
  return std::min(backoff, options_.max_backoff_ms);
}

}  // namespace slotmgr
}  // namespace slotkeeper
