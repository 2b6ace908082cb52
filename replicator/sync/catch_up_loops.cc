#include "replicator/sync/catch_up_loops.h"

#include <set>

#include "absl/strings/str_cat.h"
#include "base/log.h"

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
  for (const auto& [slot, loop] : loops_) out.push_back({loop->replica, RecordOf(*loop)});
  return out;
}

void CatchUpLoops::AddRepair(const std::string& slot, const ScrubFinding& finding) {
  absl::MutexLock lock(&mu_);
  auto it = loops_.find(slot);
  if (it == loops_.end()) return;
  it->second->repairs.push_back(finding);
  it->second->wake = true;  // a push loop runs a whole cycle for them now
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
  std::unique_ptr<ChangeFollower> follower;
  if (deps_.make_follower) {
    follower = deps_.make_follower(loop->replica, &loop->stop, [this, loop]() {
      absl::MutexLock lock(&mu_);
      loop->wake = true;
    });
  }
  {
    absl::MutexLock lock(&mu_);
    loop->follower = follower.get();
  }
  absl::Duration next_full = deps_.clock->Monotonic();
  while (!loop->stop) {
    const absl::Duration started = deps_.clock->Monotonic();
    next_full = RunCycle(loop, cycle, hooks, follower.get(), next_full);
    if (!AwaitNextCycle(loop, std::min(next_full, started + deps_.interval))) break;
  }
  {
    absl::MutexLock lock(&mu_);
    loop->follower = nullptr;
  }
  follower.reset();  // its thread ends at once: the loop's stop flag is set
  absl::MutexLock lock(&mu_);
  loop->finished = true;
}

absl::Duration CatchUpLoops::RunCycle(Loop* loop, const CycleFn& cycle, const CycleHooks& hooks,
                                      ChangeFollower* follower, absl::Duration next_full) {
  const absl::Duration now = deps_.clock->Monotonic();
  const bool live = follower != nullptr && follower->View(now).live;
  std::optional<v1::ListUsersResponse> batch;
  if (live && now < next_full) batch = follower->TakeBatch(deps_.max_push_users);
  {
    absl::MutexLock lock(&mu_);
    loop->wake = false;  // what is pending now is in this cycle
  }
  const CycleOutcome outcome = cycle(hooks, batch ? &*batch : nullptr);
  if (follower != nullptr && outcome.sync.ok()) {
    const std::set<std::string> blocked(outcome.blocked_users.begin(), outcome.blocked_users.end());
    follower->Synced(outcome.synced, blocked);
  }
  const absl::Duration took = deps_.clock->Monotonic() - outcome.started;
  const bool pushed = batch.has_value() && !outcome.full;
  const bool pushed_users = pushed && batch->users_size() > 0;
  std::string feed = "poll";
  if (live) feed = pushed || follower->View(now).pending <= deps_.max_push_users ? "push" : "batch";
  absl::MutexLock lock(&mu_);
  RecordCycle(outcome, &loop->record);
  if (loop->record.feed != feed) {
    LogInfo("sync", absl::StrCat("replica slot ", loop->replica.slot, " follows ",
                                 loop->replica.master_slot, " by ", feed,
                                 feed == "batch" ? " (too many changes pending: whole catch-ups "
                                                   "until it is caught up)"
                                                 : ""));
  }
  loop->record.feed = feed;
  (outcome.sync.ok() ? totals_.cycles_ok : totals_.cycles_failed)++;
  totals_.bytes_received += outcome.bytes_received;
  totals_.files_copied += outcome.files_copied;
  totals_.seconds += absl::ToDoubleSeconds(took);
  if (pushed) {
    if (pushed_users) totals_.push_cycles++;
    // A failed push cycle leaves its users pending: they are tried again
    // after the polling interval, not the safety net's.
    return outcome.sync.ok() ? next_full : std::min(next_full, outcome.started + deps_.interval);
  }
  return outcome.started + (live ? deps_.safety_net_interval : deps_.interval);
}

CatchUpRecord CatchUpLoops::RecordOf(const Loop& loop) const {
  CatchUpRecord record = loop.record;
  if (loop.follower != nullptr) {
    const FollowerView view = loop.follower->View(deps_.clock->Monotonic());
    record.feed_live = view.live;
    record.feed_caught_up_to = view.caught_up_to;
    record.feed_oldest_pending = view.oldest_pending;
    if (!view.live) record.feed = "poll";
  }
  return record;
}

CatchUpTotals CatchUpLoops::Totals() {
  absl::MutexLock lock(&mu_);
  return totals_;
}

bool CatchUpLoops::AwaitNextCycle(Loop* loop, absl::Duration next) {
  // The time is the engine clock's; a stop or a wake is seen at once (both
  // are set under mu_), and the clock is looked at every 200 ms of real
  // time.
  auto woken = [loop]() { return loop->stop.load() || loop->wake; };
  absl::MutexLock lock(&mu_);
  while (deps_.clock->Monotonic() < next) {
    if (mu_.AwaitWithTimeout(absl::Condition(&woken), absl::Milliseconds(200))) break;
  }
  return !loop->stop;
}

}  // namespace slotkeeper::sync
