#include "replicator/outbox.h"

#include <algorithm>

namespace slotkeeper::replicator {

void Outbox::NotifyChanged() {
  absl::MutexLock lock(&mu_);
  changed_ = true;
}

void Outbox::AddAck(v1::CommandAck ack) {
  absl::MutexLock lock(&mu_);
  acks_.push_back(std::move(ack));
  // A lost ack is re-asked for: the coordinator re-sends, we ack the dup.
  while (acks_.size() > kMaxPendingAcks) acks_.pop_front();
  changed_ = true;
}

void Outbox::AddTaskUpdate(const v1::TaskUpdate& update) {
  absl::MutexLock lock(&mu_);
  tasks_[update.task_id()] = update;
}

void Outbox::NotePing(int64_t coordinator_time_ms) {
  absl::MutexLock lock(&mu_);
  ping_coordinator_ms_ = coordinator_time_ms;
  ping_received_ = clock_->Monotonic();
}

void Outbox::Open() {
  absl::MutexLock lock(&mu_);
  open_ = true;
  changed_ = true;  // the first report of a session goes at once
}

void Outbox::Close() {
  absl::MutexLock lock(&mu_);
  open_ = false;
}

std::optional<Outbox::Batch> Outbox::Next(absl::Duration heartbeat_at) {
  absl::MutexLock lock(&mu_);
  auto ready = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return !open_ || changed_ || !acks_.empty() || !tasks_.empty();
  };
  mu_.AwaitWithTimeout(absl::Condition(&ready),
                       std::max(absl::ZeroDuration(), heartbeat_at - clock_->Monotonic()));
  if (!open_) return std::nullopt;
  Batch batch;
  batch.acks.swap(acks_);
  batch.tasks.swap(tasks_);
  const bool report_due = changed_ || clock_->Monotonic() >= heartbeat_at;
  changed_ = false;
  if (report_due) {
    ReportContext& report = batch.report.emplace();
    report.report_id = next_report_id_++;
    if (ping_coordinator_ms_ != 0) {
      report.echo_coordinator_time_ms = ping_coordinator_ms_;
      report.echo_held_ms = absl::ToInt64Milliseconds(clock_->Monotonic() - ping_received_);
    }
  }
  return batch;
}

}  // namespace slotkeeper::replicator
