// Fault test: three of four agents silenced at once (SIGSTOP).
//
// From the coordinator's side this looks like most of the fleet dying, which
// is far more often the coordinator (or its network) being cut off. The
// mass-failure brake must freeze automation (AUTOMATION_FROZEN, an
// automation.frozen event) before any failover is due, and nothing is failed
// over: masters and epochs stay as they were, also after the silent hosts
// are DOWN and every grace has run out. After SIGCONT the hosts report
// again. As slotmgr/guardrails.h documents, a frozen coordinator stays
// frozen until an operator resumes it (only a person can tell who was cut
// off), so the test checks that and then runs `slotctl automation resume`.
// In the end every store is healthy with its original master and no message
// is lost.
#include <gtest/gtest.h>
#include <signal.h>

#include <cstdlib>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "tests/e2e/cluster.h"

namespace slotkeeper::testing {
namespace {

std::string MasterOf(const v1::StoreInfo& s) {
  for (const auto& c : s.copies()) {
    if (c.role() == v1::SLOT_MASTER) return absl::StrCat(c.slot().host(), "/", c.slot().slot());
  }
  return "";
}

uint32_t HostsIn(const v1::ClusterStatus& s, v1::HostState state) {
  for (const auto& c : s.hosts_by_state()) {
    if (c.state() == state) return c.count();
  }
  return 0;
}

absl::StatusOr<v1::AutomationState> Automation(Cluster& c) {
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
  v1::AutomationState state;
  grpc::Status st = c.api().GetAutomation(&ctx, {}, &state);
  if (!st.ok()) return absl::UnavailableError(st.error_message());
  return state;
}

TEST(FaultMassFailureTest, BrakeFreezesAutomationAndNothingFailsOver) {
  if (absl::Status st = CanLoopMount(); !st.ok()) {
    GTEST_SKIP() << "fault tests need root and loop mounts: " << st;
  }
  const absl::Time start = absl::Now();
  ClusterOptions options;
  options.root = std::string(std::getenv("TEST_TMPDIR")) + "/mass_failure";
  options.verbose = true;
  options.coordinator_flags = {
      "--heartbeat=500ms",        "--suspect_after=3s",      "--down_after=6s",
      "--failover_grace_hard=2s", "--failover_grace=4s",     "--lease=4s",
      "--replace_after=10m",      "--task_retry_backoff=2s",
  };
  auto cluster = Cluster::Create(options);
  ASSERT_TRUE(cluster.ok()) << cluster.status();
  Cluster& c = **cluster;
  ASSERT_TRUE(c.StartCoordinator().ok());
  ASSERT_TRUE(c.StartAllAgents().ok());

  // One store mastered on each host, three copies each.
  auto reference = c.CreateStores({{"st1", "imap1", "du1s1"},
                                   {"st2", "imap2", "du1s1"},
                                   {"st3", "imap3", "du1s1"},
                                   {"st4", "imap4", "du1s1"}},
                                  6, 240);
  ASSERT_TRUE(reference.ok()) << reference.status();
  std::map<std::string, v1::StoreInfo> before;
  auto stores = c.Stores();
  ASSERT_TRUE(stores.ok());
  for (const auto& s : *stores) before[s.name()] = s;

  // Three of four agents stop answering at once.
  const std::vector<std::string> silenced = {"imap2", "imap3", "imap4"};
  for (const std::string& h : silenced) ASSERT_TRUE(c.SignalAgent(h, SIGSTOP).ok());
  v1::Event frozen;
  ASSERT_TRUE(c.WaitForEvent("automation.frozen", absl::Seconds(30), &frozen).ok());
  std::fprintf(stderr, "frozen after %s: %s\n", absl::FormatDuration(absl::Now() - start).c_str(),
               frozen.text().c_str());
  auto automation = Automation(c);
  ASSERT_TRUE(automation.ok()) << automation.status();
  EXPECT_EQ(automation->mode(), v1::AUTOMATION_FROZEN) << automation->ShortDebugString();

  // Let every timer run out: the silenced hosts DOWN, then longer than the
  // failover grace and the lease. A running coordinator would have failed
  // over st2..st4 by now.
  ASSERT_TRUE(
      c.WaitForStatus([](const v1::ClusterStatus& s) { return HostsIn(s, v1::HOST_DOWN) == 3; },
                      absl::Seconds(30), "the three silenced hosts DOWN")
          .ok());
  absl::SleepFor(absl::Seconds(8));
  stores = c.Stores();
  ASSERT_TRUE(stores.ok());
  for (const auto& s : *stores) {
    EXPECT_EQ(MasterOf(s), MasterOf(before[s.name()])) << s.ShortDebugString();
    EXPECT_EQ(s.master_epoch(), before[s.name()].master_epoch()) << s.ShortDebugString();
  }
  EXPECT_TRUE(absl::IsDeadlineExceeded(c.WaitForEvent("store.failover", absl::Seconds(1))))
      << "a store failed over while automation was frozen";
  std::string out;
  auto code = c.Slotctl({"status"}, &out);
  ASSERT_TRUE(code.ok());
  std::fprintf(stderr, "$ slotctl status (frozen)\n%s\n", out.c_str());
  EXPECT_TRUE(absl::StrContains(absl::AsciiStrToLower(out), "frozen")) << out;

  // The agents come back. Automation stays frozen until an operator says so.
  for (const std::string& h : silenced) ASSERT_TRUE(c.SignalAgent(h, SIGCONT).ok());
  ASSERT_TRUE(
      c.WaitForStatus([](const v1::ClusterStatus& s) { return HostsIn(s, v1::HOST_UP) == 4; },
                      absl::Seconds(30), "every host UP again after SIGCONT")
          .ok());
  automation = Automation(c);
  ASSERT_TRUE(automation.ok());
  EXPECT_EQ(automation->mode(), v1::AUTOMATION_FROZEN)
      << "the brake released by itself; guardrails.h says only an operator resumes";
  code = c.Slotctl({"automation", "resume"}, &out);
  ASSERT_TRUE(code.ok()) << code.status();
  ASSERT_EQ(*code, 0) << out;
  automation = Automation(c);
  ASSERT_TRUE(automation.ok());
  EXPECT_EQ(automation->mode(), v1::AUTOMATION_RUNNING) << automation->ShortDebugString();

  // Everything healthy again, with the same masters, and no message lost.
  ASSERT_TRUE(c.WaitForStatus(
                   [](const v1::ClusterStatus& s) {
                     return s.stores_total() == 4 && s.stores_healthy() == 4 &&
                            s.recovery().tasks_running() == 0 && s.recovery().tasks_queued() == 0;
                   },
                   absl::Seconds(60), "every store healthy after the resume")
                  .ok());
  stores = c.Stores();
  ASSERT_TRUE(stores.ok());
  for (const auto& s : *stores) {
    EXPECT_EQ(MasterOf(s), MasterOf(before[s.name()])) << s.ShortDebugString();
    EXPECT_EQ(s.master_epoch(), before[s.name()].master_epoch()) << s.ShortDebugString();
    EXPECT_EQ(s.copies_size(), 3) << s.ShortDebugString();
  }
  for (const auto& [store, ref] : *reference) {
    auto problems = c.CheckStoreHas(store, ref);
    ASSERT_TRUE(problems.ok()) << problems.status();
    EXPECT_TRUE(problems->empty()) << store << ": " << absl::StrJoin(*problems, "\n");
  }
  code = c.Slotctl({"incident", "--since", "1h"}, &out);
  ASSERT_TRUE(code.ok());
  std::fprintf(stderr, "$ slotctl incident\n%s\n", out.c_str());
  std::fprintf(stderr, "mass failure test: %s wall\n",
               absl::FormatDuration(absl::Now() - start).c_str());
}

}  // namespace
}  // namespace slotkeeper::testing
