#include "replicator/sync/quarantine_index.h"

#include "gtest/gtest.h"
#include "replicator/sync/test_files.h"

namespace slotkeeper::sync {
namespace {

QuarantineRecord Item(const std::string& id, const std::string& user, uint64_t size,
                      const std::string& reason) {
  QuarantineRecord r;
  r.mutable_item()->set_id(id);
  r.mutable_item()->set_user(user);
  r.mutable_item()->set_size(size);
  r.mutable_item()->set_reason(reason);
  return r;
}

TEST(QuarantineIndexTest, TotalsFollowEveryChangeAndSurviveARestart) {
  const std::string path = Tmp() + "/quarantine_index.db";
  {
    std::unique_ptr<rocksdb::DB> db = OpenDb(path);
    QuarantineIndex index(db.get());
    ASSERT_TRUE(index.Put("s1", Item("d/alice/a", "alice", 10, kReasonRemoved)).ok());
    ASSERT_TRUE(index.Put("s1", Item("d/alice/b", "alice", 20, kReasonStranded)).ok());
    ASSERT_TRUE(index.Put("s1", Item("d/bob/c", "bob", 30, kReasonStranded)).ok());
    ASSERT_TRUE(index.Put("s2", Item("d/bob/c", "bob", 40, kReasonRemoved)).ok());
    QuarantineTotals t = index.Totals("s1");
    EXPECT_EQ(t.items, 3u);
    EXPECT_EQ(t.bytes, 60u);
    EXPECT_EQ(t.stranded, 2u);
    ASSERT_TRUE(index.MarkReconciled("s1", {"d/alice/b"}).ok());
    EXPECT_EQ(index.Totals("s1").stranded, 1u);
    ASSERT_TRUE(index.Remove("s1", {"d/alice/a", "unknown"}).ok());
    EXPECT_EQ(index.Totals("s1").items, 2u);
    int alice = 0;
    index.ForEach("s1", "alice", [&](const QuarantineRecord&) { return ++alice, true; });
    EXPECT_EQ(alice, 1);
  }
  std::unique_ptr<rocksdb::DB> db = OpenDb(path);
  QuarantineIndex index(db.get());
  QuarantineTotals t = index.Totals("s1");
  EXPECT_EQ(t.items, 2u);
  EXPECT_EQ(t.bytes, 50u);
  EXPECT_EQ(t.stranded, 1u);
  EXPECT_TRUE(index.Get("s1", "d/alice/b")->reconciled());
  ASSERT_TRUE(index.Clear("s1").ok());
  EXPECT_EQ(index.Totals("s1").items, 0u);
  EXPECT_EQ(index.Totals("s2").items, 1u);
}

}  // namespace
}  // namespace slotkeeper::sync
