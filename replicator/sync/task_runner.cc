#include "replicator/sync/task_runner.h"

#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"

namespace slotkeeper::sync {

TaskRunner::~TaskRunner() {
  Shutdown();
  std::vector<std::thread> threads;
  {
    absl::MutexLock lock(&mu_);
    for (auto& [id, task] : tasks_) {
      if (task->thread.joinable()) threads.push_back(std::move(task->thread));
    }
  }
  for (std::thread& t : threads) t.join();
}

absl::StatusOr<TaskRunner::Task*> TaskRunner::AddLocked(const std::string& id,
                                                        const std::string& target_slot,
                                                        std::unique_ptr<Task>* previous) {
  if (stopping_) return absl::FailedPreconditionError("the data path is stopping");
  auto it = tasks_.find(id);
  if (it != tasks_.end()) {
    if (!it->second->finished) {
      return absl::AlreadyExistsError(absl::StrCat("task ", id, " is running"));
    }
    *previous = std::move(it->second);
    tasks_.erase(it);
  }
  auto task = std::make_unique<Task>();
  task->target_slot = target_slot;
  Task* raw = task.get();
  tasks_[id] = std::move(task);
  return raw;
}

absl::Status TaskRunner::Start(const std::string& id, const std::string& target_slot, Work work) {
  std::unique_ptr<Task> previous;  // a finished attempt of the same id
  {
    absl::MutexLock lock(&mu_);
    absl::StatusOr<Task*> task = AddLocked(id, target_slot, &previous);
    if (!task.ok()) return task.status();
    Task* raw = *task;
    raw->thread = std::thread([this, raw, work = std::move(work)]() {
      work(&raw->cancelled);
      absl::MutexLock lock(&mu_);
      raw->finished = true;
    });
  }
  // It set `finished` as its last step: an immediate join.
  if (previous != nullptr && previous->thread.joinable()) previous->thread.join();
  return absl::OkStatus();
}

absl::Status TaskRunner::RunHere(const std::string& id, const std::string& target_slot,
                                 const Work& work) {
  std::unique_ptr<Task> previous;
  Task* task = nullptr;
  {
    absl::MutexLock lock(&mu_);
    absl::StatusOr<Task*> added = AddLocked(id, target_slot, &previous);
    if (!added.ok()) return added.status();
    task = *added;
  }
  if (previous != nullptr && previous->thread.joinable()) previous->thread.join();
  work(&task->cancelled);
  absl::MutexLock lock(&mu_);
  task->finished = true;
  return absl::OkStatus();
}

absl::Status TaskRunner::Cancel(const std::string& id) {
  absl::MutexLock lock(&mu_);
  auto it = tasks_.find(id);
  if (it == tasks_.end() || it->second->finished) {
    return absl::NotFoundError(absl::StrCat("no running task ", id));
  }
  it->second->cancelled = true;
  return absl::OkStatus();
}

void TaskRunner::CancelInto(const std::string& slot) {
  absl::MutexLock lock(&mu_);
  for (auto& [id, task] : tasks_) {
    if (task->target_slot == slot) task->cancelled = true;
  }
}

bool TaskRunner::WritingIntoLocked(const std::string& slot) const {
  for (const auto& [id, task] : tasks_) {
    if (task->target_slot == slot && !task->finished) return true;
  }
  return false;
}

bool TaskRunner::AwaitQuietInto(const std::string& slot, absl::Time deadline) {
  absl::MutexLock lock(&mu_);
  auto quiet = [this, &slot]()
                   ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return !WritingIntoLocked(slot); };
  return mu_.AwaitWithDeadline(absl::Condition(&quiet), deadline);
}

void TaskRunner::Shutdown() {
  absl::MutexLock lock(&mu_);
  stopping_ = true;
  for (auto& [id, task] : tasks_) task->cancelled = true;
}

bool TaskRunner::AwaitAllEnded(absl::Time deadline) {
  absl::MutexLock lock(&mu_);
  auto ended = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    for (const auto& [id, task] : tasks_) {
      if (!task->finished) return false;
    }
    return true;
  };
  return mu_.AwaitWithDeadline(absl::Condition(&ended), deadline);
}

void TaskRunner::Reap() {
  std::vector<std::unique_ptr<Task>> done;
  {
    absl::MutexLock lock(&mu_);
    for (auto it = tasks_.begin(); it != tasks_.end();) {
      if (!it->second->finished) {
        ++it;
        continue;
      }
      done.push_back(std::move(it->second));
      it = tasks_.erase(it);
    }
  }
  // Each has set `finished` as its last step: these joins are immediate.
  for (auto& task : done) {
    if (task->thread.joinable()) task->thread.join();
  }
}

}  // namespace slotkeeper::sync
