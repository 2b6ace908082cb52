#include "slotmgr/blocked_users.h"

#include <string>
#include <vector>

#include "base/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace slotkeeper::slotmgr {
namespace {

using ::testing::ElementsAre;

google::protobuf::RepeatedPtrField<std::string> Users(std::vector<std::string> names) {
  return {names.begin(), names.end()};
}

std::vector<std::string> Kinds(const Txn& txn) {
  std::vector<std::string> kinds;
  for (const auto& e : txn.events) kinds.push_back(e.kind());
  return kinds;
}

TEST(BlockedUsersTest, EachUserIsJournaledWhenBlockedAndWhenFree) {
  FakeClock clock;
  Journal journal(&clock);
  BlockedUsers blocked;
  Txn t1;
  blocked.Note(journal, t1, "imap2", "s01", "st1", Users({"alice", "bob"}), true);
  EXPECT_THAT(Kinds(t1), ElementsAre("replication.blocked", "replication.blocked"));
  EXPECT_EQ(t1.events[0].host(), "imap2");
  EXPECT_EQ(t1.events[0].slot(), "s01");
  EXPECT_EQ(t1.events[0].store(), "st1");
  EXPECT_FALSE(blocked.empty());
  Txn t2;
  blocked.Note(journal, t2, "imap2", "s01", "st1", Users({"alice", "bob"}), true);
  EXPECT_TRUE(t2.events.empty()) << "still blocked: nothing new";
  Txn t3;
  blocked.Note(journal, t3, "imap2", "s01", "st1", Users({"bob"}), false);
  EXPECT_TRUE(t3.events.empty()) << "a partial list (task update) clears nobody";
  Txn t4;
  blocked.Note(journal, t4, "imap2", "s01", "st1", Users({"bob"}), true);
  EXPECT_THAT(Kinds(t4), ElementsAre("replication.unblocked"));
  EXPECT_NE(t4.events[0].text().find("alice"), std::string::npos);
  Txn t5;
  blocked.Note(journal, t5, "imap2", "s01", "st1", Users({}), true);
  EXPECT_THAT(Kinds(t5), ElementsAre("replication.unblocked"));
  EXPECT_TRUE(blocked.empty());
}

}  // namespace
}  // namespace slotkeeper::slotmgr
