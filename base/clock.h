// The clock seam: core code never reads the system clock directly.
//
// Production code takes a `Clock*` (not owned; it must outlive its users) and
// gets `RealClock()`. Tests pass a `FakeClock` and move time by hand, so that
// timing logic (grace periods, leases, backoff) is tested instantly.
#ifndef SLOTKEEPER_BASE_CLOCK_H_
#define SLOTKEEPER_BASE_CLOCK_H_

#include <cstdint>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

namespace slotkeeper {

// Thread-safe in every implementation.
class Clock {
 public:
  virtual ~Clock() = default;

  // Wall-clock time. It can jump (NTP, an operator setting the date): use it
  // for timestamps shown to people and exchanged between hosts.
  virtual absl::Time Now() const = 0;

  // Time since an arbitrary origin that never goes back: use it for
  // deadlines, leases and intervals measured within one process.
  virtual absl::Duration Monotonic() const = 0;

  // Blocks the caller for `d` of this clock's time. A FakeClock returns once
  // another thread has advanced it far enough.
  virtual void SleepFor(absl::Duration d) = 0;

  int64_t NowMs() const { return absl::ToUnixMillis(Now()); }
  int64_t MonotonicMs() const { return absl::ToInt64Milliseconds(Monotonic()); }
};

// The process-wide real clock. Never null; never deleted.
Clock* RealClock();

// A clock moved by hand. Wall and monotonic time advance together with
// Advance(); SetWallOffset() skews the wall clock alone, as an operator
// setting the date does.
class FakeClock : public Clock {
 public:
  // Starts at `start` (wall) and monotonic zero.
  explicit FakeClock(absl::Time start = absl::FromUnixSeconds(1'800'000'000));

  absl::Time Now() const override;
  absl::Duration Monotonic() const override;
  void SleepFor(absl::Duration d) override;

  void Advance(absl::Duration d);
  // Blocks until at least `n` threads are inside SleepFor (so that a test's
  // Advance() cannot race ahead of the sleeper it means to wake).
  void BlockUntilSleepers(int n) const;
  // Wall time becomes start + monotonic + offset.
  void SetWallOffset(absl::Duration offset);

 private:
  mutable absl::Mutex mu_;
  const absl::Time start_;
  absl::Duration monotonic_ ABSL_GUARDED_BY(mu_);
  absl::Duration wall_offset_ ABSL_GUARDED_BY(mu_);
  int sleepers_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace slotkeeper

#endif  // SLOTKEEPER_BASE_CLOCK_H_
