#include "replicator/sync/change_follower.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "base/grpc_util.h"
#include "base/log.h"
#include "replicator/sync/call_queue.h"
#include "replicator/sync/paths.h"

namespace slotkeeper::sync {
namespace {

void* const kTag = reinterpret_cast<void*>(1);

}  // namespace

ChangeFollower::ChangeFollower(std::unique_ptr<v1::ReplicaPeer::StubInterface> stub,
                               std::string master_slot, std::string store, Clock* clock,
                               const std::atomic<bool>* stop, std::function<void()> wake,
                               FollowerOptions options)
    : stub_(std::move(stub)),
      master_slot_(std::move(master_slot)),
      store_(std::move(store)),
      clock_(clock),
      stop_(stop),
      wake_(std::move(wake)),
      options_(options) {
  thread_ = std::thread([this] { Run(); });
}

ChangeFollower::~ChangeFollower() {
  own_stop_ = true;
  thread_.join();
}

void ChangeFollower::Run() {
  absl::Duration pause = options_.retry_min;
  while (!Stopped()) {
    const absl::Status ended = Follow();
    if (Stopped()) break;
    Lost(ended);
    const bool refused = absl::IsFailedPrecondition(ended) || absl::IsUnimplemented(ended);
    bool was_up;
    {
      absl::MutexLock lock(&mu_);
      was_up = last_notice_.has_value();
      last_notice_.reset();
    }
    pause = refused ? options_.refused_retry
                    : (was_up ? options_.retry_min : std::min(pause * 2, options_.retry_max));
    // Real time, in slices, so that a stop is seen within 100 ms.
    for (absl::Duration waited; waited < pause && !Stopped(); waited += absl::Milliseconds(100)) {
      absl::SleepFor(absl::Milliseconds(100));
    }
  }
}

absl::Status ChangeFollower::Follow() {
  v1::WatchChangesRequest request;
  request.set_slot(master_slot_);
  request.set_store(store_);
  request.set_heartbeat_ms(static_cast<uint32_t>(absl::ToInt64Milliseconds(options_.heartbeat)));
  grpc::ClientContext call;
  CallQueue queue(&call, stop_, &own_stop_);
  auto reader = stub_->PrepareAsyncWatchChanges(&call, request, queue.cq());
  bool ok = false;
  reader->StartCall(kTag);
  CallQueue::Wait wait = queue.Await(options_.heartbeat * 3, &ok);
  v1::ChangeNotice notice;
  absl::Status refused;
  while (wait == CallQueue::Wait::kDone && ok) {
    reader->Read(&notice, kTag);
    // A silent master (three heartbeats) is as good as gone.
    wait = queue.Await(options_.heartbeat * 3, &ok);
    if (wait != CallQueue::Wait::kDone || !ok) break;
    refused = Validate(notice);
    if (!refused.ok()) {
      queue.CancelCall();
      break;
    }
    Apply(notice, clock_->Monotonic());
  }
  grpc::Status status;
  reader->Finish(&status, kTag);
  queue.Await(absl::InfiniteDuration(), &ok);
  if (!refused.ok()) return refused;
  if (wait == CallQueue::Wait::kCancelled) return absl::OkStatus();
  if (wait == CallQueue::Wait::kTimedOut) {
    return absl::DeadlineExceededError(
        absl::StrCat("no change notice for ", absl::FormatDuration(options_.heartbeat * 3)));
  }
  absl::Status s = FromGrpcStatus(status);
  return s.ok() ? absl::UnavailableError("the master ended the change feed") : s;
}

absl::Status ChangeFollower::Validate(const v1::ChangeNotice& notice) const {
  const PeerLimits& limits = options_.limits;
  if (notice.instance_id().empty() || notice.instance_id().size() > limits.max_string_bytes) {
    return absl::InvalidArgumentError("change notice refused: bad instance id");
  }
  if (static_cast<size_t>(notice.users_size()) > limits.max_users) {
    return absl::InvalidArgumentError(absl::StrCat("change notice refused: ", notice.users_size(),
                                                   " users, more than ", limits.max_users));
  }
  for (const v1::ChangedUser& u : notice.users()) {
    if (absl::Status s = ValidateUserName(u.user()); !s.ok()) {
      return absl::InvalidArgumentError(absl::StrCat("change notice refused: ", s.message()));
    }
  }
  return absl::OkStatus();
}

void ChangeFollower::Apply(const v1::ChangeNotice& notice, absl::Duration arrived) {
  bool woke = false;
  {
    absl::MutexLock lock(&mu_);
    if (notice.complete() || notice.instance_id() != instance_id_) {
      // A new base: whatever this stream owes is in this notice.
      instance_id_ = notice.instance_id();
      pending_.clear();
      base_.clear();
      base_open_ = true;
    }
    for (const v1::ChangedUser& u : notice.users()) {
      // The change's date on this host's clock: its age at the source when
      // the notice was made, before the notice's arrival (never after it).
      const int64_t age_ms =
          u.changed_ms() > 0 ? std::max<int64_t>(0, notice.source_time_ms() - u.changed_ms()) : 0;
      const absl::Duration changed = arrived - absl::Milliseconds(age_ms);
      auto [it, added] = pending_.try_emplace(u.user());
      Pending& p = it->second;
      if (added) {
        p.first_change = changed;
        p.announced = arrived;
      }
      p.generation = std::max(p.generation, u.generation());
      p.latest_change = changed;
      if (notice.complete()) base_.insert(u.user());
    }
    if (notice.complete() && notice.users_size() == 0) base_open_ = false;
    last_notice_ = arrived;
    if (!up_) LogInfo("sync", absl::StrCat("change feed of ", master_slot_, " is up"));
    up_ = true;
    last_error_.clear();
    woke = notice.users_size() > 0;
  }
  if (woke && wake_) wake_();
}

void ChangeFollower::Lost(const absl::Status& why) {
  absl::MutexLock lock(&mu_);
  if (up_) {
    LogWarning("sync", absl::StrCat("change feed of ", master_slot_, " lost: ", why.message(),
                                    "; catching up by polling until it is back"));
  }
  up_ = false;
  last_error_ = std::string(why.message());
}

std::optional<v1::ListUsersResponse> ChangeFollower::TakeBatch(size_t max_users) {
  absl::MutexLock lock(&mu_);
  if (pending_.size() > max_users) return std::nullopt;
  v1::ListUsersResponse batch;
  batch.set_slot(master_slot_);
  batch.set_store(store_);
  batch.set_instance_id(instance_id_);
  for (const auto& [user, p] : pending_) {
    v1::UserSummary* u = batch.add_users();
    u->set_user(user);
    u->set_generation(p.generation);
  }
  return batch;
}

void ChangeFollower::Synced(const v1::ListUsersResponse& synced,
                            const std::set<std::string>& not_synced) {
  absl::MutexLock lock(&mu_);
  if (synced.instance_id() != instance_id_) return;
  for (const v1::UserSummary& u : synced.users()) {
    if (not_synced.count(u.user())) continue;
    auto it = pending_.find(u.user());
    if (it != pending_.end()) {
      if (it->second.generation <= u.generation()) {
        pending_.erase(it);
      } else {
        // A newer change was announced meanwhile: it is what is owed now.
        it->second.first_change = it->second.latest_change;
      }
    }
    base_.erase(u.user());
  }
  if (base_.empty()) base_open_ = false;
}

FollowerView ChangeFollower::View(absl::Duration now) {
  absl::MutexLock lock(&mu_);
  FollowerView v;
  v.live = up_ && last_notice_.has_value() && now - *last_notice_ <= options_.heartbeat * 3;
  v.pending = pending_.size();
  v.last_error = last_error_;
  for (const auto& [user, p] : pending_) {
    if (!v.oldest_pending || p.first_change < *v.oldest_pending) v.oldest_pending = p.first_change;
  }
  if (v.live && !base_open_) {
    // Everything announced before the oldest pending notice is durable.
    std::optional<absl::Duration> to = last_notice_;
    for (const auto& [user, p] : pending_) to = std::min(*to, p.announced);
    v.caught_up_to = to;
  }
  return v;
}

}  // namespace slotkeeper::sync
