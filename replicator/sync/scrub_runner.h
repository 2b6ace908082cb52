// The engine's background scrub (scrub.h): one thread going over the
// host's slots in turn, a pass over a slot at most every `pass_interval`
// (engine wall clock, counted from the last complete pass, so a restart
// does not start every pass again), all passes sharing one rate limit of
// `bytes_per_second`, so the scrub costs the disks a bounded share whatever
// the number of slots.
//
// What a pass finds is counted in the slot's record (SlotRecord scrub
// fields: found, repaired, the newest corrupt files) and logged as an
// error naming the file; on a replica each finding is also handed to
// `on_corrupt` (the engine moves the file to the quarantine and fetches it
// again from the master at its next catch-up). Status() gives the
// ScrubStatus of a slot for the health report.
//
// Thread-safety: every method may be called from any thread.
#ifndef SLOTKEEPER_REPLICATOR_SYNC_SCRUB_RUNNER_H_
#define SLOTKEEPER_REPLICATOR_SYNC_SCRUB_RUNNER_H_

#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "base/clock.h"
#include "proto/agent.pb.h"
#include "replicator/sync/scrub.h"
#include "replicator/sync/slot_records.h"

namespace slotkeeper::sync {

struct ScrubRunnerOptions {
  bool enabled = true;
  uint64_t bytes_per_second = 8ull << 20;  // 0: unlimited
  absl::Duration pass_interval = absl::Hours(24);
};

// One slot as the scrub sees it now.
struct ScrubTarget {
  std::string slot;
  std::shared_ptr<const Fd> root;
  bool replica = false;
  // A replica's master: its files are compared with the master's manifest.
  std::string master_address;
  std::string master_slot;
};

// What the runner works with. Nothing is owned; all must outlive it.
struct ScrubRunnerDeps {
  SlotRecords* records = nullptr;
  HashCache* cache = nullptr;
  CheckpointStore* checkpoints = nullptr;
  Clock* clock = nullptr;
  PeerTimeouts peer;
  // The slots to scrub now (called at the start of every round).
  std::function<std::vector<ScrubTarget>()> targets;
  // A channel to a master (shared with the engine's).
  std::function<std::shared_ptr<grpc::Channel>(const std::string& address)> channel_to;
  // A corrupt file on a replica, to be repaired.
  std::function<void(const std::string& slot, const ScrubFinding& finding)> on_corrupt;
};

class ScrubRunner {
 public:
  ScrubRunner(ScrubRunnerDeps deps, ScrubRunnerOptions options);
  ~ScrubRunner();  // Stop()

  void Start();
  // Ends the pass in progress (at its next file) and the thread.
  void Stop();
  // Ends the pass in progress on `slot`, if any, and its call to a master
  // (the slot is released or changes role); the next pass starts when due.
  void CancelPass(const std::string& slot);
  // One pass over `target` on the caller's thread (tests, and the thread).
  absl::Status RunPass(const ScrubTarget& target);
  // The slot's scrub figures now.
  v1::ScrubStatus Status(const std::string& slot);
  // A finding on `slot` was repaired (its file fetched again).
  void NoteRepaired(const std::string& slot, uint64_t files);

 private:
  // The pass now running on a slot.
  struct Pass {
    std::atomic<uint64_t> bytes_verified{0};
    uint64_t bytes_total = 0;
    std::atomic<bool> cancelled{false};  // by Stop or CancelPass
  };
  void Loop();
  bool Due(const std::string& slot);
  void NoteFinding(const ScrubTarget& target, const ScrubFinding& finding);

  const ScrubRunnerDeps deps_;
  const ScrubRunnerOptions options_;
  TokenBucket bucket_;
  std::atomic<bool> stop_{false};
  std::thread thread_;
  absl::Mutex mu_;
  std::map<std::string, std::shared_ptr<Pass>> passes_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, absl::Duration> retry_after_ ABSL_GUARDED_BY(mu_);  // failed passes
};

}  // namespace slotkeeper::sync

#endif  // SLOTKEEPER_REPLICATOR_SYNC_SCRUB_RUNNER_H_
