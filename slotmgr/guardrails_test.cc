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
}

}  // namespace
}  // namespace slotkeeper::slotmgr
