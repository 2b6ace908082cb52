// The mail-safety headline from literal cluster statuses: the worst that
// applies wins, and a master kept on doubted evidence is not "at risk".
#include "tools/slotctl/headline.h"

#include <gtest/gtest.h>

namespace slotkeeper::slotctl {
namespace {

v1::StoreInfo* AddTroubled(v1::ClusterStatus& st, v1::StoreState state, bool master_serving) {
  v1::StoreInfo* s = st.add_troubled_stores();
  s->set_state(state);
  v1::Copy* c = s->add_copies();
  c->set_role(v1::SLOT_MASTER);
  c->set_serving(master_serving);
  return s;
}

TEST(HeadlineTest, NoStores) {
  const Headline h = MailHeadline(v1::ClusterStatus());
  EXPECT_EQ(h.safety, MailSafety::kNoStores);
  EXPECT_EQ(h.title, "NO STORES");
  EXPECT_STREQ(MailSafetyKey(h.safety), "no_stores");
}

TEST(HeadlineTest, AllHealthyIsSafe) {
  v1::ClusterStatus st;
  st.set_stores_total(3);
  st.set_stores_healthy(3);
  const Headline h = MailHeadline(st);
  EXPECT_EQ(h.safety, MailSafety::kSafe);
  EXPECT_EQ(h.title, "MAIL SAFE");
  EXPECT_EQ(h.detail, "all 3 stores healthy");
}

TEST(HeadlineTest, DegradedIsReducedRedundancy) {
  v1::ClusterStatus st;
  st.set_stores_total(3);
  AddTroubled(st, v1::STORE_DEGRADED, true);
  AddTroubled(st, v1::STORE_DEGRADED, true);
  const Headline h = MailHeadline(st);
  EXPECT_EQ(h.safety, MailSafety::kRedundancyReduced);
  EXPECT_EQ(h.degraded, 2);
  EXPECT_EQ(h.detail,
            "every store has a usable master; 2 store(s) have fewer copies than required");
}

TEST(HeadlineTest, NoMasterOutranksDegraded) {
  v1::ClusterStatus st;
  st.set_stores_total(3);
  AddTroubled(st, v1::STORE_DEGRADED, true);
  AddTroubled(st, v1::STORE_NO_MASTER, false);
  AddTroubled(st, v1::STORE_UNAVAILABLE, false);
  const Headline h = MailHeadline(st);
  EXPECT_EQ(h.safety, MailSafety::kAtRisk);
  EXPECT_EQ(h.title, "MAIL AT RISK");
  EXPECT_EQ(h.no_master, 2);
  EXPECT_EQ(h.degraded, 1);
  EXPECT_STREQ(MailSafetyKey(h.safety), "at_risk");
}

TEST(HeadlineTest, ServingMasterUnderTheBrakeIsDoubtedNotAtRisk) {
  v1::ClusterStatus st;
  st.set_stores_total(2);
  st.mutable_automation()->set_brake_engaged(true);
  AddTroubled(st, v1::STORE_UNAVAILABLE, true);
  Headline h = MailHeadline(st);
  EXPECT_EQ(h.safety, MailSafety::kDoubtedEvidence);
  EXPECT_EQ(h.kept, 1);
  EXPECT_EQ(h.no_master, 0);
  // Without the brake the same store has no usable master.
  st.mutable_automation()->set_brake_engaged(false);
  h = MailHeadline(st);
  EXPECT_EQ(h.safety, MailSafety::kAtRisk);
  EXPECT_EQ(h.no_master, 1);
}

}  // namespace
}  // namespace slotkeeper::slotctl
