// Queries: lookups, the journal by time, the model checks of ksck.
#include "slotmgr/queries.h"

#include <set>
#include <string>

#include "gtest/gtest.h"
#include "proto/model_util.h"
#include "slotmgr/coordinator.h"
#include "slotmgr/testing/coordinator_fixture.h"

namespace slotkeeper::slotmgr {
namespace {

using testing::CoordinatorFixture;
using testing::MakeInventory;
using testing::Ref;

class CoordinatorOpsTest : public CoordinatorFixture {};

TEST_F(CoordinatorOpsTest, EventsNewestFirstPageBackWithWhatRemains) {
  RegisterThree();
  CreateHealthyStore();
  const uint64_t last = coord_->queries().LastEventSeq();
  ASSERT_GT(last, 10u);
  v1::ListEventsRequest q;
  q.set_newest_first(true);
  q.set_limit(4);
  absl::StatusOr<v1::ListEventsResponse> page = coord_->queries().ListEvents(q);
  ASSERT_TRUE(page.ok()) << page.status();
  ASSERT_EQ(page->events_size(), 4);
  EXPECT_EQ(page->events(0).seq(), last);
  EXPECT_EQ(page->events(3).seq(), last - 3);
  EXPECT_EQ(page->remaining(), last - 4);
  q.set_before_seq(page->events(3).seq());
  page = coord_->queries().ListEvents(q);
  ASSERT_TRUE(page.ok());
  EXPECT_EQ(page->events(0).seq(), last - 4);
  EXPECT_EQ(page->remaining(), last - 8);
  // The default stays oldest first (what existing callers rely on).
  v1::ListEventsRequest chrono;
  chrono.set_limit(3);
  page = coord_->queries().ListEvents(chrono);
  ASSERT_TRUE(page.ok());
  EXPECT_EQ(page->events(0).seq(), 1u);
  EXPECT_EQ(page->events(2).seq(), 3u);
  EXPECT_EQ(page->remaining(), last - 3);
  chrono.set_after_seq(last - 2);
  page = coord_->queries().ListEvents(chrono);
  ASSERT_TRUE(page.ok());
  ASSERT_EQ(page->events_size(), 2);
  EXPECT_EQ(page->events(0).seq(), last - 1);
  EXPECT_EQ(page->remaining(), 0u);
}

TEST_F(CoordinatorOpsTest, LookupUserAndEventsByTime) {
  v1::HostInventory inv = MakeInventory("imap1");
  v1::SlotContents* c = inv.add_contents();
  c->set_slot("s01");
  c->set_store("st9");
  c->add_users("bob");
  RegisterHost(inv);
  EXPECT_EQ(coord_->queries().GetStore("st9")->user_count(), 1u);
  auto loc = coord_->queries().LookupUser("bob");
  ASSERT_TRUE(loc.ok()) << loc.status();
  EXPECT_EQ(loc->store(), "st9");
  EXPECT_EQ(coord_->queries().LookupUser("nobody").status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(coord_->queries().LookupUser("").status().code(), absl::StatusCode::kInvalidArgument);
  const int64_t t0 = clock_.NowMs();
  clock_.Advance(absl::Minutes(5));
  RegisterHost(MakeInventory("imap2"));
  v1::ListEventsRequest q;
  q.set_since_ms(t0 + 1);
  auto events = coord_->queries().ListEvents(q);
  ASSERT_TRUE(events.ok());
  ASSERT_FALSE(events->events().empty());
  for (const auto& e : events->events()) EXPECT_GT(e.time_ms(), t0);
  q.set_host("imap2");
  events = coord_->queries().ListEvents(q);
  ASSERT_TRUE(events.ok());
  for (const auto& e : events->events()) EXPECT_EQ(e.host(), "imap2");
  q.set_until_ms(t0 - 5);
  EXPECT_EQ(coord_->queries().ListEvents(q).status().code(), absl::StatusCode::kInvalidArgument);
}

TEST_F(CoordinatorOpsTest, ConsistencyCheckFindsLostReferencesAndMissingCopies) {
  RegisterThree();
  CreateHealthyStore();
  EXPECT_TRUE(coord_->queries().CheckModel().problems().empty());
  ASSERT_TRUE(MarkLost("imap3", "du1").ok());  // no fourth host: nothing can replace it
  v1::ConsistencyReport r = coord_->queries().CheckModel();
  bool lost_ref = false, short_copies = false;
  for (const auto& p : r.problems()) {
    lost_ref |= p.text().find("lost drive unit") != std::string::npos;
    short_copies |= p.text().find("of 3 required copies usable") != std::string::npos;
  }
  EXPECT_TRUE(lost_ref);
  EXPECT_TRUE(short_copies);
  EXPECT_FALSE(EventsOfKind("placement.refused").empty());
}

}  // namespace
}  // namespace slotkeeper::slotmgr
