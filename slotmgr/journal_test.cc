#include "slotmgr/journal.h"

#include <thread>

#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "base/clock.h"
#include "gtest/gtest.h"
#include "proto/event_kinds.h"

namespace slotkeeper::slotmgr {
namespace {

TEST(JournalTest, RecordNumbersAndStampsEvents) {
  FakeClock clock;
  Journal journal(&clock);
  journal.set_next_seq(41);
  Txn txn;
  journal.Record(txn, event_kind::kHostUp, v1::INFO, "host imap1 reports again", "imap1");
  clock.Advance(absl::Seconds(1));
  journal.Record(txn, MakeEvent(event_kind::kCopyLost, v1::CRITICAL, "lost", "imap2", "s01", "st1",
                                "", "du1"));
  ASSERT_EQ(txn.events.size(), 2u);
  EXPECT_EQ(txn.events[0].seq(), 41u);
  EXPECT_EQ(txn.events[0].kind(), "host.up");
  EXPECT_EQ(txn.events[0].host(), "imap1");
  EXPECT_EQ(txn.events[1].seq(), 42u);
  EXPECT_EQ(txn.events[1].time_ms(), txn.events[0].time_ms() + 1000);
  EXPECT_EQ(txn.events[1].unit(), "du1");
  EXPECT_EQ(journal.next_seq(), 43u);
  EXPECT_EQ(journal.LastSeq(), 42u);
  journal.set_next_seq(0);  // a new cluster's counter
  EXPECT_EQ(journal.next_seq(), 1u);
}

TEST(JournalTest, OnlyPublishedEventsAreInTheWindow) {
  FakeClock clock;
  Journal journal(&clock);
  Txn txn;
  for (int i = 0; i < 3; ++i) journal.Record(txn, event_kind::kTaskStarted, v1::INFO, "x");
  EXPECT_FALSE(journal.RecentAfter(0, 10).has_value()) << "nothing committed yet";
  journal.Publish(txn);
  EXPECT_TRUE(txn.events.empty());
  auto after1 = journal.RecentAfter(1, 10);
  ASSERT_TRUE(after1.has_value());
  ASSERT_EQ(after1->size(), 2u);
  EXPECT_EQ((*after1)[0].seq(), 2u);
  EXPECT_EQ(journal.RecentAfter(0, 1)->size(), 1u) << "limit";
  EXPECT_TRUE(journal.RecentAfter(3, 10)->empty());
}

TEST(JournalTest, TheWindowForgetsTheOldest) {
  FakeClock clock;
  Journal journal(&clock);
  Txn txn;
  for (size_t i = 0; i < Journal::kRecentEvents + 5; ++i) {
    journal.Record(txn, event_kind::kTaskStarted, v1::INFO, "x");
  }
  journal.Publish(txn);
  EXPECT_FALSE(journal.RecentAfter(0, 10).has_value()) << "events 1-5 are only on disk";
  EXPECT_FALSE(journal.RecentAfter(4, 10).has_value());
  ASSERT_TRUE(journal.RecentAfter(5, 10).has_value());
  EXPECT_EQ(journal.RecentAfter(5, 10)->front().seq(), 6u);
}

TEST(JournalTest, RoutingChangesAreNumberedFromOne) {
  FakeClock clock;
  Journal journal(&clock);
  EXPECT_EQ(journal.RoutingCursor(), 0u);
  Txn txn;
  txn.routing.emplace_back().set_store("st1");
  txn.routing.emplace_back().set_store("st2");
  journal.Publish(txn);
  uint64_t next = 0;
  auto changes = journal.RoutingAfter(1, &next);
  ASSERT_EQ(changes.size(), 1u);
  EXPECT_EQ(changes[0].store(), "st2");
  EXPECT_EQ(next, 2u);
  EXPECT_EQ(journal.RoutingCursor(), 2u);
}

TEST(JournalTest, WaitsWakeUpOnPublishOrTimeOut) {
  FakeClock clock;
  absl::Mutex mu;
  Journal journal(&clock);
  {
    absl::MutexLock lock(&mu);
    EXPECT_FALSE(journal.AwaitEventAfter(mu, 0, absl::Milliseconds(10)));
    EXPECT_FALSE(journal.AwaitRoutingAfter(mu, 0, absl::Milliseconds(10)));
  }
  std::thread publisher([&] {
    absl::SleepFor(absl::Milliseconds(20));
    absl::MutexLock lock(&mu);
    Txn txn;
    journal.Record(txn, event_kind::kStoreFailover, v1::CRITICAL, "x");
    txn.routing.emplace_back().set_store("st1");
    journal.Publish(txn);
  });
  {
    absl::MutexLock lock(&mu);
    EXPECT_TRUE(journal.AwaitEventAfter(mu, 0, absl::Seconds(10)));
    EXPECT_TRUE(journal.AwaitRoutingAfter(mu, 0, absl::Seconds(10)));
  }
  publisher.join();
}

}  // namespace
}  // namespace slotkeeper::slotmgr
