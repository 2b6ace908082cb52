// Follows replica slots with inotify and remembers when each Maildir key
// first appeared in a user's INBOX (users/<user>/new or cur, created or
// renamed into), for the replication-lag benchmark (lag_bench.cc).
//
// Times are CLOCK_REALTIME in ns when the event was read, comparable with
// mailgen's delivery log on the same machine. Only directories that exist
// when watching starts are followed; ScanReplicaSlots finds what the events
// missed. Owns its inotify descriptor and reader thread. FirstSeen, AllSeen
// and overflowed are thread-safe.
#ifndef SLOTKEEPER_TESTS_E2E_REPLICA_WATCHER_H_
#define SLOTKEEPER_TESTS_E2E_REPLICA_WATCHER_H_

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"

namespace slotkeeper::testing {

class ReplicaWatcher {
 public:
  // Watches users/*/new and users/*/cur of every slot directory; the error
  // names a directory that could not be watched (e.g. the kernel's
  // max_user_watches).
  static absl::StatusOr<std::unique_ptr<ReplicaWatcher>> Start(
      const std::vector<std::string>& slots);
  ~ReplicaWatcher();
  ReplicaWatcher(const ReplicaWatcher&) = delete;
  ReplicaWatcher& operator=(const ReplicaWatcher&) = delete;

  // The first time each SightingKey(slot, user, key) was seen.
  absl::flat_hash_map<std::string, int64_t> FirstSeen() const;
  // True when every one of `keys` (SightingKey) has been seen.
  bool AllSeen(const std::vector<std::string>& keys) const;
  // The kernel dropped events (its queue overflowed): some sightings lack.
  bool overflowed() const;
  size_t watched_directories() const { return dirs_.size(); }

 private:
  ReplicaWatcher(int inotify_fd, int stop_fd) : fd_(inotify_fd), stop_fd_(stop_fd) {}
  void Run();
  void Record(const char* buffer, ssize_t length, int64_t now_ns);

  const int fd_;
  const int stop_fd_;  // an eventfd; written to stop the reader
  std::map<int, std::pair<std::string, std::string>> dirs_;  // wd -> (slot, user); set before Run
  std::thread reader_;
  mutable absl::Mutex mu_;
  absl::flat_hash_map<std::string, int64_t> first_seen_ ABSL_GUARDED_BY(mu_);
  bool overflow_ ABSL_GUARDED_BY(mu_) = false;
};

// SightingKey of every message under users/*/new and users/*/cur of the
// slots, read from disk now.
absl::flat_hash_set<std::string> ScanReplicaSlots(const std::vector<std::string>& slots);

}  // namespace slotkeeper::testing

#endif  // SLOTKEEPER_TESTS_E2E_REPLICA_WATCHER_H_
