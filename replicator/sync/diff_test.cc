#include "replicator/sync/diff.h"

#include "gtest/gtest.h"

namespace slotkeeper::sync {
namespace {

ManifestEntry E(const std::string& path, const std::string& hash, int64_t mtime = 100) {
  ManifestEntry e;
  e.set_path(path);
  e.set_hash(hash + std::string(16 - hash.size(), '.'));
  e.set_size(hash.size());
  e.set_mtime_ns(mtime);
  e.set_mode(0600);
  return e;
}

Manifest Sorted(Manifest m) {
  std::sort(m.begin(), m.end(), [](const auto& a, const auto& b) { return a.path() < b.path(); });
  return m;
}

TEST(PlanUserSyncTest, FlagChangeIsARename) {
  Manifest local = {E("cur/1.host:2,", "aaa")};
  Manifest source = {E("cur/1.host:2,S", "aaa")};
  UserPlan plan = PlanUserSync(source, local, {});
  ASSERT_EQ(plan.renames.size(), 1u);
  EXPECT_EQ(plan.renames[0].from, "cur/1.host:2,");
  EXPECT_EQ(plan.renames[0].to.path(), "cur/1.host:2,S");
  EXPECT_TRUE(plan.fetches.empty());
  EXPECT_TRUE(plan.quarantines.empty());
}

TEST(PlanUserSyncTest, RenameCarriesTheDonorsMetadata) {
  Manifest local = Sorted({E("cur/1.host:2,", "aaa", 5), E("cur/2.host:2,", "bbb", 5)});
  Manifest source = Sorted({E("cur/1.host:2,S", "aaa", 5), E("cur/2.host:2,S", "bbb", 6)});
  UserPlan plan = PlanUserSync(source, local, {});
  ASSERT_EQ(plan.renames.size(), 2u);
  EXPECT_EQ(plan.renames[0].from_mtime_ns, 5);
  EXPECT_TRUE(plan.renames[0].KeepsMetadata());   // a plain flag change
  EXPECT_FALSE(plan.renames[1].KeepsMetadata());  // mtime differs: set after the rename
}

TEST(PlanUserSyncTest, NewToCurAndFolderMoveAreRenames) {
  Manifest local = Sorted({E("new/1.host", "aaa"), E("cur/2.host:2,S", "bbb")});
  Manifest source = Sorted({E("cur/1.host:2,", "aaa"), E(".Archive/cur/2.host:2,S", "bbb")});
  UserPlan plan = PlanUserSync(source, local, {});
  EXPECT_EQ(plan.renames.size(), 2u);
  EXPECT_TRUE(plan.fetches.empty());
  EXPECT_TRUE(plan.quarantines.empty());
}

TEST(PlanUserSyncTest, SameNameOtherContentIsFetchedAndOldKept) {
  Manifest local = {E("dovecot.index", "old")};
  Manifest source = {E("dovecot.index", "new")};
  UserPlan plan = PlanUserSync(source, local, {});
  ASSERT_EQ(plan.fetches.size(), 1u);
  ASSERT_EQ(plan.quarantines.size(), 1u);
  EXPECT_EQ(plan.quarantines[0], "dovecot.index");
  EXPECT_EQ(plan.removed_messages, 0u);
}

TEST(PlanUserSyncTest, MetadataOnlyDifference) {
  Manifest local = {E("cur/1:2,S", "aaa", 1)};
  Manifest source = {E("cur/1:2,S", "aaa", 2)};
  UserPlan plan = PlanUserSync(source, local, {});
  EXPECT_EQ(plan.metadata_fixes.size(), 1u);
  EXPECT_TRUE(plan.renames.empty());
  EXPECT_TRUE(plan.fetches.empty());
}

TEST(PlanUserSyncTest, MassDeletionBlocks) {
  Manifest local;
  for (int i = 0; i < 100; ++i) {
    local.push_back(E("cur/" + std::to_string(1000 + i), std::to_string(i)));
  }
  Manifest source(local.begin(), local.begin() + 85);  // 15% gone
  UserPlan plan = PlanUserSync(source, local, {});
  EXPECT_TRUE(plan.blocked);
  EXPECT_EQ(plan.removed_messages, 15u);
  Manifest source_ok(local.begin(), local.begin() + 95);  // 5% gone
  EXPECT_FALSE(PlanUserSync(source_ok, local, {}).blocked);
  // An empty source must never wipe the replica.
  EXPECT_TRUE(PlanUserSync({}, local, {}).blocked);
}

TEST(PlanUserSyncTest, SmallRemovalsBelowFloorDoNotBlock) {
  Manifest local = {E("cur/1", "a"), E("cur/2", "b")};
  Manifest source = {E("cur/1", "a")};
  UserPlan plan = PlanUserSync(source, local, {});
  EXPECT_FALSE(plan.blocked);
  EXPECT_EQ(plan.quarantines.size(), 1u);
  GuardOptions strict;
  strict.min_removals_to_block = 1;
  EXPECT_TRUE(PlanUserSync(source, local, strict).blocked);
}

TEST(CompareManifestsTest, ReportsEachKind) {
  Manifest master = Sorted({E("a", "1"), E("b", "2")});
  Manifest replica = Sorted({E("b", "3"), E("c", "4")});
  std::vector<Difference> d = CompareManifests(master, replica);
  ASSERT_EQ(d.size(), 3u);
  EXPECT_EQ(d[0].kind, Difference::kMissingOnReplica);
  EXPECT_EQ(d[1].kind, Difference::kContentDiffers);
  EXPECT_EQ(d[2].kind, Difference::kExtraOnReplica);
  EXPECT_TRUE(CompareManifests(master, master).empty());
}

}  // namespace
}  // namespace slotkeeper::sync
