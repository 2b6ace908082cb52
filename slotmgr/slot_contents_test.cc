// RecognizeContents over a small model: users indexed but never moved, an
// unknown copy adopted as a replica, a store with all its copies left alone,
// a slot assigned to another store keeping its assignment.
#include "slotmgr/slot_contents.h"

#include <set>
#include <string>

#include "base/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "proto/event_kinds.h"
#include "slotmgr/command_outbox.h"
#include "slotmgr/journal.h"

namespace slotkeeper::slotmgr {
namespace {

using ::testing::HasSubstr;

class SlotContentsTest : public ::testing::Test {
 protected:
  SlotContentsTest() {
    config_.default_copies = 3;
    for (const char* host : {"imap1", "imap2"}) {
      v1::HostInfo* h = model_.hosts[host].mutable_info();
      h->set_name(host);
      for (const char* slot : {"s1", "s2"}) {
        v1::SlotInfo* s = h->add_slots();
        s->mutable_ref()->set_host(host);
        s->mutable_ref()->set_slot(slot);
        s->set_role(v1::SLOT_SPARE);
        s->set_usable(true);
      }
    }
  }

  v1::SlotInfo& Slot(const std::string& host, int i) {
    return *model_.hosts[host].mutable_info()->mutable_slots(i);
  }
  // Gives slot `i` of `host` to `store` as a copy with `role`.
  void Assign(const std::string& host, int i, const std::string& store, v1::SlotRole role) {
    Slot(host, i).set_store(store);
    Slot(host, i).set_role(role);
    v1::StoreInfo* info = model_.stores[store].mutable_info();
    info->set_name(store);
    info->set_required_copies(2);
    v1::Copy* c = info->add_copies();
    *c->mutable_slot() = Slot(host, i).ref();
    c->set_role(role);
  }
  void Recognize(const std::string& host, const std::string& slot, const std::string& store,
                 std::initializer_list<const char*> users) {
    v1::SlotContents contents;
    contents.set_slot(slot);
    contents.set_store(store);
    contents.set_used_bytes(4096);
    for (const char* u : users) contents.add_users(u);
    Mutation m{model_, outbox_,      journal_, txn_,      config_, CoordinatorNow{1000, 1000},
               false,  &automation_, nullptr,  &notices_, &users_};
    RecognizeContents(m, host, contents);
  }
  int EventsOf(const char* kind) const {
    int n = 0;
    for (const v1::Event& e : txn_.events) n += e.kind() == kind;
    return n;
  }

  FakeClock clock_;
  Journal journal_{&clock_};
  CommandOutbox outbox_{&clock_, &journal_};
  ClusterModel model_;
  UserIndex users_;
  AutomationRecord automation_;
  std::set<std::string> notices_;
  CoordinatorConfig config_;
  Txn txn_;
};

TEST_F(SlotContentsTest, UsersOfTheSlotsOwnStoreAreIndexed) {
  Assign("imap1", 0, "st1", v1::SLOT_MASTER);
  Recognize("imap1", "s1", "st1", {"alice", "bob"});
  ASSERT_NE(users_.StoreOf("alice"), nullptr);
  EXPECT_EQ(*users_.StoreOf("alice"), "st1");
  EXPECT_EQ(users_.CountOf("st1"), 2u);
  EXPECT_EQ(txn_.users, (std::set<std::string>{"alice", "bob"}));
  EXPECT_EQ(Slot("imap1", 0).used_bytes(), 4096u);
}

TEST_F(SlotContentsTest, AUserOfAnotherStoreIsNeverMovedAndIsNamedOnce) {
  Assign("imap1", 0, "st1", v1::SLOT_MASTER);
  Assign("imap2", 0, "st2", v1::SLOT_MASTER);
  Recognize("imap1", "s1", "st1", {"alice"});
  Recognize("imap2", "s1", "st2", {"alice", "carol"});
  Recognize("imap2", "s1", "st2", {"alice", "carol"});
  EXPECT_EQ(*users_.StoreOf("alice"), "st1");
  EXPECT_EQ(*users_.StoreOf("carol"), "st2");
  EXPECT_EQ(EventsOf(event_kind::kSlotContentsMismatch), 1);
  EXPECT_THAT(txn_.events.back().text(), HasSubstr("(alice): their routing is not changed"));
}

TEST_F(SlotContentsTest, AnInvalidUserNameIsNotIndexed) {
  Assign("imap1", 0, "st1", v1::SLOT_MASTER);
  Recognize("imap1", "s1", "st1", {"ok", "bad\nname"});
  EXPECT_NE(users_.StoreOf("ok"), nullptr);
  EXPECT_EQ(users_.StoreOf("bad\nname"), nullptr);
}

TEST_F(SlotContentsTest, AnUnknownCopyIsAdoptedAsAReplicaOfANewStore) {
  Recognize("imap2", "s2", "st9", {"dave"});
  ASSERT_EQ(model_.stores.count("st9"), 1u);
  const v1::StoreInfo& info = model_.stores["st9"].info();
  EXPECT_EQ(info.required_copies(), 3u);
  EXPECT_EQ(info.master_epoch(), 0u);
  ASSERT_EQ(info.copies_size(), 1);
  EXPECT_EQ(info.copies(0).role(), v1::SLOT_REPLICA);
  EXPECT_EQ(Slot("imap2", 1).role(), v1::SLOT_REPLICA);
  EXPECT_EQ(Slot("imap2", 1).store(), "st9");
  EXPECT_EQ(*users_.StoreOf("dave"), "st9");
  EXPECT_EQ(EventsOf(event_kind::kStoreCopyRecognized), 1);
  EXPECT_TRUE(txn_.stores.count("st9") && txn_.hosts.count("imap2"));
}

TEST_F(SlotContentsTest, ACopyOfAStoreWithAllItsCopiesIsNotAdoptedAndKeptOutOfPlacement) {
  Assign("imap1", 0, "st1", v1::SLOT_MASTER);
  Assign("imap2", 0, "st1", v1::SLOT_REPLICA);
  Recognize("imap2", "s2", "st1", {"alice"});
  Recognize("imap2", "s2", "st1", {"alice"});
  EXPECT_EQ(model_.stores["st1"].info().copies_size(), 2);
  EXPECT_EQ(Slot("imap2", 1).role(), v1::SLOT_SPARE);
  EXPECT_EQ(Slot("imap2", 1).unadopted_store(), "st1");
  EXPECT_EQ(EventsOf(event_kind::kSlotContentsMismatch), 1) << "journaled once";
  // Emptied: the mark goes.
  Recognize("imap2", "s2", "", {});
  EXPECT_EQ(Slot("imap2", 1).unadopted_store(), "");
}

TEST_F(SlotContentsTest, ASlotAssignedToAnotherStoreKeepsItsAssignment) {
  Assign("imap1", 0, "st1", v1::SLOT_REPLICA);
  Recognize("imap1", "s1", "st2", {"eve"});
  Recognize("imap1", "s1", "st2", {"eve"});
  EXPECT_EQ(Slot("imap1", 0).store(), "st1");
  EXPECT_EQ(model_.stores.count("st2"), 0u);
  EXPECT_EQ(users_.StoreOf("eve"), nullptr);
  EXPECT_EQ(EventsOf(event_kind::kSlotContentsMismatch), 1) << "a one-time warning";
}

TEST_F(SlotContentsTest, WhatALostSlotHoldsIsNotTrusted) {
  Assign("imap1", 0, "st1", v1::SLOT_LOST);
  Recognize("imap1", "s1", "st7", {"frank"});
  EXPECT_EQ(model_.stores.count("st7"), 0u);
  EXPECT_EQ(users_.StoreOf("frank"), nullptr);
  EXPECT_TRUE(txn_.events.empty());
}

TEST_F(SlotContentsTest, ASlotTheModelDoesNotHoldIsIgnored) {
  Recognize("imap1", "s9", "st1", {"alice"});
  EXPECT_TRUE(model_.stores.empty());
  EXPECT_TRUE(txn_.events.empty());
}

}  // namespace
}  // namespace slotkeeper::slotmgr
