#include "slotmgr/guardrails.h"

#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "slotmgr/testing/cluster_tables.h"

namespace slotkeeper::slotmgr {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using namespace ::slotkeeper::slotmgr::tables;  // NOLINT: table helpers

constexpr int64_t kNow = 1'800'000'000'000;
constexpr int64_t kMinute = 60'000;

// `n` hosts, all heard a second ago.
ClusterView Hosts(int n) {
  std::vector<HostRow> rows;
  for (int i = 1; i <= n; ++i) rows.push_back({absl::StrCat("imap", i), 1});
  ClusterView view = MakeCluster(rows, {});
  for (HostView& h : view.hosts) h.last_heard_ms = kNow - 1000;
  return view;
}

void Silence(ClusterView* view, const std::string& host, v1::HostState state, int64_t since_ms) {
  HostView* h = view->MutableHost(host);
  h->state = state;
  h->last_heard_ms = since_ms;
}

TEST(MassFailureTest, BrakeEngagesStrictlyAboveTheFraction) {
  ClusterView view = Hosts(10);
  Silence(&view, "imap1", v1::HOST_DOWN, kNow - 2 * kMinute);
  Silence(&view, "imap2", v1::HOST_SUSPECT, kNow - 6000);
  Silence(&view, "imap3", v1::HOST_DOWN, kNow - kMinute);
  GuardrailOptions options;  // 0.3
  BrakeDecision d = CheckMassFailure(view, kNow, options);
  EXPECT_FALSE(d.engage);  // 3 of 10 is not more than 30%
  EXPECT_EQ(d.silent_hosts, 3);
  EXPECT_EQ(d.considered_hosts, 10);

  Silence(&view, "imap10", v1::HOST_SUSPECT, kNow - 5500);
  d = CheckMassFailure(view, kNow, options);
  EXPECT_TRUE(d.engage);
  EXPECT_THAT(d.silent, ElementsAre("imap1", "imap10", "imap2", "imap3"));
  EXPECT_THAT(d.reason, HasSubstr("4 of 10 hosts (40%) went silent within 10m"));
  EXPECT_THAT(d.reason, HasSubstr("freezing automation"));
}

TEST(MassFailureTest, OldFailuresAreNotPartOfTheBurst) {
  ClusterView view = Hosts(10);
  // Two hosts died yesterday: known failures, outside the window.
  Silence(&view, "imap1", v1::HOST_DOWN, kNow - 24 * 60 * kMinute);
  Silence(&view, "imap2", v1::HOST_DOWN, kNow - 24 * 60 * kMinute);
  Silence(&view, "imap3", v1::HOST_DOWN, kNow - kMinute);
  Silence(&view, "imap4", v1::HOST_DOWN, kNow - kMinute);
  BrakeDecision d = CheckMassFailure(view, kNow, GuardrailOptions());
  EXPECT_EQ(d.considered_hosts, 8);
  EXPECT_EQ(d.silent_hosts, 2);
  EXPECT_FALSE(d.engage);  // 25%
  Silence(&view, "imap5", v1::HOST_SUSPECT, kNow - 7000);
  d = CheckMassFailure(view, kNow, GuardrailOptions());
  EXPECT_TRUE(d.engage);  // 3 of 8 = 37.5%
}

TEST(MassFailureTest, OneDeadHostInASmallClusterIsNotAMassFailure) {
  ClusterView view = Hosts(3);
  Silence(&view, "imap2", v1::HOST_DOWN, kNow - kMinute);
  BrakeDecision d = CheckMassFailure(view, kNow, GuardrailOptions());
  EXPECT_FALSE(d.engage);  // 33% but a single host
  Silence(&view, "imap3", v1::HOST_DOWN, kNow - kMinute);
  EXPECT_TRUE(CheckMassFailure(view, kNow, GuardrailOptions()).engage);
}

TEST(FailoverRateTest, LimitWithinSlidingWindow) {
  GuardrailOptions options;
  options.max_auto_failovers = 3;
  options.failover_window_ms = 10 * kMinute;
  std::vector<FailoverRecord> history = {
      {"a", kNow - 9 * kMinute}, {"b", kNow - 5 * kMinute}, {"c", kNow - 1 * kMinute}};
  RateLimitDecision d = CheckFailoverRate(history, "d", kNow, options);
  EXPECT_FALSE(d.allowed);
  EXPECT_EQ(d.recent, 3);
  EXPECT_EQ(d.limit, 3);
  EXPECT_THAT(d.reason, HasSubstr("3 automatic failovers within 10m (limit 3)"));
  // The oldest one leaves the window a minute later.
  d = CheckFailoverRate(history, "d", kNow + kMinute, options);
  EXPECT_TRUE(d.allowed);
  EXPECT_EQ(d.recent, 2);
}

TEST(FailoverRateTest, SameStoreCooldown) {
  GuardrailOptions options;  // 1 h cooldown
  std::vector<FailoverRecord> history = {{"mail7", kNow - 50 * kMinute}};
  RateLimitDecision d = CheckFailoverRate(history, "mail7", kNow, options);
  EXPECT_FALSE(d.allowed);
  EXPECT_THAT(d.reason, HasSubstr("store mail7 was failed over automatically 50m ago"));
  EXPECT_TRUE(CheckFailoverRate(history, "mail8", kNow, options).allowed);
  EXPECT_TRUE(CheckFailoverRate(history, "mail7", kNow + 10 * kMinute, options).allowed);
}

TEST(FailoverRateTest, PureFunctionOverJournalRecords) {
  GuardrailOptions options;
  options.max_auto_failovers = 1;
  std::vector<FailoverRecord> journal = {{"x", kNow - 20 * kMinute}};
  EXPECT_TRUE(CheckFailoverRate(journal, "y", kNow, options).allowed);
  journal.push_back({"z", kNow - kMinute});
  EXPECT_FALSE(CheckFailoverRate(journal, "y", kNow, options).allowed);
}

TEST(GuardrailOptionsTest, Validate) {
  EXPECT_TRUE(GuardrailOptions().Validate().ok());
  GuardrailOptions bad;
  bad.max_down_fraction = 0;
  EXPECT_THAT(std::string(bad.Validate().message()), HasSubstr("max_down_fraction"));
  bad = GuardrailOptions();
  bad.failover_window_ms = 0;
  EXPECT_THAT(std::string(bad.Validate().message()), HasSubstr("failover_window_ms"));
  bad = GuardrailOptions();
  bad.evidence_unit_fraction = 0;
  EXPECT_THAT(std::string(bad.Validate().message()), HasSubstr("evidence brake fractions"));
  bad = GuardrailOptions();
  bad.flap_suppress_threshold = 0.5;
  EXPECT_THAT(std::string(bad.Validate().message()), HasSubstr("flap_suppress_threshold"));
}

// Every unit of `hosts` hosts with two units each, at `time`.
std::vector<EvidenceArrival> AllUnits(int hosts, int64_t time) {
  std::vector<EvidenceArrival> out;
  for (int h = 1; h <= hosts; ++h) {
    for (int u = 1; u <= 2; ++u)
      out.push_back({absl::StrCat("imap", h), absl::StrCat("du", u), time});
  }
  return out;
}

TEST(EvidenceBrakeTest, OneHostOfASmallClusterDoesNotBrake) {
  GuardrailOptions options;  // 30% of hosts (at least 2), 20% of units (at least 3)
  // Both units of one host of three: 33% of hosts but only one host; 2 of 6
  // units but fewer than 3. A single failing host is automation's job.
  EvidenceBrakeDecision d = CheckEvidenceBrake(AllUnits(1, kNow - 1000), 3, 6, kNow, options);
  EXPECT_FALSE(d.engage) << d.reason;
  EXPECT_EQ(d.hosts, 1);
  EXPECT_EQ(d.units, 2);
  // A second host at once: 2 of 3 hosts.
  std::vector<EvidenceArrival> two = AllUnits(2, kNow - 1000);
  d = CheckEvidenceBrake(two, 3, 6, kNow, options);
  EXPECT_TRUE(d.engage);
  EXPECT_THAT(d.reason, HasSubstr("2 of 3 hosts (67%"));
  EXPECT_THAT(d.reason, HasSubstr("imap1/du1, imap1/du2, imap2/du1, imap2/du2"));
}

TEST(EvidenceBrakeTest, UnitsAloneCanBrake) {
  GuardrailOptions options;
  // One unit on each of three hosts of twenty: 15% of hosts, but 3 of 10
  // units... of a cluster with 10 units in all.
  std::vector<EvidenceArrival> a = {
      {"imap1", "du1", kNow}, {"imap2", "du1", kNow}, {"imap3", "du2", kNow}};
  EXPECT_TRUE(CheckEvidenceBrake(a, 20, 10, kNow, options).engage);
  EXPECT_FALSE(CheckEvidenceBrake(a, 20, 40, kNow, options).engage) << "3 of 40 units";
  // The same unit twice counts once.
  a = {{"imap1", "du1", kNow}, {"imap1", "du1", kNow - 10}, {"imap2", "du1", kNow}};
  EvidenceBrakeDecision d = CheckEvidenceBrake(a, 4, 4, kNow, options);
  EXPECT_EQ(d.units, 2);
}

TEST(EvidenceBrakeTest, OnlyArrivalsWithinTheWindowCount) {
  GuardrailOptions options;  // 2 min
  std::vector<EvidenceArrival> a = AllUnits(4, kNow - 3 * kMinute);
  EvidenceBrakeDecision d = CheckEvidenceBrake(a, 4, 8, kNow, options);
  EXPECT_FALSE(d.engage);
  EXPECT_EQ(d.hosts, 0);
  a.push_back({"imap9", "du1", kNow - kMinute});
  d = CheckEvidenceBrake(a, 10, 20, kNow, options);
  EXPECT_EQ(d.hosts, 1);
  EXPECT_FALSE(d.engage);
}

TEST(HourlyLimitTest, CountsTheSlidingHour) {
  const std::vector<int64_t> times = {kNow - 70 * kMinute, kNow - 50 * kMinute, kNow - kMinute};
  HourlyLimitDecision d = CheckHourlyLimit(times, kNow, 3, 1, "units declared lost");
  EXPECT_TRUE(d.allowed);
  EXPECT_EQ(d.used, 2);
  EXPECT_EQ(d.remaining, 1);
  d = CheckHourlyLimit(times, kNow, 3, 2, "units declared lost");
  EXPECT_FALSE(d.allowed);
  EXPECT_THAT(d.reason, HasSubstr("2 units declared lost within the last hour (limit 3 per hour)"));
  // Ten minutes later the oldest of the two has left the hour.
  EXPECT_TRUE(CheckHourlyLimit(times, kNow + 11 * kMinute, 3, 2, "x").allowed);
  EXPECT_FALSE(CheckHourlyLimit({}, kNow, 0, 1, "x").allowed) << "a limit of 0 allows nothing";
}

TEST(FlapDampingTest, PenaltyAccumulatesDecaysAndSuppressesWithHysteresis) {
  GuardrailOptions options;  // half-life 15 min, suppress at 2.5
  FlapPenalty p;
  p = PenaltyAfterFailure(p, kNow, options);
  EXPECT_DOUBLE_EQ(p.penalty, 1.0);
  EXPECT_FALSE(p.suppressed);
  p = PenaltyAfterFailure(p, kNow + 15 * kMinute, options);  // 0.5 + 1
  EXPECT_DOUBLE_EQ(p.penalty, 1.5);
  EXPECT_DOUBLE_EQ(DecayedPenalty(p, kNow + 45 * kMinute, options.flap_half_life_ms), 0.375);
  // Failing every few seconds: suppressed at the third failure.
  FlapPenalty q;
  q = PenaltyAfterFailure(q, kNow, options);
  q = PenaltyAfterFailure(q, kNow + 5000, options);
  EXPECT_FALSE(q.suppressed);
  q = PenaltyAfterFailure(q, kNow + 10000, options);
  EXPECT_TRUE(q.suppressed);
  EXPECT_GT(q.penalty, 2.98);
  // Still suppressed at 1.49 (above half the threshold), released below 1.25.
  EXPECT_FALSE(FlapSuppressionEnds(q, kNow + 10000 + 15 * kMinute, options));
  EXPECT_TRUE(FlapSuppressionEnds(q, kNow + 10000 + 19 * kMinute, options));
  FlapPenalty never;
  EXPECT_FALSE(FlapSuppressionEnds(never, kNow, options)) << "not suppressed: nothing ends";
}

}  // namespace
}  // namespace slotkeeper::slotmgr
