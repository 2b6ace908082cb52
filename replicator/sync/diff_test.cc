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
  EXPECT_TRUE(plan.renames[0].KeepsTimesAndMode());   // a plain flag change
  EXPECT_FALSE(plan.renames[1].KeepsTimesAndMode());  // mtime differs: set after the rename
}

TEST(PlanUserSyncTest, NewToCurAndFolderMoveAreRenames) {
  Manifest local = Sorted({E("new/1.host", "aaa"), E("cur/2.host:2,S", "bbb")});
  Manifest source = Sorted({E("cur/1.host:2,", "aaa"), E(".Archive/cur/2.host:2,S", "bbb")});
  UserPlan plan = PlanUserSync(source, local, {});
  EXPECT_EQ(plan.renames.size(), 2u);
  EXPECT_TRUE(plan.fetches.empty());
  EXPECT_TRUE(plan.quarantines.empty());
}

// A non-message file the source rewrote: fetched, its old copy kept aside
// only when the new one is installed over it (not moved away first).
TEST(PlanUserSyncTest, SameNameOtherContentIsFetchedAndReplacedInPlace) {
  Manifest local = {E("dovecot.index", "old")};
  Manifest source = {E("dovecot.index", "new")};
  UserPlan plan = PlanUserSync(source, local, {});
  ASSERT_EQ(plan.fetches.size(), 1u);
  EXPECT_TRUE(plan.quarantines.empty());
  ASSERT_EQ(plan.replaced.size(), 1u);
  EXPECT_EQ(plan.replaced[0], "dovecot.index");
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

// What the mass-deletion guard weighs: every message leaving, whether gone
// or rewritten under its path or its unique name; the counts before and
// after.
TEST(PlanUserSyncTest, CountsRemovedAndRewrittenMessages) {
  Manifest local;
  for (int i = 0; i < 20; ++i) {
    local.push_back(E("cur/" + std::to_string(1000 + i) + ".h:2,", std::to_string(i)));
  }
  local = Sorted(local);
  Manifest garbage = local;  // the same 20 paths, other content
  for (ManifestEntry& e : garbage) e.set_hash(std::string(16, 'g'));
  UserPlan plan = PlanUserSync(garbage, local, {});
  EXPECT_EQ(plan.removed_messages, 20u);
  EXPECT_EQ(plan.local_messages, 20u);
  EXPECT_EQ(plan.source_messages, 20u);
  EXPECT_TRUE(plan.quarantines.empty());  // replaced at install, not moved first
  EXPECT_EQ(plan.replaced.size(), 20u);

  Manifest two(local.begin(), local.begin() + 2);
  plan = PlanUserSync(two, local, {});
  EXPECT_EQ(plan.removed_messages, 18u);
  ASSERT_EQ(plan.quarantines.size(), 18u);
  EXPECT_TRUE(plan.quarantines[0].message);
  EXPECT_TRUE(plan.quarantines[0].name_gone);
  EXPECT_EQ(plan.source_messages, 2u);
}

TEST(PlanUserSyncTest, SameUniqueNameOtherContentIsARewrite) {
  Manifest local = {E("cur/1.h:2,", "aaa")};
  Manifest source = {E("cur/1.h:2,S", "zzz")};
  UserPlan plan = PlanUserSync(source, local, {});
  EXPECT_EQ(plan.removed_messages, 1u);
  ASSERT_EQ(plan.quarantines.size(), 1u);
  EXPECT_FALSE(plan.quarantines[0].name_gone);  // the name is still there: rewritten
  EXPECT_EQ(plan.fetches.size(), 1u);
}

TEST(PlanUserSyncTest, OwnersAreComparedOnlyWhenAsked) {
  ManifestEntry mine = E("cur/1:2,S", "aaa");
  mine.set_uid(0);
  ManifestEntry theirs = mine;
  theirs.set_uid(8);
  theirs.set_gid(8);
  EXPECT_TRUE(PlanUserSync({theirs}, {mine}, {}).metadata_fixes.empty());
  PlanOptions owners;
  owners.compare_owner = true;
  EXPECT_EQ(PlanUserSync({theirs}, {mine}, owners).metadata_fixes.size(), 1u);
  // Setuid and sticky bits are never part of a difference.
  ManifestEntry special = mine;
  special.set_mode(04600);
  EXPECT_TRUE(PlanUserSync({special}, {mine}, {}).metadata_fixes.empty());
  ManifestEntry dir;
  dir.set_path("cur");
  dir.set_directory(true);
  dir.set_mode(0700);
  ManifestEntry their_dir = dir;
  their_dir.set_uid(8);
  UserPlan plan = PlanUserSync({their_dir}, {dir}, owners);
  EXPECT_EQ(plan.dir_fixes.size(), 1u);
  EXPECT_TRUE(plan.mkdirs.empty());
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
