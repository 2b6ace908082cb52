#include "replicator/command_runner.h"

#include <algorithm>

namespace slotkeeper::replicator {

CommandRunner::~CommandRunner() { Stop(); }

void CommandRunner::Start() {
  command_thread_ = std::thread([this] { CommandLoop(); });
  lease_thread_ = std::thread([this] { LeaseLoop(); });
}

void CommandRunner::Stop() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
  }
  for (std::thread* t : {&command_thread_, &lease_thread_}) {
    if (t->joinable()) t->join();
  }
}

void CommandRunner::Enqueue(v1::Command command) {
  absl::MutexLock lock(&mu_);
  queue_.push_back(std::move(command));
}

void CommandRunner::CommandLoop() {
  while (true) {
    v1::Command command;
    {
      absl::MutexLock lock(&mu_);
      auto ready = [this]()
                       ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return stopping_ || !queue_.empty(); };
      mu_.Await(absl::Condition(&ready));
      if (stopping_) return;
      command = std::move(queue_.front());
      queue_.pop_front();
    }
    deps_.outbox->AddAck(deps_.handle(command));  // a report goes with it
  }
}

void CommandRunner::LeaseLoop() {
  while (true) {
    {
      absl::MutexLock lock(&mu_);
      const absl::Duration wait = std::min(deps_.next_expiry(), absl::Milliseconds(50));
      mu_.AwaitWithTimeout(absl::Condition(&stopping_), wait);
      if (stopping_) return;
    }
    if (deps_.fence_expired()) deps_.outbox->NotifyChanged();
  }
}

}  // namespace slotkeeper::replicator
