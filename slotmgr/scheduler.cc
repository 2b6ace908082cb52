#include "slotmgr/scheduler.h"

#include <algorithm>
#include <tuple>

#include "absl/container/flat_hash_map.h"

namespace slotkeeper::slotmgr {

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

int64_t BackoffMs(const SchedulerOptions& options, uint32_t attempts) {
  int64_t backoff = options.initial_backoff_ms;
  for (uint32_t i = 1; i < attempts && backoff < options.max_backoff_ms; ++i) backoff *= 2;
  return std::min(backoff, options.max_backoff_ms);
}

}  // namespace slotkeeper::slotmgr
