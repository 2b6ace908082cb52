#include "slotmgr/cluster_view.h"

#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "slotmgr/testing/cluster_tables.h"

namespace slotkeeper::slotmgr {
namespace {

using ::testing::HasSubstr;
using namespace ::slotkeeper::slotmgr::tables;  // NOLINT: table helpers

ClusterView Two() {
  return MakeCluster(
      {{"imap1", 2}, {"imap2", 2}},
      {{"mail1", {{"imap1/s01", v1::SLOT_MASTER}, {"imap2/s01", v1::SLOT_REPLICA}}}});
}

std::string FinalizeError(ClusterView view) { return std::string(view.Finalize().message()); }

TEST(ClusterViewTest, FindersAndCounts) {
  ClusterView view = Two();
  ASSERT_NE(view.FindHost("imap2"), nullptr);
  EXPECT_EQ(view.FindHost("imap3"), nullptr);
  EXPECT_EQ(view.FindSlot("imap2", "s02")->role, v1::SLOT_SPARE);
  EXPECT_EQ(view.FindSlot(SlotId{"imap1", "s01"})->store, "mail1");
  EXPECT_EQ(view.FindUnit("imap1", "du1")->state, v1::UNIT_ONLINE);
  EXPECT_TRUE(view.FindFilesystem("imap1", "/srv/du1")->usable);
  const StoreView* st = view.FindStore("mail1");
  ASSERT_NE(st, nullptr);
  EXPECT_EQ(st->master()->slot.ToString(), "imap1/s01");
  EXPECT_EQ(st->PresentCopies(), 2);
  EXPECT_EQ(st->HealthyCopies(), 2);
  EXPECT_TRUE(st->HasCopyOnHost("imap2"));
  EXPECT_FALSE(st->HasCopyOnHost("imap3"));
  LoseHost(&view, "imap2");
  EXPECT_EQ(st->PresentCopies(), 1);
  EXPECT_EQ(st->UsableCopies(), 1);
  EXPECT_TRUE(st->HasCopyOnHost("imap2"));  // the lost copy still counts here

  ClusterView copy = view;  // indexes are positions: the copy stays indexed
  EXPECT_EQ(copy.FindHost("imap2")->state, v1::HOST_DOWN);
  EXPECT_NE(copy.FindHost("imap2"), view.FindHost("imap2"));
}

TEST(ClusterViewTest, FinalizeRejectsBadReferences) {
  ClusterView view = Two();
  view.hosts.push_back(view.hosts[0]);
  EXPECT_THAT(FinalizeError(view), HasSubstr("duplicate host 'imap1'"));

  view = Two();
  view.slots[0].filesystem = "/nope";
  EXPECT_THAT(FinalizeError(view), HasSubstr("unknown filesystem '/nope'"));

  view = Two();
  view.stores[0].copies.push_back({SlotId{"imap9", "s01"}, v1::SLOT_REPLICA});
  EXPECT_THAT(FinalizeError(view), HasSubstr("unknown slot 'imap9/s01'"));

  view = Two();
  view.stores.push_back(view.stores[0]);
  view.stores[1].name = "mail2";
  EXPECT_THAT(FinalizeError(view), HasSubstr("holds 'mail1'"));

  view = Two();
  view.MutableSlot("imap2", "s01")->store = "";
  EXPECT_THAT(FinalizeError(view), HasSubstr("is a copy of store 'mail1'"));

  view = Two();
  view.stores[0].required_copies = 0;
  EXPECT_THAT(FinalizeError(view), HasSubstr("requires 0 copies"));
}

TEST(ClusterViewTest, FormatMs) {
  EXPECT_EQ(FormatMs(-6 * 3'600'000), "-6h");
  EXPECT_EQ(FormatMs(5000), "5s");
  EXPECT_EQ(FormatMs(90'000), "1m30s");
}

}  // namespace
}  // namespace slotkeeper::slotmgr
