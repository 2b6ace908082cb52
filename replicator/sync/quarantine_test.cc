#include "replicator/sync/quarantine.h"

#include <sys/stat.h>

#include <string>
#include <vector>

#include "base/clock.h"
#include "gtest/gtest.h"
#include "replicator/sync/quarantine_purge.h"
#include "replicator/sync/sync_test_util.h"

namespace slotkeeper::sync {
namespace {

class QuarantineTest : public SyncTest {
 protected:
  void SetUp() override {
    SyncTest::SetUp();
    index_ = std::make_unique<QuarantineIndex>(target_db_.get());
    q_ = std::make_unique<SlotQuarantine>(target_root_.get(), "t1", &clock_, DefaultTargetFs(),
                                          index_.get());
  }
  std::vector<v1::QuarantineItem> Items() {
    std::vector<v1::QuarantineItem> out;
    index_->ForEach("t1", "", [&](const QuarantineRecord& r) {
      out.push_back(r.item());
      return true;
    });
    return out;
  }
  std::string Day() { return QuarantineDay(clock_.Now()); }

  std::unique_ptr<QuarantineIndex> index_;
  std::unique_ptr<SlotQuarantine> q_;
};

TEST(QuarantinePathsTest, TempPrefixOnlyExemptsTheLeftoverItself) {
  FakeClock clock;
  const std::string root_dir = Tmp() + "/quarantine_paths";
  MkdirP(root_dir + "/users/alice/cur");
  absl::StatusOr<Fd> root = OpenRootDir(root_dir);
  ASSERT_TRUE(root.ok());
  const SlotQuarantine q(root->get(), "s", &clock, DefaultTargetFs(), nullptr);
  for (const char* bad : {"../bob/.slotsync-1-1", ".slotsync-1-1/x", "cur/.slotsync-", "/abs"}) {
    EXPECT_TRUE(absl::IsInvalidArgument(q.Move("alice", bad, {}).status())) << bad;
  }
}

TEST_F(QuarantineTest, MovedFilesAreListedWithWhy) {
  WriteFile(target_ + "/users/alice/cur/1.h:2,S", "hello");
  WriteFile(target_ + "/users/alice/dovecot.index", "index");
  absl::StatusOr<v1::QuarantineItem> a =
      q_->Move("alice", "cur/1.h:2,S", {kReasonRemoved, std::string(16, 'h')});
  ASSERT_TRUE(a.ok()) << a.status();
  EXPECT_EQ(a->id(), Day() + "/alice/cur/1.h:2,S");
  EXPECT_EQ(a->maildir_key(), "1.h");
  EXPECT_EQ(a->size(), 5u);
  EXPECT_EQ(a->reason(), "removed");
  EXPECT_EQ(a->quarantined_ms(), clock_.NowMs());
  EXPECT_EQ(ReadFile(target_ + "/.quarantine/" + a->id()), "hello");
  EXPECT_FALSE(Exists(target_ + "/users/alice/cur/1.h:2,S"));
  // The same path again the same day: a suffix, listed apart.
  WriteFile(target_ + "/users/alice/cur/1.h:2,S", "again");
  absl::StatusOr<v1::QuarantineItem> b = q_->Move("alice", "cur/1.h:2,S", {});
  ASSERT_TRUE(b.ok());
  EXPECT_EQ(b->id(), Day() + "/alice/cur/1.h:2,S.1");
  ASSERT_TRUE(q_->Move("alice", "dovecot.index", {kReasonOverwritten, ""}).ok());
  EXPECT_EQ(Items().size(), 3u);
  EXPECT_EQ(index_->Totals("t1").items, 3u);
  EXPECT_EQ(index_->Totals("t1").bytes, 15u);
  std::optional<QuarantineRecord> r = index_->Get("t1", Day() + "/alice/dovecot.index");
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->item().maildir_key(), "");
  EXPECT_EQ(r->item().reason(), "overwritten");
}

TEST_F(QuarantineTest, KeepLeavesTheFileInPlace) {
  WriteFile(target_ + "/users/alice/dovecot.index", "old");
  absl::StatusOr<Fd> dir = OpenDirBeneath(target_root_.get(), "users/alice", false);
  ASSERT_TRUE(dir.ok());
  absl::StatusOr<v1::QuarantineItem> kept =
      q_->Keep("alice", "dovecot.index", dir->get(), "dovecot.index", {kReasonOverwritten, ""});
  ASSERT_TRUE(kept.ok()) << kept.status();
  EXPECT_EQ(ReadFile(target_ + "/users/alice/dovecot.index"), "old");
  EXPECT_EQ(ReadFile(target_ + "/.quarantine/" + kept->id()), "old");
}

TEST_F(QuarantineTest, ReleasedUserDirectoryListsEveryFile) {
  WriteFile(target_ + "/users/bob/cur/1.h:2,", "a");
  WriteFile(target_ + "/users/bob/.Sent/cur/2.h:2,S", "bb");
  ASSERT_TRUE(q_->MoveUserDir("bob", kReasonReleased).ok());
  EXPECT_FALSE(Exists(target_ + "/users/bob"));
  std::vector<v1::QuarantineItem> items = Items();
  ASSERT_EQ(items.size(), 2u);
  for (const v1::QuarantineItem& item : items) {
    EXPECT_EQ(item.reason(), "released");
    EXPECT_EQ(item.user(), "bob");
    EXPECT_TRUE(Exists(target_ + "/.quarantine/" + item.id())) << item.id();
  }
}

TEST_F(QuarantineTest, PurgeKeepsRecentDaysAndDropsTheirListing) {
  WriteFile(target_ + "/users/alice/cur/1", "x");
  ASSERT_TRUE(q_->Move("alice", "cur/1", {}).ok());
  QuarantinePolicy policy;
  policy.keep_days = 7;
  clock_.Advance(absl::Hours(24 * 3));
  absl::StatusOr<PurgeReport> purged = PurgeQuarantine(*q_, policy);
  ASSERT_TRUE(purged.ok());
  EXPECT_EQ(purged->days_removed, 0);
  EXPECT_EQ(Items().size(), 1u);
  clock_.Advance(absl::Hours(24 * 5));
  purged = PurgeQuarantine(*q_, policy);
  ASSERT_TRUE(purged.ok()) << purged.status();
  EXPECT_EQ(purged->days_removed, 1);
  EXPECT_TRUE(Items().empty());
  EXPECT_EQ(index_->Totals("t1").items, 0u);
}

// Over the size cap, copies of index files go first at any age, then the
// oldest items past the minimum age; young messages stay even over the cap.
TEST_F(QuarantineTest, SizeCapPurgesExpendableFirstAndKeepsYoungMail) {
  const std::string mb(1 << 20, 'i');
  for (int i = 0; i < 6; ++i) {  // an index file replaced six times
    WriteFile(target_ + "/users/alice/dovecot.index", mb + std::to_string(i));
    ASSERT_TRUE(q_->Move("alice", "dovecot.index", {kReasonOverwritten, ""}).ok());
    clock_.Advance(absl::Minutes(1));
  }
  WriteFile(target_ + "/users/alice/cur/1.h:2,", mb + "m");
  ASSERT_TRUE(q_->Move("alice", "cur/1.h:2,", {kReasonRemoved, ""}).ok());
  QuarantinePolicy policy;
  policy.max_bytes = 1 << 20;  // one MiB
  absl::StatusOr<PurgeReport> purged = PurgeQuarantine(*q_, policy);
  ASSERT_TRUE(purged.ok()) << purged.status();
  EXPECT_EQ(purged->items_removed, 6u);  // every index copy, the message kept
  std::vector<v1::QuarantineItem> items = Items();
  ASSERT_EQ(items.size(), 1u);
  EXPECT_EQ(items[0].path(), "cur/1.h:2,");
  EXPECT_GT(purged->bytes_over_cap, 0u);
  // Past the minimum age the message may go too.
  clock_.Advance(absl::Hours(24 * 8));
  purged = PurgeQuarantine(*q_, policy);
  ASSERT_TRUE(purged.ok());
  EXPECT_TRUE(Items().empty());
}

TEST_F(QuarantineTest, PurgeItemsByIdAndAge) {
  for (const char* name : {"cur/1", "cur/2", "cur/3"}) {
    WriteFile(target_ + "/users/alice/" + name, "x");
    ASSERT_TRUE(q_->Move("alice", name, {}).ok());
    clock_.Advance(absl::Minutes(10));
  }
  std::vector<v1::QuarantineItem> items = Items();
  ASSERT_EQ(items.size(), 3u);
  absl::StatusOr<PurgeReport> purged =
      PurgeItems(*q_, items[0].quarantined_ms() + 1, {items[2].id(), "no/such/item"});
  ASSERT_TRUE(purged.ok()) << purged.status();
  EXPECT_EQ(purged->items_removed, 2u);
  items = Items();
  ASSERT_EQ(items.size(), 1u);
  EXPECT_EQ(items[0].path(), "cur/2");
  EXPECT_FALSE(Exists(target_ + "/.quarantine/" + Day() + "/alice/cur/1"));
}

// Stranded mail may be the only copy of those messages: kept past every cap
// until it is reconciled.
TEST_F(QuarantineTest, UnreconciledStrandedMailOutlivesTheCaps) {
  WriteFile(target_ + "/users/alice/new/9.h", "stranded");
  absl::StatusOr<v1::QuarantineItem> item = q_->Move("alice", "new/9.h", {kReasonStranded, ""});
  ASSERT_TRUE(item.ok());
  QuarantinePolicy policy;
  policy.keep_days = 7;
  policy.max_bytes = 1;
  clock_.Advance(absl::Hours(24 * 30));
  absl::StatusOr<PurgeReport> purged = PurgeQuarantine(*q_, policy);
  ASSERT_TRUE(purged.ok()) << purged.status();
  EXPECT_EQ(purged->days_removed, 0);
  EXPECT_EQ(ReadFile(target_ + "/.quarantine/" + item->id()), "stranded");
  ASSERT_TRUE(index_->MarkReconciled("t1", {item->id()}).ok());
  purged = PurgeQuarantine(*q_, policy);
  ASSERT_TRUE(purged.ok());
  EXPECT_EQ(purged->days_removed, 1);
  EXPECT_TRUE(Items().empty());
}

}  // namespace
}  // namespace slotkeeper::sync
