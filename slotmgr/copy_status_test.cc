#include "slotmgr/copy_status.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "proto/event_kinds.h"

namespace slotkeeper::slotmgr {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

std::vector<std::string> Kinds(const std::vector<v1::Event>& events) {
  std::vector<std::string> out;
  for (const v1::Event& e : events) out.push_back(e.kind());
  return out;
}

class CopyStatusTest : public ::testing::Test {
 protected:
  void SetUp() override {
    copy_.mutable_slot()->set_host("imap2");
    copy_.mutable_slot()->set_slot("s01");
    status_.set_slot("s01");
    status_.set_store("st1");
  }
  v1::Copy copy_;
  v1::ReplicationStatus status_;
};

TEST_F(CopyStatusTest, FiguresAreCopiedAndAMasterIsAlwaysInSync) {
  status_.set_lag_ms(1500);
  status_.set_in_sync(false);
  status_.set_last_error("catching up after an agent restart");
  status_.set_quarantine_items(3);
  status_.set_quarantine_bytes(4096);
  status_.mutable_scrub()->set_bytes_verified(25);
  status_.mutable_scrub()->set_bytes_total(100);
  status_.mutable_scrub()->set_last_full_pass_ms(7);
  status_.add_blocked_users("bob");
  EXPECT_THAT(ApplyReplicationStatus("st1", false, status_, AgentClock{}, copy_), IsEmpty());
  EXPECT_FALSE(copy_.in_sync());
  EXPECT_EQ(copy_.out_of_sync_reason(), "catching up after an agent restart");
  EXPECT_EQ(copy_.lag_ms(), 1500);
  EXPECT_EQ(copy_.quarantine_bytes(), 4096u);
  EXPECT_DOUBLE_EQ(copy_.scrub_pass_fraction(), 0.25);
  EXPECT_EQ(copy_.scrub_last_full_pass_ms(), 7);
  EXPECT_THAT(copy_.blocked_users(), ElementsAre("bob"));
  ApplyReplicationStatus("st1", /*is_master=*/true, status_, AgentClock{}, copy_);
  EXPECT_TRUE(copy_.in_sync());
  EXPECT_EQ(copy_.out_of_sync_reason(), "");
}

TEST_F(CopyStatusTest, NewCorruptionIsNewsOnceAndNamesTheFiles) {
  status_.mutable_scrub()->set_corrupt_found(1);
  status_.mutable_scrub()->add_recent_corrupt("alice/cur/1.M2:2,S");
  std::vector<v1::Event> e = ApplyReplicationStatus("st1", false, status_, AgentClock{}, copy_);
  ASSERT_THAT(Kinds(e), ElementsAre(event_kind::kSlotCorruptFiles));
  EXPECT_THAT(e[0].text(), HasSubstr("alice/cur/1.M2:2,S"));
  EXPECT_EQ(e[0].severity(), v1::WARNING);
  EXPECT_THAT(ApplyReplicationStatus("st1", false, status_, AgentClock{}, copy_), IsEmpty());
  status_.mutable_scrub()->set_corrupt_found(2);
  e = ApplyReplicationStatus("st1", true, status_, AgentClock{}, copy_);
  ASSERT_EQ(e.size(), 1u);
  EXPECT_EQ(e[0].severity(), v1::CRITICAL) << "corruption on a master is not repaired by itself";
}

TEST_F(CopyStatusTest, StrandedMailAndIdentityChangesAreNewsEachWay) {
  status_.set_stranded_messages(4);
  status_.set_identity_changed(true);
  std::vector<v1::Event> e = ApplyReplicationStatus("st1", false, status_, AgentClock{}, copy_);
  EXPECT_THAT(Kinds(e),
              ElementsAre(event_kind::kSlotIdentityChanged, event_kind::kStoreStrandedMail));
  EXPECT_THAT(e[1].text(), HasSubstr("slotctl store reconcile st1"));
  EXPECT_THAT(ApplyReplicationStatus("st1", false, status_, AgentClock{}, copy_), IsEmpty());
  status_.set_stranded_messages(0);
  status_.set_identity_changed(false);
  EXPECT_THAT(Kinds(ApplyReplicationStatus("st1", false, status_, AgentClock{}, copy_)),
              ElementsAre(event_kind::kStoreStrandedCleared));
}

}  // namespace
}  // namespace slotkeeper::slotmgr
