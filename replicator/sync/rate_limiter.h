// TokenBucket: the replica's bandwidth limit on bytes received, so that a
// re-replication leaves room for live traffic. Time comes from the injected
// Clock (a FakeClock in tests).
//
// Thread-safe: every fetch stream of a store sync takes from one bucket.
#ifndef SLOTKEEPER_REPLICATOR_SYNC_RATE_LIMITER_H_
#define SLOTKEEPER_REPLICATOR_SYNC_RATE_LIMITER_H_

#include <cstdint>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "base/clock.h"

namespace slotkeeper::sync {

class TokenBucket {
 public:
  // `bytes_per_second` 0 means unlimited: Acquire never waits. The bucket
  // starts full with `burst_bytes` (at least 1). `clock` is not owned and
  // must outlive the bucket.
  TokenBucket(uint64_t bytes_per_second, uint64_t burst_bytes, Clock* clock);
  // Takes `n` tokens, sleeping on the clock while the bucket is short. A
  // request larger than the burst goes through once the bucket is full and
  // drives it negative, so the average rate still holds.
  void Acquire(uint64_t n);

 private:
  const double rate_;
  const double burst_;
  Clock* const clock_;
  absl::Mutex mu_;
  double tokens_ ABSL_GUARDED_BY(mu_);
  absl::Duration last_ ABSL_GUARDED_BY(mu_);
};

}  // namespace slotkeeper::sync

#endif  // SLOTKEEPER_REPLICATOR_SYNC_RATE_LIMITER_H_
