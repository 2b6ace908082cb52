#include "slotmgr/command_outbox.h"

#include <string>
#include <vector>

#include "base/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace slotkeeper::slotmgr {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;
using ::testing::UnorderedElementsAre;

v1::Command Promote(const std::string& store) {
  v1::Command c;
  c.mutable_promote()->set_slot("s01");
  c.mutable_promote()->set_store(store);
  return c;
}

v1::Command Start(const std::string& task) {
  v1::Command c;
  c.mutable_start_task()->set_task_id(task);
  return c;
}

std::vector<std::string> Ids(const std::vector<v1::Command>& commands) {
  std::vector<std::string> ids;
  for (const auto& c : commands) ids.push_back(c.id());
  return ids;
}

class CommandOutboxTest : public ::testing::Test {
 protected:
  FakeClock clock_;
  Journal journal_{&clock_};
  CommandOutbox outbox_{&clock_, &journal_};
};

TEST_F(CommandOutboxTest, IssueNumbersInOrderAndJournals) {
  Txn txn;
  EXPECT_EQ(outbox_.Issue(txn, "imap1", Promote("st1")), "c000000000001");
  EXPECT_EQ(outbox_.Issue(txn, "imap2", Start("t1")), "c000000000002");
  EXPECT_EQ(outbox_.last_seq(), 2u);
  EXPECT_EQ(outbox_.size(), 2u);
  ASSERT_EQ(txn.commands.size(), 2u);
  EXPECT_EQ(txn.commands[0].host(), "imap1");
  EXPECT_EQ(txn.commands[0].command().issued_ms(), clock_.NowMs());
  ASSERT_EQ(txn.events.size(), 2u);
  EXPECT_EQ(txn.events[0].kind(), "command.queued");
  EXPECT_EQ(txn.events[0].text(), "command c000000000001: promote s01");
  EXPECT_EQ(txn.events[1].text(), "command c000000000002: start-task t1");
}

TEST_F(CommandOutboxTest, EachCommandIsSentOncePerSession) {
  Txn txn;
  outbox_.Issue(txn, "imap1", Promote("st1"));
  outbox_.Issue(txn, "imap2", Start("t1"));
  outbox_.Issue(txn, "imap1", Start("t2"));
  EXPECT_THAT(Ids(outbox_.TakeToSend("imap1")), ElementsAre("c000000000001", "c000000000003"));
  EXPECT_THAT(outbox_.TakeToSend("imap1"), IsEmpty());
  outbox_.ResendAll("imap1");  // a new session
  EXPECT_THAT(Ids(outbox_.TakeToSend("imap1")), ElementsAre("c000000000001", "c000000000003"));
}

TEST_F(CommandOutboxTest, AcknowledgeRetiresDuplicatesAreHarmlessOthersNotFound) {
  Txn txn;
  outbox_.Issue(txn, "imap1", Promote("st1"));
  Txn ack;
  EXPECT_EQ(outbox_.Acknowledge(ack, "imap2", "c000000000001").status().code(),
            absl::StatusCode::kNotFound)
      << "issued to another host";
  auto first = outbox_.Acknowledge(ack, "imap1", "c000000000001");
  ASSERT_TRUE(first.ok());
  ASSERT_TRUE(first->has_value());
  EXPECT_TRUE((*first)->has_promote());
  EXPECT_THAT(ack.erased_commands, ElementsAre("c000000000001"));
  auto again = outbox_.Acknowledge(ack, "imap1", "c000000000001");
  ASSERT_TRUE(again.ok());
  EXPECT_FALSE(again->has_value()) << "issued and retired: a duplicate";
  for (const char* id : {"c000000000002", "c1", "x000000000001", "c000000000000"}) {
    EXPECT_EQ(outbox_.Acknowledge(ack, "imap1", id).status().code(), absl::StatusCode::kNotFound)
        << id;
  }
  EXPECT_EQ(outbox_.size(), 0u);
}

TEST_F(CommandOutboxTest, DropStaleKeepsDemotionsAndOtherStores) {
  Txn txn;
  outbox_.Issue(txn, "imap1", Promote("st1"));
  v1::Command assign;
  assign.mutable_assign_replica()->set_store("st1");
  outbox_.Issue(txn, "imap2", assign);
  v1::Command demote;
  demote.mutable_demote()->set_store("st1");
  outbox_.Issue(txn, "imap1", demote);
  outbox_.Issue(txn, "imap3", Promote("st2"));
  Txn drop;
  outbox_.DropStale(drop, "st1");
  EXPECT_THAT(drop.erased_commands, ElementsAre("c000000000001", "c000000000002"));
  EXPECT_EQ(outbox_.size(), 2u);
}

TEST_F(CommandOutboxTest, RestoreAndUnacknowledgedStarts) {
  std::vector<OutboxEntry> persisted(2);
  persisted[0].set_host("imap4");
  *persisted[0].mutable_command() = Start("t7");
  persisted[0].mutable_command()->set_id("c000000000007");
  persisted[1].set_host("imap4");
  *persisted[1].mutable_command() = Promote("st1");
  persisted[1].mutable_command()->set_id("c000000000008");
  outbox_.Restore(persisted, 8);
  EXPECT_THAT(outbox_.UnacknowledgedStarts("imap4"), UnorderedElementsAre("t7"));
  EXPECT_THAT(outbox_.UnacknowledgedStarts("imap1"), IsEmpty());
  Txn txn;
  EXPECT_EQ(outbox_.Issue(txn, "imap1", Start("t9")), "c000000000009");
  EXPECT_THAT(Ids(outbox_.TakeToSend("imap4")), ElementsAre("c000000000007", "c000000000008"));
}

TEST_F(CommandOutboxTest, PromotePendingUntilAcknowledgedDroppedOrRestoredAway) {
  Txn txn;
  const std::string first = outbox_.Issue(txn, "imap1", Promote("st1"));
  outbox_.Issue(txn, "imap1", Promote("st1"));  // the same slot, twice
  outbox_.Issue(txn, "imap2", Start("t1"));
  EXPECT_TRUE(outbox_.PromotePending("imap1", "s01"));
  EXPECT_FALSE(outbox_.PromotePending("imap2", "s01"));
  EXPECT_FALSE(outbox_.PromotePending("imap1", "s02"));
  ASSERT_TRUE(outbox_.Acknowledge(txn, "imap1", first).ok());
  EXPECT_TRUE(outbox_.PromotePending("imap1", "s01")) << "the second is still unacknowledged";
  outbox_.DropStale(txn, "st1");
  EXPECT_FALSE(outbox_.PromotePending("imap1", "s01"));
  // A restarted coordinator knows its pending promotes from the outbox it loads.
  std::vector<OutboxEntry> persisted(1);
  persisted[0].set_host("imap3");
  *persisted[0].mutable_command() = Promote("st9");
  persisted[0].mutable_command()->set_id("c000000000009");
  outbox_.Restore(persisted, 9);
  EXPECT_TRUE(outbox_.PromotePending("imap3", "s01"));
  EXPECT_FALSE(outbox_.PromotePending("imap1", "s01"));
}

}  // namespace
}  // namespace slotkeeper::slotmgr
