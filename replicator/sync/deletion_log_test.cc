#include "replicator/sync/deletion_log.h"

#include "gtest/gtest.h"
#include "replicator/sync/test_files.h"

namespace slotkeeper::sync {
namespace {

TEST(DeletionLogTest, NamesGoneOnAMasterAreLogged) {
  std::unique_ptr<rocksdb::DB> db = OpenDb(Tmp() + "/deletion_log.db");
  DeletionLog log(db.get());
  EXPECT_FALSE(log.Since("s1").has_value());
  EXPECT_FALSE(log.Known("s1", "alice"));
  // The first observation is the baseline, master or not.
  absl::StatusOr<int> n = log.Observe("s1", "alice", {"1.h", "2.h", "3.h"}, 100, false);
  ASSERT_TRUE(n.ok());
  EXPECT_EQ(*n, 0);
  EXPECT_TRUE(log.Known("s1", "alice"));
  // As a replica: gone names are not logged.
  n = log.Observe("s1", "alice", {"1.h", "2.h"}, 200, false);
  EXPECT_EQ(*n, 0);
  ASSERT_TRUE(log.Start("s1", 300).ok());
  EXPECT_EQ(log.Since("s1"), 300);
  n = log.Observe("s1", "alice", {"2.h", "4.h"}, 400, true);
  EXPECT_EQ(*n, 1);
  std::vector<v1::DeletedMessage> deleted = log.List("s1", "");
  ASSERT_EQ(deleted.size(), 1u);
  EXPECT_EQ(deleted[0].user(), "alice");
  EXPECT_EQ(deleted[0].maildir_key(), "1.h");
  EXPECT_EQ(deleted[0].deleted_ms(), 400);
  EXPECT_TRUE(log.List("s1", "bob").empty());
  // A name that comes back is no longer deleted.
  n = log.Observe("s1", "alice", {"1.h", "2.h", "4.h"}, 500, true);
  EXPECT_TRUE(log.List("s1", "alice").empty());
  // Starting again (promoted anew) forgets the old log.
  n = log.Observe("s1", "alice", {"4.h"}, 600, true);
  EXPECT_EQ(log.List("s1", "alice").size(), 2u);
  ASSERT_TRUE(log.Start("s1", 700).ok());
  EXPECT_TRUE(log.List("s1", "").empty());
  ASSERT_TRUE(log.Clear("s1").ok());
  EXPECT_FALSE(log.Known("s1", "alice"));
  EXPECT_FALSE(log.Since("s1").has_value());
}

}  // namespace
}  // namespace slotkeeper::sync
