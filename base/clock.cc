#include "base/clock.h"

#include <time.h>

namespace slotkeeper {
namespace {

class SystemClock : public Clock {
 public:
  absl::Time Now() const override { return absl::Now(); }
  absl::Duration Monotonic() const override {
    timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return absl::DurationFromTimespec(ts);
  }
  void SleepFor(absl::Duration d) override { absl::SleepFor(d); }
};

}  // namespace

Clock* RealClock() {
  static SystemClock* const clock = new SystemClock();
  return clock;
}

FakeClock::FakeClock(absl::Time start)
    : start_(start), monotonic_(absl::ZeroDuration()), wall_offset_(absl::ZeroDuration()) {}

absl::Time FakeClock::Now() const {
  absl::MutexLock lock(&mu_);
  return start_ + monotonic_ + wall_offset_;
}

absl::Duration FakeClock::Monotonic() const {
  absl::MutexLock lock(&mu_);
  return monotonic_;
}

void FakeClock::SleepFor(absl::Duration d) {
  absl::MutexLock lock(&mu_);
  const absl::Duration until = monotonic_ + d;
  auto reached = [this, until]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return monotonic_ >= until; };
  ++sleepers_;
  mu_.Await(absl::Condition(&reached));
  --sleepers_;
}

void FakeClock::BlockUntilSleepers(int n) const {
  absl::MutexLock lock(&mu_);
  auto enough = [this, n]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return sleepers_ >= n; };
  mu_.Await(absl::Condition(&enough));
}

void FakeClock::Advance(absl::Duration d) {
  absl::MutexLock lock(&mu_);
  monotonic_ += d;
}

void FakeClock::SetWallOffset(absl::Duration offset) {
  absl::MutexLock lock(&mu_);
  wall_offset_ = offset;
}

}  // namespace slotkeeper
