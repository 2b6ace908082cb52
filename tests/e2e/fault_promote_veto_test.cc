// Fault test: the pre_promote hook of the replica chosen first
// refuses the promotion, by exiting non-zero or by hanging past the hook
// timeout.
//
// The master's agent is killed (SIGKILL) so that the coordinator fails the
// store over to one of its two replicas. Whichever replica is asked first
// vetoes (the hook takes the control file veto-first, or hang-first); the
// coordinator journals store.promote_failed and promotes the other replica,
// whose promote hook starts its stand-in mail server; the vetoed replica
// never ran its promote hook. The killed agent then returns as a replica and
// every copy holds every message, mail delivered to the new master
// included.
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "tests/e2e/cluster.h"
#include "tests/e2e/control_plane.h"

namespace slotkeeper::testing {
namespace {

namespace fs = std::filesystem;

constexpr absl::Duration kHookTimeout = absl::Seconds(3);

void VetoFirstCandidate(bool hang) {
  const absl::Time start = absl::Now();
  ClusterOptions options = ControlPlaneOptions(hang ? "fault_promote_hang" : "fault_promote_veto");
  auto started = StartHookedCluster(options, kHookTimeout);
  ASSERT_TRUE(started.ok()) << started.status();
  HookRecorder& h = *started->hooks;
  Cluster& c = *started->cluster;
  const std::string old_master = "imap1/du1s1";
  auto reference = c.CreateStores({{"st1", "imap1", "du1s1"}}, 4, 80);
  ASSERT_TRUE(reference.ok()) << reference.status();
  auto before = c.Store("st1");
  ASSERT_TRUE(before.ok());
  const std::vector<std::string> replicas = ReplicasOf(*before);
  ASSERT_EQ(replicas.size(), 2u);
  auto acknowledged = DeliverAndReplicate(c, "st1", old_master);
  ASSERT_TRUE(acknowledged.ok()) << acknowledged.status();

  const std::string flag = hang ? "hang-first" : "veto-first";
  h.SetFlag(flag, true);
  const absl::Time killed = absl::Now();
  c.KillAgent("imap1");
  c.Log(absl::StrCat("imap1 agent killed; the first candidate's pre_promote ",
                     hang ? "hangs" : "vetoes"));

  v1::Event failed;
  ASSERT_TRUE(c.WaitForEvent("store.promote_failed", absl::Seconds(45), &failed).ok());
  c.Log(absl::StrCat("store.promote_failed: ", failed.text()));
  auto after = WaitForNewMaster(c, "st1", before->master_epoch(), old_master, absl::Seconds(30));
  ASSERT_TRUE(after.ok()) << after.status();
  const std::string new_master = MasterOf(*after);

  // The replica that took the flag refused; the other one serves.
  std::string refused;
  for (const std::string& r : replicas) {
    if (fs::exists(absl::StrCat(h.dir(), "/", flag, ".taken-", HostOf(r)))) refused = r;
  }
  ASSERT_FALSE(refused.empty()) << "no pre_promote hook took " << flag;
  EXPECT_NE(new_master, refused);
  EXPECT_NE(std::find(replicas.begin(), replicas.end(), new_master), replicas.end())
      << new_master << " was not a replica of st1";
  EXPECT_TRUE(absl::StrContains(failed.text(), refused)) << failed.text();
  std::vector<HookRun> pre = h.RunsSince(killed, "pre_promote", HostOf(refused));
  ASSERT_FALSE(pre.empty()) << refused << " never ran its pre_promote hook";
  EXPECT_TRUE(h.RunsSince(killed, "promote", HostOf(refused)).empty())
      << refused << " ran its promote hook after its pre_promote refused";
  EXPECT_FALSE(h.RunningServer(HostOf(refused), SlotOf(refused)).has_value());
  std::vector<HookRun> promoted = h.RunsSince(killed, "promote", HostOf(new_master));
  ASSERT_FALSE(promoted.empty()) << new_master << " never ran its promote hook";
  EXPECT_GT(promoted.front().time, pre.front().time);
  if (hang) {
    // The hung hook was killed at its timeout; only then was the next
    // candidate tried.
    EXPECT_GE(promoted.front().time - pre.front().time, kHookTimeout);
  }
  auto server = h.WaitForServer(HostOf(new_master), SlotOf(new_master), absl::Seconds(10));
  ASSERT_TRUE(server.ok()) << server.status();
  std::fprintf(
      stderr,
      "%s on %s: next candidate %s promoted %lld ms after the refusing pre_promote "
      "started (%lld ms after the kill)\n",
      hang ? "hung pre_promote" : "pre_promote veto", refused.c_str(), new_master.c_str(),
      static_cast<long long>(absl::ToInt64Milliseconds(promoted.front().time - pre.front().time)),
      static_cast<long long>(absl::ToInt64Milliseconds(promoted.front().time - killed)));
  auto events = ListAllEvents(c);
  ASSERT_TRUE(events.ok());
  int promote_failed = 0;
  for (const v1::Event& e : *events) promote_failed += e.kind() == "store.promote_failed";
  EXPECT_EQ(promote_failed, 1);

  // Mail delivered to the new master; the old master returns as a replica.
  auto on_new = ReadWhileSyncing(c.SlotPath(HostOf(new_master), SlotOf(new_master)));
  ASSERT_TRUE(on_new.ok());
  EXPECT_TRUE(MissingFrom(*acknowledged, *on_new).empty());
  ASSERT_TRUE(DeliverMailTo(c, new_master, 300).ok());
  ASSERT_TRUE(c.StartAgent("imap1").ok());
  auto final_content = WaitForRejoinedReplica(c, "st1", old_master);
  ASSERT_TRUE(final_content.ok()) << final_content.status();
  EXPECT_TRUE(NoProblems(CheckNoMessageLost(c, *reference)));
  EXPECT_TRUE(NoProblems(CheckCopiesHave(c, "st1", *acknowledged)));
  std::fprintf(stderr, "promote %s test: %s wall\n", hang ? "hang" : "veto",
               absl::FormatDuration(absl::Now() - start).c_str());
}

TEST(FaultPromoteVetoTest, VetoedCandidateIsSkipped) {
  if (absl::Status st = CanLoopMount(); !st.ok()) {
    GTEST_SKIP() << "fault tests need root and loop mounts: " << st;
  }
  VetoFirstCandidate(false);
}

TEST(FaultPromoteVetoTest, HungPrePromoteCountsAsVeto) {
  if (absl::Status st = CanLoopMount(); !st.ok()) {
    GTEST_SKIP() << "fault tests need root and loop mounts: " << st;
  }
  VetoFirstCandidate(true);
}

}  // namespace
}  // namespace slotkeeper::testing
