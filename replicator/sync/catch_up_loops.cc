#include "replicator/sync/catch_up_loops.h"

#include "absl/strings/str_cat.h"

namespace slotkeeper::sync {

CatchUpLoops::~CatchUpLoops() {
  Shutdown();
  std::vector<std::thread> threads;
  {
    absl::MutexLock lock(&mu_);
    for (auto& loop : retired_) {
      if (loop->thread.joinable()) threads.push_back(std::move(loop->thread));
    }
  }
  for (std::thread& t : threads) t.join();
}

absl::Status CatchUpLoops::Assign(const ReplicaAssignment& replica) {
  absl::MutexLock lock(&mu_);
  if (stopping_) return absl::FailedPreconditionError("the data path is stopping");
  auto it = loops_.find(replica.slot);
  if (it != loops_.end() && it->second->replica == replica) {
    return absl::OkStatus();  // a re-sent assignment: the loop goes on
  }
  RetireLocked(replica.slot);
  auto loop = std::make_unique<Loop>();
  loop->replica = replica;
  loop->record.assigned_at = deps_.clock->Monotonic();
  Loop* raw = loop.get();
  loops_[replica.slot] = std::move(loop);
  raw->thread = std::thread([this, raw]() { Run(raw); });
  return absl::OkStatus();
}

absl::Status CatchUpLoops::Unassign(const std::string& slot) {
  absl::MutexLock lock(&mu_);
  if (!loops_.count(slot)) {
    return absl::NotFoundError(absl::StrCat("slot ", slot, " has no replica assignment"));
  }
  RetireLocked(slot);
  return absl::OkStatus();
}

std::optional<LoopStatus> CatchUpLoops::Retire(const std::string& slot) {
  absl::MutexLock lock(&mu_);
  return RetireLocked(slot);
}

std::optional<LoopStatus> CatchUpLoops::RetireLocked(const std::string& slot) {
  if (deps_.on_retire) deps_.on_retire(slot);
  auto it = loops_.find(slot);
  if (it == loops_.end()) return std::nullopt;
  LoopStatus stopped{it->second->replica, it->second->record};
  it->second->stop = true;
  retired_.push_back(std::move(it->second));
  loops_.erase(it);
  return stopped;
}

bool CatchUpLoops::StoppedLoopInLocked(const std::string& slot) const {
  for (const auto& loop : retired_) {
    if (loop->replica.slot == slot && !loop->finished) return true;
  }
  return false;
}

bool CatchUpLoops::AwaitStopped(const std::string& slot, absl::Time deadline) {
  absl::MutexLock lock(&mu_);
  auto quiet = [this, &slot]()
                   ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return !StoppedLoopInLocked(slot); };
  return mu_.AwaitWithDeadline(absl::Condition(&quiet), deadline);
}

bool CatchUpLoops::MayResume(const std::string& slot) {
  absl::MutexLock lock(&mu_);
  return !stopping_ && !loops_.count(slot);
}

void CatchUpLoops::Shutdown() {
  absl::MutexLock lock(&mu_);
  stopping_ = true;
  while (!loops_.empty()) RetireLocked(loops_.begin()->first);
}

bool CatchUpLoops::AwaitAllEnded(absl::Time deadline) {
  absl::MutexLock lock(&mu_);
  auto ended = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    for (const auto& loop : retired_) {
      if (!loop->finished) return false;
    }
    return true;
  };
  return mu_.AwaitWithDeadline(absl::Condition(&ended), deadline);
}

void CatchUpLoops::Reap() {
  std::vector<std::unique_ptr<Loop>> done;
  {
    absl::MutexLock lock(&mu_);
    for (auto it = retired_.begin(); it != retired_.end();) {
      if (!(*it)->finished) {
        ++it;
        continue;
      }
      done.push_back(std::move(*it));
      it = retired_.erase(it);
    }
  }
  // Each has set `finished` as its last step: these joins are immediate.
  for (auto& loop : done) {
    if (loop->thread.joinable()) loop->thread.join();
  }
}

std::vector<LoopStatus> CatchUpLoops::Status() {
  absl::MutexLock lock(&mu_);
  std::vector<LoopStatus> out;
  for (const auto& [slot, loop] : loops_) out.push_back({loop->replica, loop->record});
  return out;
}

void CatchUpLoops::AddRepair(const std::string& slot, const ScrubFinding& finding) {
  absl::MutexLock lock(&mu_);
  auto it = loops_.find(slot);
  if (it != loops_.end()) it->second->repairs.push_back(finding);
}

void CatchUpLoops::NoteVerification(const std::string& slot, const std::string& source_address,
                                    const std::string& source_slot, absl::Duration started,
                                    const VerifyReport& report) {
  absl::MutexLock lock(&mu_);
  auto it = loops_.find(slot);
  if (it == loops_.end()) return;
  const ReplicaAssignment& assigned = it->second->replica;
  if (assigned.master_address != source_address || assigned.master_slot != source_slot) return;
  RecordVerification(report, started, &it->second->record);
}

void CatchUpLoops::NoteFinalPull(const std::string& slot, const FinalPullOutcome& outcome) {
  absl::MutexLock lock(&mu_);
  auto it = loops_.find(slot);
  if (it == loops_.end()) return;
  RecordFinalPull(outcome, it->second->replica.master_slot, &it->second->record);
}

void CatchUpLoops::Run(Loop* loop) {
  {
    absl::MutexLock lock(&mu_);
    // A loop this one replaced may still be winding down: one loop writes
    // into a slot at a time.
    auto quiet = [this, loop]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
      return loop->stop || !StoppedLoopInLocked(loop->replica.slot);
    };
    mu_.Await(absl::Condition(&quiet));
  }
  CycleHooks hooks;
  hooks.take_repairs = [this, loop]() {
    std::vector<ScrubFinding> repairs;
    absl::MutexLock lock(&mu_);
    repairs.swap(loop->repairs);
    return repairs;
  };
  hooks.identity_pending = [this, loop]() {
    absl::MutexLock lock(&mu_);
    loop->record.identity_changed = true;
  };
  const CycleFn cycle = deps_.make_cycle(loop->replica, &loop->stop);
  while (!loop->stop) {
    const CycleOutcome outcome = cycle(hooks);
    const absl::Duration took = deps_.clock->Monotonic() - outcome.started;
    {
      absl::MutexLock lock(&mu_);
      RecordCycle(outcome, &loop->record);
      (outcome.sync.ok() ? totals_.cycles_ok : totals_.cycles_failed)++;
      totals_.bytes_received += outcome.bytes_received;
      totals_.files_copied += outcome.files_copied;
      totals_.seconds += absl::ToDoubleSeconds(took);
    }
    if (!AwaitNextCycle(loop, outcome.started + deps_.interval)) break;
  }
  absl::MutexLock lock(&mu_);
  loop->finished = true;
}

CatchUpTotals CatchUpLoops::Totals() {
  absl::MutexLock lock(&mu_);
  return totals_;
}

bool CatchUpLoops::AwaitNextCycle(Loop* loop, absl::Duration next) {
  // The time is the engine clock's; a stop is seen at once (it is set under
  // mu_), and the clock is looked at every 200 ms of real time.
  auto stopped = [loop]() { return loop->stop.load(); };
  absl::MutexLock lock(&mu_);
  while (deps_.clock->Monotonic() < next) {
    if (mu_.AwaitWithTimeout(absl::Condition(&stopped), absl::Milliseconds(200))) return false;
  }
  return !loop->stop;
}

}  // namespace slotkeeper::sync
