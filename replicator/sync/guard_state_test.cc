#include "replicator/sync/guard_state.h"

#include "gtest/gtest.h"
#include "replicator/sync/test_files.h"

namespace slotkeeper::sync {
namespace {

constexpr int64_t kMinute = 60'000;
constexpr int64_t kStart = 1'800'000'000'000;

GuardVerdict Judge(const GuardRecord& r, int64_t now, uint64_t removals, uint64_t before,
                   uint64_t after = 0, GuardOptions options = {}) {
  return JudgeRemovals(options, r, now, GuardInput{removals, before, after});
}

TEST(GuardTest, RewritingEveryMessageBlocks) {
  // 20 of 20 messages rewritten with garbage: 20 removals, the count unchanged.
  GuardVerdict v = Judge({}, kStart, 20, 20, 20);
  EXPECT_TRUE(v.blocked);
  EXPECT_NE(v.reason.find("20 message(s)"), std::string::npos) << v.reason;
}

TEST(GuardTest, SmallMailboxesAreProtectedByShare) {
  EXPECT_TRUE(Judge({}, kStart, 9, 11, 2).blocked);  // 11 -> 2
  EXPECT_TRUE(Judge({}, kStart, 2, 3, 1).blocked);   // 3 -> 1
  // One message is never a mass deletion, whatever the share.
  EXPECT_FALSE(Judge({}, kStart, 1, 2, 1).blocked);
  EXPECT_FALSE(Judge({}, kStart, 1, 1, 0).blocked);
  // Within the share.
  EXPECT_FALSE(Judge({}, kStart, 5, 100, 95).blocked);
  EXPECT_TRUE(Judge({}, kStart, 15, 100, 85).blocked);
  // No removals never block.
  EXPECT_FALSE(Judge({}, kStart, 0, 100, 0).blocked);
  GuardOptions lenient;
  lenient.min_removals_to_block = 10;
  EXPECT_FALSE(Judge({}, kStart, 9, 11, 2, lenient).blocked);
}

// 2% a minute for ten minutes: each step is small, their sum over the
// window is not.
TEST(GuardTest, SlowDeletionIsCaughtWithinTheWindow) {
  GuardOptions options;
  GuardRecord r;
  uint64_t messages = 100;
  int blocked_at = -1;
  for (int minute = 0; minute < 10; ++minute) {
    const int64_t now = kStart + minute * kMinute;
    const GuardInput step{2, messages, messages - 2};
    if (JudgeRemovals(options, r, now, step).blocked) {
      blocked_at = minute;
      break;
    }
    r = RecordSync(options, r, now, step);
    messages -= 2;
  }
  EXPECT_EQ(blocked_at, 5);  // the sixth step would bring the sum to 12 of 100
  EXPECT_EQ(HighWaterMark(options, r, kStart + 5 * kMinute), 100u);
}

TEST(GuardTest, RemovalsOutsideTheWindowNoLongerCount) {
  GuardOptions options;
  GuardRecord r = RecordSync(options, {}, kStart, GuardInput{9, 100, 91});
  EXPECT_TRUE(JudgeRemovals(options, r, kStart + kMinute, GuardInput{2, 91, 89}).blocked);
  const int64_t later = kStart + 26 * 60 * kMinute;
  EXPECT_FALSE(JudgeRemovals(options, r, later, GuardInput{2, 91, 89}).blocked);
  r = RecordSync(options, r, later, GuardInput{2, 91, 89});
  EXPECT_EQ(r.buckets_size(), 1);  // the old hour left the window
}

TEST(GuardStoreTest, BlockAndUnblockPersist) {
  std::unique_ptr<rocksdb::DB> db = OpenDb(Tmp() + "/guard_store.db");
  GuardStore store(db.get());
  EXPECT_TRUE(store.Unblock("s1", "alice").ok());  // not blocked: nothing to do
  EXPECT_FALSE(store.Get("s1", "alice").allow_once());
  ASSERT_TRUE(store
                  .Update("s1", "alice", true,
                          [](GuardRecord* r) {
                            r->set_blocked(true);
                            r->set_blocked_reason("why");
                          })
                  .ok());
  std::map<std::string, std::string> blocked = store.Blocked("s1");
  ASSERT_EQ(blocked.size(), 1u);
  EXPECT_EQ(blocked["alice"], "why");
  EXPECT_TRUE(store.Blocked("s2").empty());
  ASSERT_TRUE(store.Unblock("s1", "alice").ok());
  EXPECT_TRUE(store.Get("s1", "alice").allow_once());
  ASSERT_TRUE(store.Clear("s1").ok());
  EXPECT_TRUE(store.Blocked("s1").empty());
}

}  // namespace
}  // namespace slotkeeper::sync
