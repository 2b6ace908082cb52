// Fault test: the agent of a master is SIGKILLed, and
// separately SIGSTOPped (SIGCONT at the end).
//
// The stand-in mail server that the promote hook started under slotfence
// stops by itself when the master's lease file runs out, though nobody runs
// the demote hook: it stops within a fence poll of the lease file's deadline
// and before the coordinator promotes a replica (before the new master's
// promote hook). Mail delivered to the new master and all mail from before
// reach every copy once the old master's agent is back (restarted, or
// continued) and has rejoined as a replica; its server is not started again.
#include <gtest/gtest.h>
#include <signal.h>

#include <cstdlib>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "tests/e2e/cluster.h"
#include "tests/e2e/control_plane.h"

namespace slotkeeper::testing {
namespace {

// slotfence reads the lease file every 100 ms and then stops the server
// (SIGTERM, whose trap logs): the stop is logged shortly after the deadline.
constexpr absl::Duration kFenceSlack = absl::Milliseconds(500);

void MasterAgentGone(bool frozen) {
  const absl::Time start = absl::Now();
  ClusterOptions options =
      ControlPlaneOptions(frozen ? "fault_fence_agent_stopped" : "fault_fence_agent_killed");
  auto started = StartHookedCluster(options, absl::Seconds(3));
  ASSERT_TRUE(started.ok()) << started.status();
  HookRecorder& h = *started->hooks;
  Cluster& c = *started->cluster;
  const std::string old_master = "imap1/du1s1";
  auto st1 = CreateServedStore(c, h, {4, 80});
  ASSERT_TRUE(st1.ok()) << st1.status();

  const absl::Time gone = absl::Now();
  if (frozen) {
    ASSERT_TRUE(c.SignalAgent("imap1", SIGSTOP).ok());
  } else {
    c.KillAgent("imap1");
  }
  c.Log(absl::StrCat("imap1 agent ", frozen ? "stopped (SIGSTOP)" : "killed (SIGKILL)"));
  // Nobody renews the lease file any more: its deadline is final.
  absl::SleepFor(absl::Milliseconds(50));
  auto deadline = LeaseDeadline(LeaseFileOf(c, "imap1", "du1s1"));
  ASSERT_TRUE(deadline.ok()) << deadline.status();

  auto stopped = h.WaitForServerStop("imap1", "du1s1", st1->server.pid, kLease + absl::Seconds(3));
  ASSERT_TRUE(stopped.ok()) << stopped.status();
  auto after =
      WaitForNewMaster(c, "st1", st1->before.master_epoch(), old_master, absl::Seconds(45));
  ASSERT_TRUE(after.ok()) << after.status();
  const std::string new_master = MasterOf(*after);
  std::vector<HookRun> promotes = h.RunsSince(gone, "promote", HostOf(new_master));
  ASSERT_FALSE(promotes.empty());
  std::vector<HookRun> pre = h.RunsSince(gone, "pre_promote");
  ASSERT_FALSE(pre.empty());
  EXPECT_LT(stopped->time, pre.front().time)
      << "the old master's server stopped after a promotion began";
  EXPECT_LT(stopped->time, promotes.front().time)
      << "the old master's server stopped after the new master's promote hook";
  EXPECT_LE(stopped->time, *deadline + kFenceSlack)
      << "the server outlived its lease by " << absl::FormatDuration(stopped->time - *deadline);
  EXPECT_TRUE(h.RunsSince(gone, "", "imap1").empty())
      << "a hook ran on imap1 while its agent was " << (frozen ? "stopped" : "dead");
  std::fprintf(
      stderr,
      "fence without the agent (%s): lease deadline %lld ms after the signal; stand-in "
      "stopped %+lld ms from the deadline; new master %s promote hook %lld ms after "
      "the deadline\n",
      frozen ? "SIGSTOP" : "SIGKILL",
      static_cast<long long>(absl::ToInt64Milliseconds(*deadline - gone)),
      static_cast<long long>(absl::ToInt64Milliseconds(stopped->time - *deadline)),
      new_master.c_str(),
      static_cast<long long>(absl::ToInt64Milliseconds(promotes.front().time - *deadline)));
  auto new_server = h.WaitForServer(HostOf(new_master), SlotOf(new_master), absl::Seconds(10));
  ASSERT_TRUE(new_server.ok()) << new_server.status();

  // Mail to the new master; the old master's agent comes back.
  ASSERT_TRUE(DeliverMailTo(c, new_master, 300).ok());
  const absl::Time back = absl::Now();
  if (frozen) {
    ASSERT_TRUE(c.SignalAgent("imap1", SIGCONT).ok());
  } else {
    ASSERT_TRUE(c.StartAgent("imap1").ok());
  }
  auto final_content = WaitForRejoinedReplica(c, "st1", old_master);
  ASSERT_TRUE(final_content.ok()) << final_content.status();
  EXPECT_TRUE(NoProblems(CheckNoMessageLost(c, st1->reference)));
  EXPECT_TRUE(NoProblems(CheckCopiesHave(c, "st1", st1->acknowledged)));
  for (const HookRun& r : h.RunsSince(back, "promote", "imap1")) {
    ADD_FAILURE() << "imap1 ran its promote hook again after coming back: " << r.slot << " "
                  << r.store << "@" << r.epoch;
  }
  EXPECT_FALSE(h.RunningServer("imap1", "du1s1").has_value());
  auto current = c.Store("st1");
  ASSERT_TRUE(current.ok());
  EXPECT_EQ(MasterOf(*current), new_master);
  std::fprintf(stderr, "fence without the agent test (%s): %s wall\n",
               frozen ? "SIGSTOP" : "SIGKILL", absl::FormatDuration(absl::Now() - start).c_str());
}

TEST(FaultFenceWithoutAgentTest, MasterAgentKilled) {
  if (absl::Status st = CanLoopMount(); !st.ok()) {
    GTEST_SKIP() << "fault tests need root and loop mounts: " << st;
  }
  MasterAgentGone(false);
}

TEST(FaultFenceWithoutAgentTest, MasterAgentStopped) {
  if (absl::Status st = CanLoopMount(); !st.ok()) {
    GTEST_SKIP() << "fault tests need root and loop mounts: " << st;
  }
  MasterAgentGone(true);
}

}  // namespace
}  // namespace slotkeeper::testing
