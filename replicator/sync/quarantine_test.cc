#include "replicator/sync/quarantine.h"

#include <string>

#include "base/clock.h"
#include "gtest/gtest.h"
#include "replicator/sync/sync_test_util.h"

namespace slotkeeper::sync {
namespace {

TEST(QuarantineTest, TempPrefixOnlyExemptsTheLeftoverItself) {
  FakeClock clock;
  const std::string root_dir = Tmp() + "/quarantine_paths";
  MkdirP(root_dir + "/users/alice/cur");
  absl::StatusOr<Fd> root = OpenRootDir(root_dir);
  ASSERT_TRUE(root.ok());
  for (const char* bad : {"../bob/.slotsync-1-1", ".slotsync-1-1/x", "cur/.slotsync-", "/abs"}) {
    EXPECT_TRUE(absl::IsInvalidArgument(
        QuarantineFile(root->get(), "alice", bad, &clock, DefaultTargetFs())))
        << bad;
  }
}

TEST_F(SyncTest, QuarantinePurgeKeepsRecentDays) {
  WriteFile(target_ + "/users/alice/cur/1", "x");
  ASSERT_TRUE(
      QuarantineFile(target_root_.get(), "alice", "cur/1", &clock_, DefaultTargetFs()).ok());
  clock_.Advance(absl::Hours(24 * 3));
  absl::StatusOr<int> purged = PurgeQuarantine(target_root_.get(), 7, &clock_);
  ASSERT_TRUE(purged.ok());
  EXPECT_EQ(*purged, 0);
  clock_.Advance(absl::Hours(24 * 5));
  purged = PurgeQuarantine(target_root_.get(), 7, &clock_);
  ASSERT_TRUE(purged.ok()) << purged.status();
  EXPECT_EQ(*purged, 1);
}

}  // namespace
}  // namespace slotkeeper::sync
