#include "slotmgr/journal_retention.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <memory>
#include <vector>

#include "slotmgr/testing/coordinator_fixture.h"

namespace slotkeeper::slotmgr {
namespace {

constexpr int64_t kDay = 24 * 3600 * 1000;

class JournalRetentionTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const std::string dir =
        testing::TempDir(::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::system(("rm -rf " + dir).c_str());
    auto opened = RocksStateStore::Open(dir, /*sync_writes=*/false);
    ASSERT_TRUE(opened.ok()) << opened.status();
    store_ = *std::move(opened);
  }

  // Events 1..n, event i at day i.
  void AppendDays(int n) {
    StateBatch batch;
    for (int i = 1; i <= n; ++i) {
      v1::Event e;
      e.set_seq(i);
      e.set_time_ms(i * kDay);
      e.set_kind("host.down");
      batch.AppendEvent(e);
    }
    ASSERT_TRUE(store_->Commit(batch).ok());
  }

  std::vector<uint64_t> Seqs(int64_t since_ms = 0) {
    EventQuery q;
    q.limit = 1000;
    q.since_ms = since_ms;
    absl::StatusOr<std::vector<v1::Event>> events = store_->ReadEvents(q);
    EXPECT_TRUE(events.ok()) << events.status();
    std::vector<uint64_t> out;
    if (!events.ok()) return out;
    for (const v1::Event& e : *events) out.push_back(e.seq());
    return out;
  }

  std::unique_ptr<RocksStateStore> store_;
};

TEST_F(JournalRetentionTest, EventsOlderThanTheMaximumAgeGo) {
  AppendDays(10);
  RetentionOptions options;
  options.max_age_ms = 3 * kDay;
  // Now is day 10: days 1..6 are older than three days.
  EventPrune p = PlanPrune(options, 10 * kDay, 10, /*floor_ms=*/10 * kDay);
  EXPECT_EQ(*store_->PruneEvents(p), 6u);
  EXPECT_EQ(Seqs(), (std::vector<uint64_t>{7, 8, 9, 10}));
  // The time index went with them: a query by time sees the same.
  EXPECT_EQ(Seqs(1), (std::vector<uint64_t>{7, 8, 9, 10}));
  EXPECT_EQ(*store_->PruneEvents(p), 0u);
}

TEST_F(JournalRetentionTest, OnlyTheNewestMaximumCountStays) {
  AppendDays(10);
  RetentionOptions options;
  options.max_events = 4;
  EventPrune p = PlanPrune(options, 10 * kDay, 10, 10 * kDay);
  EXPECT_EQ(p.below_seq, 7u);
  EXPECT_EQ(*store_->PruneEvents(p), 6u);
  EXPECT_EQ(Seqs(), (std::vector<uint64_t>{7, 8, 9, 10}));
}

TEST_F(JournalRetentionTest, NothingFromTheStartOfOpenTroubleOnIsPruned) {
  AppendDays(10);
  RetentionOptions options;
  options.max_age_ms = 1 * kDay;
  options.max_events = 1;
  // Trouble open since day 4: events 4..10 stay although expired.
  EventPrune p = PlanPrune(options, 10 * kDay, 10, 4 * kDay);
  EXPECT_EQ(*store_->PruneEvents(p), 3u);
  EXPECT_EQ(Seqs(), (std::vector<uint64_t>{4, 5, 6, 7, 8, 9, 10}));
}

TEST_F(JournalRetentionTest, TheFloorGivesWayBeyondTenTimesTheMaximumCount) {
  AppendDays(25);
  RetentionOptions options;
  options.max_events = 2;
  // Trouble open since day 1; 25 events > 10 x 2: the oldest 5 go anyway.
  EventPrune p = PlanPrune(options, 25 * kDay, 25, 1 * kDay);
  EXPECT_EQ(p.force_below_seq, 6u);
  EXPECT_EQ(*store_->PruneEvents(p), 5u);
  EXPECT_EQ(Seqs().front(), 6u);
  EXPECT_EQ(Seqs().size(), 20u);
}

TEST_F(JournalRetentionTest, APassDeletesAtMostItsShare) {
  AppendDays(10);
  RetentionOptions options;
  options.max_events = 1;
  EventPrune p = PlanPrune(options, 10 * kDay, 10, 10 * kDay);
  p.max_delete = 4;
  EXPECT_EQ(*store_->PruneEvents(p), 4u);
  EXPECT_EQ(*store_->PruneEvents(p), 4u);
  EXPECT_EQ(*store_->PruneEvents(p), 1u);
  EXPECT_EQ(Seqs(), (std::vector<uint64_t>{10}));
}

TEST(OpenTroubleTest, TheOldestOpenTroubleSetsTheFloor) {
  ClusterModel model;
  AutomationRecord automation;
  automation.mutable_state()->set_mode(v1::AUTOMATION_RUNNING);
  const int64_t now = 100 * kDay;
  EXPECT_EQ(OpenTroubleSinceMs(model, automation, now), now);

  v1::HostInfo* up = model.hosts["a"].mutable_info();
  up->set_state(v1::HOST_UP);
  up->set_state_since_ms(2 * kDay);  // up since long ago: no trouble
  EXPECT_EQ(OpenTroubleSinceMs(model, automation, now), now);

  v1::HostInfo* down = model.hosts["b"].mutable_info();
  down->set_state(v1::HOST_DOWN);
  down->set_state_since_ms(50 * kDay);
  EXPECT_EQ(OpenTroubleSinceMs(model, automation, now), 50 * kDay);

  v1::UnitInfo* unit = up->add_units();
  unit->set_state(v1::UNIT_FAILED);
  unit->set_failed_since_ms(40 * kDay);
  EXPECT_EQ(OpenTroubleSinceMs(model, automation, now), 40 * kDay);

  model.stores["s"].mutable_info()->set_master_unusable_since_ms(30 * kDay);
  EXPECT_EQ(OpenTroubleSinceMs(model, automation, now), 30 * kDay);

  StoredTask& task = model.tasks["t"];
  task.mutable_info()->set_state(v1::TASK_RUNNING);
  task.mutable_info()->set_created_ms(20 * kDay);
  EXPECT_EQ(OpenTroubleSinceMs(model, automation, now), 20 * kDay);
  task.mutable_info()->set_state(v1::TASK_DONE);
  EXPECT_EQ(OpenTroubleSinceMs(model, automation, now), 30 * kDay);

  automation.mutable_state()->set_mode(v1::AUTOMATION_PAUSED);
  automation.mutable_state()->set_since_ms(10 * kDay);
  EXPECT_EQ(OpenTroubleSinceMs(model, automation, now), 10 * kDay);
}

}  // namespace
}  // namespace slotkeeper::slotmgr
