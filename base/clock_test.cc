#include "base/clock.h"

#include <gtest/gtest.h>

#include <thread>

namespace slotkeeper {
namespace {

TEST(FakeClockTest, AdvanceMovesWallAndMonotonicTogether) {
  FakeClock clock(absl::FromUnixSeconds(1000));
  EXPECT_EQ(clock.NowMs(), 1'000'000);
  EXPECT_EQ(clock.MonotonicMs(), 0);
  clock.Advance(absl::Seconds(5));
  EXPECT_EQ(clock.NowMs(), 1'005'000);
  EXPECT_EQ(clock.MonotonicMs(), 5'000);
}

TEST(FakeClockTest, WallOffsetSkewsOnlyTheWallClock) {
  FakeClock clock(absl::FromUnixSeconds(1000));
  clock.SetWallOffset(-absl::Hours(6));
  EXPECT_EQ(clock.Now(), absl::FromUnixSeconds(1000) - absl::Hours(6));
  EXPECT_EQ(clock.Monotonic(), absl::ZeroDuration());
}

TEST(FakeClockTest, SleepReturnsOnceAdvanced) {
  FakeClock clock;
  std::thread sleeper([&] { clock.SleepFor(absl::Seconds(3)); });
  clock.BlockUntilSleepers(1);
  clock.Advance(absl::Seconds(1));
  clock.Advance(absl::Seconds(2));
  sleeper.join();  // would hang if SleepFor ignored Advance
  EXPECT_EQ(clock.Monotonic(), absl::Seconds(3));
}

TEST(RealClockTest, MonotonicNeverGoesBack) {
  Clock* clock = RealClock();
  absl::Duration prev = clock->Monotonic();
  for (int i = 0; i < 1000; ++i) {
    absl::Duration now = clock->Monotonic();
    ASSERT_GE(now, prev);
    prev = now;
  }
}

}  // namespace
}  // namespace slotkeeper
