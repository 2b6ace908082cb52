#include "replicator/sync/rate_limiter.h"

#include <algorithm>

namespace slotkeeper::sync {

TokenBucket::TokenBucket(uint64_t bytes_per_second, uint64_t burst_bytes, Clock* clock)
    : rate_(static_cast<double>(bytes_per_second)),
      burst_(static_cast<double>(std::max<uint64_t>(burst_bytes, 1))),
      clock_(clock),
      tokens_(burst_),
      last_(clock->Monotonic()) {}

void TokenBucket::Acquire(uint64_t n) {
  if (rate_ <= 0) return;
  double need = static_cast<double>(n);
  for (;;) {
    absl::Duration wait;
    {
      absl::MutexLock lock(&mu_);
      absl::Duration now = clock_->Monotonic();
      tokens_ = std::min(burst_, tokens_ + absl::ToDoubleSeconds(now - last_) * rate_);
      last_ = now;
      if (tokens_ >= std::min(need, burst_)) {
        tokens_ -= need;
        return;
      }
      wait = absl::Seconds((std::min(need, burst_) - tokens_) / rate_);
    }
    clock_->SleepFor(wait);
  }
}

}  // namespace slotkeeper::sync
