#include "slotmgr/placement.h"

#include <map>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "slotmgr/testing/cluster_tables.h"

namespace slotkeeper::slotmgr {
namespace {

using ::testing::HasSubstr;
using namespace ::slotkeeper::slotmgr::tables;  // NOLINT: table helpers

// A store on imap1 (lost), imap2 and imap3; spare slots everywhere else.
ClusterView OneLostCopy(std::vector<HostRow> extra_hosts) {
  std::vector<HostRow> hosts = {{"imap1", 2}, {"imap2", 2}, {"imap3", 2}};
  hosts.insert(hosts.end(), extra_hosts.begin(), extra_hosts.end());
  ClusterView view = MakeCluster(hosts, {{"mail1",
                                          {{"imap1/s01", v1::SLOT_REPLICA},
                                           {"imap2/s01", v1::SLOT_MASTER},
                                           {"imap3/s01", v1::SLOT_REPLICA}}}});
  LoseHost(&view, "imap1");
  return view;
}

// The tables below are sized for 10% headroom.
PlacementOptions TenPercentHeadroom() {
  PlacementOptions options;
  options.headroom_fraction = 0.10;
  return options;
}

// Every store of the view.
PlacementPlan Plan(const ClusterView& view,
                   const PlacementOptions& options = TenPercentHeadroom()) {
  std::vector<std::string> stores;
  for (const StoreView& st : view.stores) stores.push_back(st.name);
  absl::StatusOr<PlacementPlan> plan = PlanReReplicationFor(view, stores, options);
  EXPECT_TRUE(plan.ok()) << plan.status();
  return plan.ok() ? *plan : PlacementPlan();
}

TEST(PlacementTest, NeverOnAHostHoldingACopyIncludingTheLostOne) {
  // imap1 still has a spare slot, but it holds the lost copy (and is down).
  ClusterView view = OneLostCopy({});
  view.MutableHost("imap1")->state = v1::HOST_UP;  // even if it were up again
  PlacementPlan plan = Plan(view);
  EXPECT_TRUE(plan.placements.empty());
  ASSERT_EQ(plan.unplaced.size(), 1u);
  EXPECT_EQ(plan.unplaced[0].store, "mail1");
  EXPECT_EQ(plan.unplaced[0].missing, 1);
  EXPECT_THAT(plan.unplaced[0].reason, HasSubstr("3 host(s) hold a copy"));
}

TEST(PlacementTest, SkipsUnhealthyHostsAndPicksTheOnlyGoodOne) {
  ClusterView view = OneLostCopy({{"imap4", 2, v1::HOST_DOWN},
                                  {"imap5", 2, v1::HOST_SUSPECT},
                                  {"imap6", 2, v1::HOST_UP, /*draining=*/true},
                                  {"imap7", 2, v1::HOST_UP, false, /*offset=*/-7'200'000},
                                  {"imap8", 2}});
  PlacementPlan plan = Plan(view);
  ASSERT_EQ(plan.placements.size(), 1u);
  EXPECT_EQ(plan.placements[0].target.host, "imap8");
  EXPECT_TRUE(plan.unplaced.empty());

  view.MutableHost("imap8")->draining = true;
  plan = Plan(view);
  EXPECT_TRUE(plan.placements.empty());
  ASSERT_EQ(plan.unplaced.size(), 1u);
  EXPECT_THAT(plan.unplaced[0].reason, HasSubstr("5 host(s) down, suspect, draining"));
}

TEST(PlacementTest, SkipsUnusableFilesystemsFailedUnitsAndUnusableSlots) {
  ClusterView view = OneLostCopy({{"imap4", 2}, {"imap5", 2}, {"imap6", 2}, {"imap7", 2}});
  for (FilesystemView& fs : view.filesystems) {
    if (fs.host == "imap4") fs.usable = false;
  }
  for (UnitView& u : view.units) {
    if (u.host == "imap5") u.state = v1::UNIT_FAILED;
  }
  view.MutableSlot("imap6", "s01")->usable = false;
  view.MutableSlot("imap6", "s02")->usable = false;
  PlacementPlan plan = Plan(view);
  ASSERT_EQ(plan.placements.size(), 1u);
  EXPECT_EQ(plan.placements[0].target.host, "imap7");
}

TEST(PlacementTest, NeedsRoomForBytesPlusHeadroomInSlotAndFilesystem) {
  // The store is 10 GB; with 10% headroom it needs 11 GB.
  ClusterView view = OneLostCopy({{"imap4", 2}, {"imap5", 2}});
  view.MutableSlot("imap4", "s01")->capacity_bytes = 10'500'000'000;
  view.MutableSlot("imap4", "s02")->capacity_bytes = 10'500'000'000;
  for (FilesystemView& fs : view.filesystems) {
    if (fs.host == "imap5") fs.free_bytes = 10'900'000'000;
  }
  PlacementPlan plan = Plan(view);
  EXPECT_TRUE(plan.placements.empty());
  ASSERT_EQ(plan.unplaced.size(), 1u);
  EXPECT_THAT(plan.unplaced[0].reason, HasSubstr("11000000000 bytes"));

  PlacementOptions no_headroom;
  no_headroom.headroom_fraction = 0;
  plan = Plan(view, no_headroom);
  ASSERT_EQ(plan.placements.size(), 1u);
  EXPECT_EQ(plan.placements[0].target.host, "imap5");
}

TEST(PlacementTest, FilesystemRoomIsConsumedByEarlierPlacements) {
  // imap4 has two spares but its filesystem holds only one more store.
  ClusterView view = MakeCluster({{"imap1", 2}, {"imap2", 2}, {"imap3", 2}, {"imap4", 2}},
                                 {{"a",
                                   {{"imap1/s01", v1::SLOT_MASTER},
                                    {"imap2/s01", v1::SLOT_REPLICA},
                                    {"imap3/s01", v1::SLOT_REPLICA}}},
                                  {"b",
                                   {{"imap1/s02", v1::SLOT_MASTER},
                                    {"imap2/s02", v1::SLOT_REPLICA},
                                    {"imap3/s02", v1::SLOT_REPLICA}}}});
  LoseHost(&view, "imap1");
  for (FilesystemView& fs : view.filesystems) {
    if (fs.host == "imap4") fs.free_bytes = 15 * kGB;
  }
  PlacementPlan plan = Plan(view);
  ASSERT_EQ(plan.placements.size(), 1u);
  EXPECT_EQ(plan.placements[0].store, "a");  // same risk: name decides
  ASSERT_EQ(plan.unplaced.size(), 1u);
  EXPECT_EQ(plan.unplaced[0].store, "b");

  // A placement consumes the store's bytes, not its headroom: 21.5 GB hold
  // two 10 GB stores that each need 11 GB free when placed.
  for (FilesystemView& fs : view.filesystems) {
    if (fs.host == "imap4") fs.free_bytes = 21'500'000'000;
  }
  plan = Plan(view);
  EXPECT_EQ(plan.placements.size(), 2u);
  EXPECT_TRUE(plan.unplaced.empty());
}

TEST(PlacementTest, SourceIsAnInSyncUsableCopyPreferringAReplica) {
  ClusterView view = OneLostCopy({{"imap4", 2}});
  PlacementPlan plan = Plan(view);
  ASSERT_EQ(plan.placements.size(), 1u);
  EXPECT_EQ(plan.placements[0].source.ToString(), "imap3/s01");  // replica, not master

  view.MutableStore("mail1")->copies[2].in_sync = false;  // imap3's replica is behind
  plan = Plan(view);
  ASSERT_EQ(plan.placements.size(), 1u);
  EXPECT_EQ(plan.placements[0].source.ToString(), "imap2/s01");

  view.MutableStore("mail1")->copies[1].usable = false;  // and the master is unusable
  plan = Plan(view);
  EXPECT_TRUE(plan.placements.empty());
  ASSERT_EQ(plan.unplaced.size(), 1u);
  EXPECT_EQ(plan.unplaced[0].reason, "no usable in-sync copy to copy from");
}

TEST(PlacementTest, MostEndangeredStoreGetsTheOnlySpare) {
  // "two" lost one of three copies; "one" lost two: only one spare exists.
  ClusterView view = MakeCluster({{"imap1", 2}, {"imap2", 2}, {"imap3", 2}, {"imap4", 1}},
                                 {{"two",
                                   {{"imap1/s01", v1::SLOT_REPLICA},
                                    {"imap2/s01", v1::SLOT_MASTER},
                                    {"imap3/s01", v1::SLOT_REPLICA}}},
                                  {"one",
                                   {{"imap1/s02", v1::SLOT_REPLICA},
                                    {"imap2/s02", v1::SLOT_LOST},
                                    {"imap3/s02", v1::SLOT_MASTER}}}});
  LoseHost(&view, "imap1");
  PlacementPlan plan = Plan(view);
  ASSERT_GE(plan.placements.size(), 1u);
  EXPECT_EQ(plan.placements[0].store, "one");
  EXPECT_EQ(plan.placements[0].target.ToString(), "imap4/s01");
}

TEST(PlacementTest, SeedingCopiesCountAsPresent) {
  ClusterView view = OneLostCopy({{"imap4", 2}, {"imap5", 2}});
  StoreView* st = view.MutableStore("mail1");
  view.MutableSlot("imap4", "s01")->role = v1::SLOT_SEEDING;
  view.MutableSlot("imap4", "s01")->store = "mail1";
  st->copies.push_back({SlotId{"imap4", "s01"}, v1::SLOT_SEEDING, true, false, 0});
  ASSERT_TRUE(view.Finalize().ok());
  EXPECT_TRUE(Plan(view).placements.empty());
  EXPECT_TRUE(Plan(view).unplaced.empty());
}

// Ten stores lost one copy each on imap1; their other copies are spread over
// imap2..imap11. The replacements must spread many-to-many.
TEST(PlacementTest, LostHostIsRebuiltManyToMany) {
  std::vector<HostRow> hosts;
  for (int h = 1; h <= 11; ++h) hosts.push_back({absl::StrCat("imap", h), 10});
  std::vector<StoreRow> stores;
  for (int i = 0; i < 10; ++i) {
    std::string slot = absl::StrFormat("s%02d", i + 1);
    int a = 2 + i;             // 2..11
    int b = 2 + (i + 3) % 10;  // another host in 2..11
    stores.push_back(
        {absl::StrCat("mail", i),
         {{"imap1/" + slot, i % 2 ? v1::SLOT_MASTER : v1::SLOT_REPLICA},
          {absl::StrCat("imap", a, "/", slot), i % 2 ? v1::SLOT_REPLICA : v1::SLOT_MASTER},
          {absl::StrCat("imap", b, "/", slot), v1::SLOT_REPLICA}}});
  }
  ClusterView view = MakeCluster(hosts, stores);
  LoseHost(&view, "imap1");
  PlacementPlan plan = Plan(view);
  ASSERT_EQ(plan.placements.size(), 10u);
  EXPECT_TRUE(plan.unplaced.empty());
  std::map<std::string, int> targets, sources;
  for (const ReplicaPlacement& p : plan.placements) {
    ++targets[p.target.host];
    ++sources[p.source.host];
    const StoreView* st = view.FindStore(p.store);
    EXPECT_FALSE(st->HasCopyOnHost(p.target.host)) << p.store << " -> " << p.target.ToString();
    EXPECT_NE(p.target.host, p.source.host);
  }
  // Ten copies over ten survivors: each receives and sends exactly once.
  EXPECT_EQ(targets.size(), 10u);
  EXPECT_EQ(sources.size(), 10u);
  for (const auto& [host, n] : targets) EXPECT_EQ(n, 1) << host;
  for (const auto& [host, n] : sources) EXPECT_EQ(n, 1) << host;
}

TEST(PlacementTest, TasksInFlightCountAsLoad) {
  ClusterView view = OneLostCopy({{"imap4", 2}, {"imap5", 2}});
  // imap4 already receives a copy: the new one goes to imap5 instead.
  view.tasks.push_back({"t1", "x", SlotId{"imap2", "s02"}, SlotId{"imap4", "s02"}, true});
  ASSERT_TRUE(view.Finalize().ok());
  PlacementPlan plan = Plan(view);
  ASSERT_EQ(plan.placements.size(), 1u);
  EXPECT_EQ(plan.placements[0].target.host, "imap5");
}

TEST(PlacementTest, DeterministicAndRestrictedToListedStores) {
  ClusterView view = MakeCluster({{"imap1", 3}, {"imap2", 3}, {"imap3", 3}, {"imap4", 3}},
                                 {{"a",
                                   {{"imap1/s01", v1::SLOT_MASTER},
                                    {"imap2/s01", v1::SLOT_REPLICA},
                                    {"imap3/s01", v1::SLOT_REPLICA}}},
                                  {"b",
                                   {{"imap1/s02", v1::SLOT_MASTER},
                                    {"imap2/s02", v1::SLOT_REPLICA},
                                    {"imap3/s02", v1::SLOT_REPLICA}}}});
  LoseHost(&view, "imap1");
  PlacementPlan first = Plan(view);
  PlacementPlan second = Plan(view);
  ASSERT_EQ(first.placements.size(), 2u);
  for (size_t i = 0; i < 2; ++i) {
    EXPECT_EQ(first.placements[i].store, second.placements[i].store);
    EXPECT_EQ(first.placements[i].target, second.placements[i].target);
    EXPECT_EQ(first.placements[i].source, second.placements[i].source);
  }
  auto only_b = PlanReReplicationFor(view, {"b"}, TenPercentHeadroom());
  ASSERT_TRUE(only_b.ok());
  ASSERT_EQ(only_b->placements.size(), 1u);
  EXPECT_EQ(only_b->placements[0].store, "b");
  EXPECT_EQ(PlanReReplicationFor(view, {"zz"}, TenPercentHeadroom()).status().code(),
            absl::StatusCode::kNotFound);
}

TEST(PlacementTest, NewStorePlacesReplicasOnDistinctOtherHosts) {
  ClusterView view = MakeCluster({{"imap1", 2}, {"imap2", 2}, {"imap3", 2}, {"imap4", 2}}, {});
  auto plan = PlanNewStore(view, "fresh", Slot("imap1/s01"), 3, 5 * kGB, TenPercentHeadroom());
  ASSERT_TRUE(plan.ok()) << plan.status();
  ASSERT_EQ(plan->placements.size(), 2u);
  std::set<std::string> hosts;
  for (const ReplicaPlacement& p : plan->placements) {
    EXPECT_EQ(p.store, "fresh");
    EXPECT_EQ(p.source.ToString(), "imap1/s01");
    EXPECT_NE(p.target.host, "imap1");
    hosts.insert(p.target.host);
  }
  EXPECT_EQ(hosts.size(), 2u);

  plan = PlanNewStore(view, "big", Slot("imap1/s01"), 5, 5 * kGB, TenPercentHeadroom());
  ASSERT_TRUE(plan.ok());
  EXPECT_EQ(plan->placements.size(), 3u);  // only three other hosts
  ASSERT_EQ(plan->unplaced.size(), 1u);
  EXPECT_EQ(plan->unplaced[0].missing, 1);

  EXPECT_EQ(PlanNewStore(view, "x", Slot("imap1/s01"), 0, 1, {}).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(PlanNewStore(view, "", Slot("imap1/s01"), 2, 1, {}).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(PlanNewStore(view, "x", Slot("imap9/s01"), 2, 1, {}).status().code(),
            absl::StatusCode::kNotFound);
  view.MutableSlot("imap1", "s01")->store = "other";
  EXPECT_EQ(PlanNewStore(view, "x", Slot("imap1/s01"), 2, 1, {}).status().code(),
            absl::StatusCode::kFailedPrecondition);
}

}  // namespace
}  // namespace slotkeeper::slotmgr
