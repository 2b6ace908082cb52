#include "replicator/sync/rate_limiter.h"

#include <atomic>
#include <thread>

#include "base/clock.h"
#include "gtest/gtest.h"

namespace slotkeeper::sync {
namespace {

TEST(TokenBucketTest, HoldsTheRateOnTheClock) {
  FakeClock clock;
  TokenBucket bucket(/*bytes_per_second=*/1000, /*burst_bytes=*/1000, &clock);
  bucket.Acquire(1000);  // the burst goes through at once
  std::atomic<bool> done{false};
  std::thread taker([&] {
    bucket.Acquire(500);  // needs half a second of tokens
    done = true;
  });
  clock.BlockUntilSleepers(1);
  clock.Advance(absl::Milliseconds(499));
  clock.BlockUntilSleepers(1);  // still waiting
  EXPECT_FALSE(done);
  clock.Advance(absl::Milliseconds(1));
  taker.join();
  EXPECT_TRUE(done);
  // No limit: never waits (a sleep would block this test forever).
  TokenBucket unlimited(0, 0, &clock);
  unlimited.Acquire(1 << 30);
}

}  // namespace
}  // namespace slotkeeper::sync
