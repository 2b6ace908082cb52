#include "slotmgr/promotion.h"

#include <map>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "slotmgr/testing/cluster_tables.h"

namespace slotkeeper::slotmgr {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using namespace ::slotkeeper::slotmgr::tables;  // NOLINT: table helpers

constexpr int64_t kHour = 3'600'000;

// imap1 holds the master and is down; imap2..imap4 hold replicas.
std::vector<HostRow> FourHosts() {
  return {{"imap1", 4, v1::HOST_DOWN}, {"imap2", 4}, {"imap3", 4}, {"imap4", 4}};
}

std::string ReasonOf(const PromotionDecision& d, const std::string& slot) {
  for (const CandidateRejection& r : d.rejections) {
    if (r.slot.ToString() == slot) return r.reason;
  }
  return "";
}

TEST(PromotionTest, PrefersInSyncOverLowerLag) {
  ClusterView view = MakeCluster(FourHosts(), {{"mail1",
                                                {{"imap1/s01", v1::SLOT_MASTER},
                                                 {"imap2/s01", v1::SLOT_REPLICA, 0, false},
                                                 {"imap3/s01", v1::SLOT_REPLICA, 2000, true}}}});
  auto d = ChoosePromotion(view, "mail1", PromotionOptions());
  ASSERT_TRUE(d.ok()) << d.status();
  EXPECT_TRUE(d->promote);
  EXPECT_EQ(d->target.ToString(), "imap3/s01");
  EXPECT_EQ(d->from.ToString(), "imap1/s01");
}

// A replica emptied or replaced behind its agent reports a small lag (it
// counts from its last catch-up) but unknown content: a copy that is merely
// behind, even far behind, goes first; asked for by name, it is refused
// unless forced.
TEST(PromotionTest, ACopyWithAChangedIdentityComesLast) {
  ClusterView view =
      MakeCluster(FourHosts(), {{"mail1",
                                 {{"imap1/s01", v1::SLOT_MASTER},
                                  {"imap2/s01", v1::SLOT_REPLICA, 1'500, false},
                                  {"imap3/s01", v1::SLOT_REPLICA, 600'000, false}}}});
  view.MutableStore("mail1")->copies[1].identity_changed = true;
  auto d = ChoosePromotion(view, "mail1", PromotionOptions());
  ASSERT_TRUE(d.ok()) << d.status();
  EXPECT_TRUE(d->promote);
  EXPECT_EQ(d->target.ToString(), "imap3/s01");

  // The only candidate left: promoted, and the summary says what it is.
  view.MutableStore("mail1")->copies[2].usable = false;
  d = ChoosePromotion(view, "mail1", PromotionOptions());
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(d->target.ToString(), "imap2/s01");
  EXPECT_THAT(d->summary, HasSubstr("content unknown"));

  const SlotId target = Slot("imap2/s01");
  d = CheckPromotionTarget(view, "mail1", target, /*force=*/false, PromotionOptions());
  ASSERT_TRUE(d.ok());
  EXPECT_FALSE(d->promote);
  EXPECT_THAT(ReasonOf(*d, "imap2/s01"), HasSubstr("identity changed"));
  d = CheckPromotionTarget(view, "mail1", target, /*force=*/true, PromotionOptions());
  ASSERT_TRUE(d.ok());
  EXPECT_TRUE(d->promote);
}

TEST(PromotionTest, LowestLagAmongInSync) {
  ClusterView view = MakeCluster(FourHosts(), {{"mail1",
                                                {{"imap1/s01", v1::SLOT_MASTER},
                                                 {"imap2/s01", v1::SLOT_REPLICA, 900},
                                                 {"imap3/s01", v1::SLOT_REPLICA, 300},
                                                 {"imap4/s01", v1::SLOT_REPLICA, 600}}}});
  auto d = ChoosePromotion(view, "mail1", PromotionOptions());
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(d->target.ToString(), "imap3/s01");
}

TEST(PromotionTest, TieBrokenByFewestMastersThenName) {
  // imap2 already masters two stores, imap3 one, imap4 one.
  ClusterView view = MakeCluster(
      FourHosts(), {{"mail1",
                     {{"imap1/s01", v1::SLOT_MASTER},
                      {"imap2/s01", v1::SLOT_REPLICA},
                      {"imap3/s01", v1::SLOT_REPLICA},
                      {"imap4/s01", v1::SLOT_REPLICA}}},
                    {"other1", {{"imap2/s02", v1::SLOT_MASTER}, {"imap3/s02", v1::SLOT_REPLICA}}},
                    {"other2", {{"imap2/s03", v1::SLOT_MASTER}, {"imap4/s02", v1::SLOT_REPLICA}}},
                    {"other3", {{"imap3/s03", v1::SLOT_MASTER}}},
                    {"other4", {{"imap4/s03", v1::SLOT_MASTER}}}});
  auto d = ChoosePromotion(view, "mail1", PromotionOptions());
  ASSERT_TRUE(d.ok());
  // imap3 and imap4 tie on masters (1 each): the name decides.
  EXPECT_EQ(d->target.ToString(), "imap3/s01");
  // Give imap3 one more master: imap4 wins.
  view.MutableStore("other4")->copies[0].role = v1::SLOT_REPLICA;
  view.MutableStore("other1")->copies[1].role = v1::SLOT_MASTER;
  d = ChoosePromotion(view, "mail1", PromotionOptions());
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(d->target.ToString(), "imap4/s01");
}

TEST(PromotionTest, ClockSkewDrainingAndSuspectAreRejectedWithReasons) {
  ClusterView view = MakeCluster({{"imap1", 4, v1::HOST_DOWN},
                                  {"imap2", 4, v1::HOST_UP, false, -6 * kHour},
                                  {"imap3", 4, v1::HOST_UP, /*draining=*/true},
                                  {"imap4", 4, v1::HOST_SUSPECT}},
                                 {{"imap",
                                   {{"imap1/s03", v1::SLOT_MASTER},
                                    {"imap2/s03", v1::SLOT_REPLICA},
                                    {"imap3/s03", v1::SLOT_REPLICA},
                                    {"imap4/s03", v1::SLOT_REPLICA}}}});
  auto d = ChoosePromotion(view, "imap", PromotionOptions());
  ASSERT_TRUE(d.ok());
  EXPECT_FALSE(d->promote);
  EXPECT_EQ(ReasonOf(*d, "imap2/s03"), "imap2/s03: clock offset -6h exceeds 5s");
  EXPECT_EQ(ReasonOf(*d, "imap3/s03"), "imap3/s03: host is draining");
  EXPECT_EQ(ReasonOf(*d, "imap4/s03"), "imap4/s03: host is suspect (silent)");
  EXPECT_THAT(d->summary, HasSubstr("no replica of imap can be promoted"));
  EXPECT_THAT(d->summary, HasSubstr("clock offset -6h"));
  // The skew is not overridable; draining is.
  for (const CandidateRejection& r : d->rejections) {
    EXPECT_EQ(r.overridable, r.slot.host != "imap2") << r.reason;
  }
}

TEST(PromotionTest, SkewJustWithinLimitIsAccepted) {
  ClusterView view =
      MakeCluster({{"imap1", 2, v1::HOST_DOWN}, {"imap2", 2, v1::HOST_UP, false, 5000}},
                  {{"m", {{"imap1/s01", v1::SLOT_MASTER}, {"imap2/s01", v1::SLOT_REPLICA}}}});
  EXPECT_TRUE(ChoosePromotion(view, "m", PromotionOptions())->promote);
  view.MutableHost("imap2")->clock_offset_ms = 5001;
  EXPECT_FALSE(ChoosePromotion(view, "m", PromotionOptions())->promote);
  view.MutableHost("imap2")->clock_offset_ms = 0;
  view.MutableHost("imap2")->clock_skewed = true;  // detector's flag alone suffices
  EXPECT_FALSE(ChoosePromotion(view, "m", PromotionOptions())->promote);
}

TEST(PromotionTest, LagLimitRejectsBehindReplicas) {
  ClusterView view =
      MakeCluster(FourHosts(), {{"mail1",
                                 {{"imap1/s01", v1::SLOT_MASTER},
                                  {"imap2/s01", v1::SLOT_REPLICA, 90'000, false},
                                  {"imap3/s01", v1::SLOT_REPLICA, 120'000, false}}}});
  PromotionOptions options;
  // Without a limit, the least lagging replica is chosen even out of sync.
  auto d = ChoosePromotion(view, "mail1", options);
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(d->target.ToString(), "imap2/s01");
  EXPECT_THAT(d->summary, HasSubstr("NOT in sync"));
  options.max_lag_ms = 60'000;
  d = ChoosePromotion(view, "mail1", options);
  ASSERT_TRUE(d.ok());
  EXPECT_FALSE(d->promote);
  EXPECT_EQ(ReasonOf(*d, "imap2/s01"), "imap2/s01: lag 1m30s exceeds 1m");
}

TEST(PromotionTest, SeedingLostAndUnusableCopiesNeverPromoted) {
  ClusterView view = MakeCluster(FourHosts(), {{"mail1",
                                                {{"imap1/s01", v1::SLOT_MASTER},
                                                 {"imap2/s01", v1::SLOT_SEEDING},
                                                 {"imap3/s01", v1::SLOT_LOST},
                                                 {"imap4/s01", v1::SLOT_REPLICA}}}});
  view.MutableStore("mail1")->copies[3].usable = false;
  auto d = ChoosePromotion(view, "mail1", PromotionOptions());
  ASSERT_TRUE(d.ok());
  EXPECT_FALSE(d->promote);
  EXPECT_THAT(ReasonOf(*d, "imap2/s01"), HasSubstr("still seeding"));
  EXPECT_THAT(ReasonOf(*d, "imap3/s01"), HasSubstr("copy is lost"));
  EXPECT_THAT(ReasonOf(*d, "imap4/s01"), HasSubstr("slot is unusable"));
  EXPECT_EQ(d->rejections.size(), 3u);
}

TEST(PromotionTest, UnknownStoreIsNotFound) {
  ClusterView view = MakeCluster(FourHosts(), {});
  EXPECT_EQ(ChoosePromotion(view, "nope", PromotionOptions()).status().code(),
            absl::StatusCode::kNotFound);
}

TEST(PromotionTest, ExplicitTargetRefusesBehindUnlessForced) {
  ClusterView view = MakeCluster(FourHosts(), {{"mail1",
                                                {{"imap1/s01", v1::SLOT_MASTER},
                                                 {"imap2/s01", v1::SLOT_REPLICA, 45'000, false},
                                                 {"imap3/s01", v1::SLOT_REPLICA}}}});
  const SlotId target = Slot("imap2/s01");
  auto d = CheckPromotionTarget(view, "mail1", target, /*force=*/false, PromotionOptions());
  ASSERT_TRUE(d.ok());
  EXPECT_FALSE(d->promote);
  EXPECT_EQ(ReasonOf(*d, "imap2/s01"), "imap2/s01: not in sync (lag 45s)");
  EXPECT_THAT(d->summary, HasSubstr("use force"));

  d = CheckPromotionTarget(view, "mail1", target, /*force=*/true, PromotionOptions());
  ASSERT_TRUE(d.ok());
  EXPECT_TRUE(d->promote);
  EXPECT_EQ(d->target, target);
  EXPECT_THAT(d->overridden, ElementsAre("not in sync (lag 45s)"));
}

TEST(PromotionTest, ExplicitTargetOnSkewedOrDownHostRefusedEvenWithForce) {
  ClusterView view = MakeCluster(
      {{"imap1", 2}, {"imap2", 2, v1::HOST_UP, false, -6 * kHour}, {"imap3", 2, v1::HOST_DOWN}},
      {{"mail1",
        {{"imap1/s01", v1::SLOT_MASTER},
         {"imap2/s01", v1::SLOT_REPLICA},
         {"imap3/s01", v1::SLOT_REPLICA}}}});
  auto d = CheckPromotionTarget(view, "mail1", Slot("imap2/s01"), true, PromotionOptions());
  ASSERT_TRUE(d.ok());
  EXPECT_FALSE(d->promote);
  EXPECT_EQ(ReasonOf(*d, "imap2/s01"), "imap2/s01: clock offset -6h exceeds 5s");
  d = CheckPromotionTarget(view, "mail1", Slot("imap3/s01"), true, PromotionOptions());
  ASSERT_TRUE(d.ok());
  EXPECT_FALSE(d->promote);
  EXPECT_THAT(ReasonOf(*d, "imap3/s01"), HasSubstr("host is down"));
  d = CheckPromotionTarget(view, "mail1", Slot("imap1/s01"), true, PromotionOptions());
  ASSERT_TRUE(d.ok());
  EXPECT_FALSE(d->promote);
  EXPECT_THAT(d->summary, HasSubstr("already the master"));
}

TEST(PromotionTest, ExplicitTargetErrors) {
  ClusterView view = MakeCluster(
      FourHosts(), {{"mail1", {{"imap1/s01", v1::SLOT_MASTER}, {"imap2/s01", v1::SLOT_REPLICA}}}});
  EXPECT_EQ(CheckPromotionTarget(view, "mail1", Slot("imap9/s01"), false, PromotionOptions())
                .status()
                .code(),
            absl::StatusCode::kNotFound);
  EXPECT_EQ(CheckPromotionTarget(view, "mail1", Slot("imap3/s01"), false, PromotionOptions())
                .status()
                .code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(CheckPromotionTarget(view, "nope", Slot("imap2/s01"), false, PromotionOptions())
                .status()
                .code(),
            absl::StatusCode::kNotFound);
}

TEST(PromotionTest, SuccessiveChoicesSpreadNewMastersOverHosts) {
  // Six stores mastered on imap1, each replicated on imap2..imap4 and all in
  // sync: the new masters must not all land on imap2. The coordinator
  // promotes one store at a time and the next choice sees the new master
  // (the "fewest masters on its host" tie-break).
  std::vector<StoreRow> stores;
  for (int i = 1; i <= 6; ++i) {
    std::string s = absl::StrFormat("s%02d", i);
    stores.push_back({absl::StrCat("mail", i),
                      {{"imap1/" + s, v1::SLOT_MASTER},
                       {"imap2/" + s, v1::SLOT_REPLICA},
                       {"imap3/" + s, v1::SLOT_REPLICA},
                       {"imap4/" + s, v1::SLOT_REPLICA}},
                      kGB,
                      4});
  }
  ClusterView view =
      MakeCluster({{"imap1", 6, v1::HOST_DOWN}, {"imap2", 6}, {"imap3", 6}, {"imap4", 6}}, stores);
  std::map<std::string, int> per_host;
  for (const StoreRow& r : stores) {
    auto d = ChoosePromotion(view, r.name, PromotionOptions());
    ASSERT_TRUE(d.ok());
    ASSERT_TRUE(d->promote) << d->summary;
    ++per_host[d->target.host];
    for (CopyView& c : view.MutableStore(r.name)->copies) {
      if (c.role == v1::SLOT_MASTER) c.role = v1::SLOT_REPLICA;
      if (c.slot == d->target) c.role = v1::SLOT_MASTER;
    }
  }
  EXPECT_THAT(per_host, ElementsAre(std::pair<const std::string, int>("imap2", 2),
                                    std::pair<const std::string, int>("imap3", 2),
                                    std::pair<const std::string, int>("imap4", 2)));
}

TEST(PromotionTest, UnfinalizedViewIsRefused) {
  ClusterView view;
  EXPECT_EQ(ChoosePromotion(view, "x", PromotionOptions()).status().code(),
            absl::StatusCode::kFailedPrecondition);
}

}  // namespace
}  // namespace slotkeeper::slotmgr
