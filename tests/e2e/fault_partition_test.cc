// Fault test: a master's agent is cut off from the coordinator
// only (its TCP proxy to the coordinator cut; every peer link stays up, and
// the replicas hear the coordinator).
//
// The master's agent asks its replicas for failsafe leases; they hear the
// coordinator and refuse, so it fences itself when its lease ends: its
// demote hook runs and its stand-in mail server stops before the
// coordinator promotes a replica (the hook logs' timestamps say so). Mail
// delivered to the new master during the partition, and all mail from
// before, is on every copy once the link is restored and the old master has
// rejoined as a replica and caught up.
#include <gtest/gtest.h>

#include <cstdlib>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "tests/e2e/cluster.h"
#include "tests/e2e/control_plane.h"

namespace slotkeeper::testing {
namespace {

TEST(FaultPartitionTest, MasterCutOffFromTheCoordinatorFencesBeforeAPromotion) {
  if (absl::Status st = CanLoopMount(); !st.ok()) {
    GTEST_SKIP() << "fault tests need root and loop mounts: " << st;
  }
  const absl::Time start = absl::Now();
  ClusterOptions options = ControlPlaneOptions("fault_partition");
  options.proxy_links = true;
  const MailScale scale = ScaleFromEnv({4, 80}, options);
  auto started = StartHookedCluster(options, absl::Seconds(3));
  ASSERT_TRUE(started.ok()) << started.status();
  HookRecorder& h = *started->hooks;
  Cluster& c = *started->cluster;
  const std::string old_master = "imap1/du1s1";
  // st1 served from imap1/du1s1; mail delivered before the partition
  // reaches the replicas.
  auto st1 = CreateServedStore(c, h, scale);
  ASSERT_TRUE(st1.ok()) << st1.status();

  const absl::Time cut = absl::Now();
  c.CoordinatorLink("imap1")->SetMode(TcpProxy::Mode::kCut);
  c.Log("imap1 cut off from the coordinator (peer links up)");

  auto after = WaitForNewServingMaster(c, h, "st1", st1->before.master_epoch(), old_master,
                                       absl::Seconds(45));
  ASSERT_TRUE(after.ok()) << after.status();
  const std::string new_master = MasterOf(*after);
  c.Log(absl::StrCat("new master ", new_master, " at epoch ", after->master_epoch()));

  std::vector<HookRun> demotes = h.RunsSince(cut, "demote", "imap1");
  std::vector<HookRun> promotes = h.RunsSince(cut, "promote", HostOf(new_master));
  ASSERT_FALSE(demotes.empty()) << "the partitioned master never ran its demote hook";
  ASSERT_FALSE(promotes.empty()) << "no promote hook on " << new_master;
  auto stopped = h.WaitForServerStop("imap1", "du1s1", st1->server.pid, absl::Seconds(1));
  ASSERT_TRUE(stopped.ok()) << stopped.status();
  EXPECT_LT(demotes.front().time, promotes.front().time)
      << "the old master's demote hook ran after the new master's promote hook";
  EXPECT_LT(stopped->time, promotes.front().time)
      << "the old master's stand-in server stopped after the new master's promote hook";
  std::fprintf(stderr,
               "self-fencing after partition: %lld ms (stand-in server stopped; demote hook at "
               "%lld ms; new master's promote hook at %lld ms)\n",
               static_cast<long long>(absl::ToInt64Milliseconds(stopped->time - cut)),
               static_cast<long long>(absl::ToInt64Milliseconds(demotes.front().time - cut)),
               static_cast<long long>(absl::ToInt64Milliseconds(promotes.front().time - cut)));
  bool refused = false;
  for (const LogLine& l : AgentLogLines(c, "imap1", "stops serving when its lease ends")) {
    refused = refused || l.time >= cut;
  }
  EXPECT_TRUE(refused) << "imap1 never logged that its failsafe request was refused";
  for (const HookRun& r : h.RunsSince(cut, "promote", "imap1")) {
    ADD_FAILURE() << "promote hook ran on the partitioned host: " << r.slot << " " << r.store << "@"
                  << r.epoch;
  }

  // Mail delivered to the new master during the partition.
  ASSERT_TRUE(DeliverMailTo(c, new_master, 200).ok());
  auto during = ReadWhileSyncing(c.SlotPath(HostOf(new_master), SlotOf(new_master)));
  ASSERT_TRUE(during.ok());

  // The link comes back: the old master rejoins as a replica and catches up.
  const absl::Time restored = absl::Now();
  c.CoordinatorLink("imap1")->SetMode(TcpProxy::Mode::kPass);
  auto final_content = WaitForRejoinedReplica(c, "st1", old_master);
  ASSERT_TRUE(final_content.ok()) << final_content.status();
  c.Log(absl::StrCat("imap1 caught up ", absl::FormatDuration(absl::Now() - restored),
                     " after the link was restored"));
  EXPECT_TRUE(MissingFrom(*during, *final_content).empty());
  EXPECT_TRUE(MissingFrom(st1->acknowledged, *final_content).empty());
  EXPECT_TRUE(NoProblems(CheckCopiesHave(c, "st1", *during)));
  EXPECT_TRUE(NoProblems(CheckNoMessageLost(c, st1->reference)));
  EXPECT_FALSE(h.RunningServer("imap1", "du1s1").has_value())
      << "a stand-in server runs again on the old master";
  std::fprintf(stderr, "partition test: %s wall\n",
               absl::FormatDuration(absl::Now() - start).c_str());
}

}  // namespace
}  // namespace slotkeeper::testing
