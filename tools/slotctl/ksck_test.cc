#include "tools/slotctl/ksck.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tools/slotctl/test_cluster.h"

namespace slotkeeper::slotctl {
namespace {

using ::testing::ElementsAre;

std::vector<std::string> Lines(const v1::ConsistencyReport& report) {
  std::vector<std::string> lines;
  for (const v1::ConsistencyProblem& p : report.problems()) {
    lines.push_back(p.severity() + " " + p.store() + " " + p.host() + "/" + p.slot() + " " +
                    p.text());
  }
  return lines;
}

constexpr int64_t kNow = 1'800'000'000'000;

TEST(CheckModelTest, OutageCluster) {
  FakeCluster c = OutageCluster(kNow);
  v1::ConsistencyReport report = CheckModel(c.stores, c.hosts, 60'000);
  EXPECT_EQ(report.stores_checked(), 3u);
  EXPECT_THAT(Lines(report),
              ElementsAre("error st2 imap4/s02 master imap4/s02 is unusable: filesystem "
                          "/srv/mail2 read-only",
                          "warning st2 imap3/s02 replica imap3/s02 lags by 5m (bound 1m)",
                          "error st2 / 2 of 3 required copies usable",
                          "warning st3 imap4/s03 replica imap4/s03 lags by 2h (bound 1m)",
                          "error st3 / 1 of 3 required copies usable"));
}

TEST(CheckModelTest, HealthyStoreHasNoProblems) {
  FakeCluster c = OutageCluster(kNow);
  EXPECT_EQ(CheckModel({c.stores[0]}, c.hosts, 60'000).problems_size(), 0);
}

TEST(CheckModelTest, LostUnitSameHostUnknownSlotAndDisagreement) {
  FakeCluster c = OutageCluster(kNow);
  c.FindHost("imap4")->mutable_units(1)->set_state(v1::UNIT_LOST);
  v1::StoreInfo st1 = c.stores[0];
  // A second copy on imap1, a copy on a slot nobody reports, two masters.
  v1::Copy* dup = st1.add_copies();
  dup->mutable_slot()->set_host("imap1");
  dup->mutable_slot()->set_slot("s02");
  dup->set_role(v1::SLOT_MASTER);
  dup->set_usable(true);
  v1::Copy* ghost = st1.add_copies();
  ghost->mutable_slot()->set_host("imap7");
  ghost->mutable_slot()->set_slot("s01");
  ghost->set_role(v1::SLOT_REPLICA);
  ghost->set_usable(true);
  EXPECT_THAT(Lines(CheckModel({st1}, c.hosts, 60'000)),
              ElementsAre("error st1 imap1/s02 host says imap1/s02 is replica of \"st2\", store "
                          "says master",
                          "error st1 imap7/s01 copy on imap7/s01, a slot no host reports",
                          "error st1 / 2 masters",
                          "error st1 / 2 copies on host imap1 (copies need distinct hosts)"));
  // st3's replica on imap4/s03 sits on du2, now lost.
  v1::ConsistencyReport report = CheckModel({c.stores[2]}, c.hosts, 10 * 3'600'000);
  EXPECT_THAT(Lines(report),
              ElementsAre("error st3 imap4/s03 still references imap4/s03 on lost drive unit "
                          "imap4/du2",
                          "error st3 / 1 of 3 required copies usable"));
}

}  // namespace
}  // namespace slotkeeper::slotctl
