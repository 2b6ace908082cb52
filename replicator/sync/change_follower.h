// ChangeFollower: the replica's side of push replication for one replica
// slot. A thread of its own holds a WatchChanges stream (change_feed.h) to
// the slot's master and keeps the users it announced and this replica has
// not yet made durable ("pending"); the slot's catch-up loop syncs them
// (TakeBatch, Synced) as soon as it is woken.
//
// Times: a notice says when the source made it (source_time_ms) and when it
// saw each user's change (changed_ms), both on the source's clock; their
// difference, subtracted from the moment the notice arrived here (engine
// monotonic clock), dates the change on this host's clock. No clock offset
// enters, so a skewed master cannot make a replica look fresher or staler
// than it is (the stream's transit, sub-millisecond on a LAN, is the error).
//
// What it claims (View):
//   - live: a notice arrived within three heartbeats;
//   - caught_up_to: every change the master announced before this moment is
//     durable here. Unset until every user of the stream's first notice
//     (the slot's whole listing) has been synced, and again after every
//     reconnection (notices may have been missed meanwhile);
//   - oldest_pending: when the oldest announced, not yet durable change was
//     seen at the source (on this host's clock): the replica's lag is the
//     time since then.
// A user whose sync fails stays pending with its first change's date, so
// the lag keeps growing until it is synced.
//
// Validation: every notice is checked before anything in it is used (user
// names by the cluster's rule, at most PeerLimits::max_users users, the
// instance id's length); a bad one ends the stream, which is opened again
// after a pause.
//
// Thread-safe. The wake callback is called with no lock held.
#ifndef SLOTKEEPER_REPLICATOR_SYNC_CHANGE_FOLLOWER_H_
#define SLOTKEEPER_REPLICATOR_SYNC_CHANGE_FOLLOWER_H_

#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "base/clock.h"
#include "proto/peer.grpc.pb.h"
#include "replicator/sync/peer_client.h"

namespace slotkeeper::sync {

struct FollowerOptions {
  absl::Duration heartbeat = absl::Seconds(1);
  // Pauses between attempts to open the stream: from `retry_min`, doubling
  // to `retry_max`; a master that refuses a feed (FAILED_PRECONDITION,
  // UNIMPLEMENTED) is asked again after `refused_retry`.
  absl::Duration retry_min = absl::Milliseconds(200);
  absl::Duration retry_max = absl::Seconds(5);
  absl::Duration refused_retry = absl::Seconds(60);
  PeerLimits limits;
};

struct FollowerView {
  bool live = false;
  std::optional<absl::Duration> caught_up_to;    // engine monotonic
  std::optional<absl::Duration> oldest_pending;  // engine monotonic
  size_t pending = 0;
  std::string last_error;  // why the stream is not up, when it is not
};

class ChangeFollower {
 public:
  // Follows `store` on `master_slot` through `stub`. `wake` is called when
  // users become pending.
  // The thread starts at once and ends once `*stop` is set (within about
  // 100 ms) or the follower is destroyed.
  ChangeFollower(std::unique_ptr<v1::ReplicaPeer::StubInterface> stub, std::string master_slot,
                 std::string store, Clock* clock, const std::atomic<bool>* stop,
                 std::function<void()> wake, FollowerOptions options = FollowerOptions());
  ~ChangeFollower();
  ChangeFollower(const ChangeFollower&) = delete;
  ChangeFollower& operator=(const ChangeFollower&) = delete;

  // The pending users as a listing to sync (SyncStore's given listing), at
  // most `max_users` of them (none: a listing without users, which still
  // names the instance); nullopt when more than `max_users` are pending (a
  // whole catch-up is then cheaper: the caller runs one and hands its
  // listing to Synced).
  std::optional<v1::ListUsersResponse> TakeBatch(size_t max_users) ABSL_LOCKS_EXCLUDED(mu_);
  // The users of `synced` (a batch from TakeBatch, or a whole catch-up's
  // listing) are durable here at the listed generations, except those in
  // `not_synced`. A listing of another source instance changes nothing.
  void Synced(const v1::ListUsersResponse& synced, const std::set<std::string>& not_synced)
      ABSL_LOCKS_EXCLUDED(mu_);
  FollowerView View(absl::Duration now) ABSL_LOCKS_EXCLUDED(mu_);

 private:
  struct Pending {
    uint64_t generation = 0;
    absl::Duration first_change;   // of the oldest change not durable here
    absl::Duration latest_change;  // of the newest announced
    absl::Duration announced;      // when its oldest pending notice arrived
  };
  void Run();
  // One stream, until it ends; its error (OK when stopped).
  absl::Status Follow();
  absl::Status Validate(const v1::ChangeNotice& notice) const;
  void Apply(const v1::ChangeNotice& notice, absl::Duration arrived) ABSL_LOCKS_EXCLUDED(mu_);
  void Lost(const absl::Status& why) ABSL_LOCKS_EXCLUDED(mu_);
  bool Stopped() const { return stop_->load() || own_stop_.load(); }

  const std::unique_ptr<v1::ReplicaPeer::StubInterface> stub_;
  const std::string master_slot_;
  const std::string store_;
  Clock* const clock_;
  const std::atomic<bool>* const stop_;
  const std::function<void()> wake_;
  const FollowerOptions options_;
  std::atomic<bool> own_stop_{false};

  absl::Mutex mu_;
  std::string instance_id_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, Pending> pending_ ABSL_GUARDED_BY(mu_);
  // Users of the stream's first notice not yet synced; the base is synced
  // once it is empty (base_open_ false).
  std::set<std::string> base_ ABSL_GUARDED_BY(mu_);
  bool base_open_ ABSL_GUARDED_BY(mu_) = true;
  std::optional<absl::Duration> last_notice_ ABSL_GUARDED_BY(mu_);
  std::string last_error_ ABSL_GUARDED_BY(mu_) = "no feed yet";
  bool up_ ABSL_GUARDED_BY(mu_) = false;
  std::thread thread_;
};

}  // namespace slotkeeper::sync

#endif  // SLOTKEEPER_REPLICATOR_SYNC_CHANGE_FOLLOWER_H_
