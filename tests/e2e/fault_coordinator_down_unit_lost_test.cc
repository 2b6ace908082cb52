// Fault test: the coordinator is down and, meanwhile, the
// master's drive unit dies (EXT4_IOC_SHUTDOWN: every I/O fails).
//
// The master's slot has a hard condition, so its agent does not ask for
// failsafe grants: it fences itself when its lease ends (demote hook, its
// stand-in server stopped). Nothing can decide a failover while the
// coordinator is away: no promote hook runs anywhere and no other copy holds
// a lease file, so there is never a second master. When the coordinator
// returns, it fails the store over to a replica, which then serves every
// message the replicas held and takes new mail that reaches every live copy.
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "tests/e2e/cluster.h"
#include "tests/e2e/control_plane.h"

namespace slotkeeper::testing {
namespace {

namespace fs = std::filesystem;

// Lease files of st1 on hosts other than `except`.
std::vector<std::string> OtherLeaseFiles(const Cluster& c, const std::vector<std::string>& hosts,
                                         const std::string& except) {
  std::vector<std::string> found;
  for (const std::string& host : hosts) {
    if (host == except) continue;
    std::error_code ec;
    for (const auto& e : fs::directory_iterator(c.HostDir(host) + "/data/leases", ec)) {
      if (e.path().extension() == ".lease") found.push_back(e.path().string());
    }
  }
  return found;
}

TEST(FaultCoordinatorDownUnitLostTest, NoFailoverUntilTheCoordinatorReturns) {
  if (absl::Status st = CanLoopMount(); !st.ok()) {
    GTEST_SKIP() << "fault tests need root and loop mounts: " << st;
  }
  const absl::Time start = absl::Now();
  ClusterOptions options = ControlPlaneOptions("fault_coordinator_down_unit_lost");
  auto started = StartHookedCluster(options, absl::Seconds(3));
  ASSERT_TRUE(started.ok()) << started.status();
  HookRecorder& h = *started->hooks;
  Cluster& c = *started->cluster;
  const std::string old_master = "imap1/du1s1";
  auto st1 = CreateServedStore(c, h, {4, 80});
  ASSERT_TRUE(st1.ok()) << st1.status();

  const absl::Time killed = absl::Now();
  c.KillCoordinator();
  LoopFilesystem* unit = c.UnitFilesystem("imap1", "du1");
  ASSERT_NE(unit, nullptr);
  ASSERT_TRUE(unit->Shutdown().ok());
  c.Log("coordinator killed and imap1/du1 shut down");

  // The master fences itself: its lease runs out without failsafe grants.
  auto stopped = h.WaitForServerStop("imap1", "du1s1", st1->server.pid, kLease + absl::Seconds(3));
  EXPECT_TRUE(stopped.ok()) << stopped.status();
  if (stopped.ok()) {
    c.Log(absl::StrCat("the master's stand-in stopped ",
                       absl::FormatDuration(stopped->time - killed), " after the kill"));
  }
  // Three leases without a coordinator: no promotion, no second master.
  std::vector<std::string> second_masters;
  while (absl::Now() < killed + 3 * kLease) {
    for (const std::string& f : OtherLeaseFiles(c, options.hosts, "imap1")) {
      second_masters.push_back(f);
    }
    absl::SleepFor(absl::Milliseconds(200));
  }
  EXPECT_TRUE(second_masters.empty())
      << "lease files on other hosts while the coordinator was down: "
      << absl::StrJoin(second_masters, ", ");
  for (const HookRun& r : h.RunsSince(killed, "promote")) {
    ADD_FAILURE() << "promote hook ran while the coordinator was down: " << r.host << "/" << r.slot
                  << " " << r.store << "@" << r.epoch;
  }
  for (const HookRun& r : h.RunsSince(killed, "pre_promote")) {
    ADD_FAILURE() << "pre_promote hook ran while the coordinator was down: " << r.host << "/"
                  << r.slot;
  }
  EXPECT_FALSE(h.RunsSince(killed, "demote", "imap1").empty())
      << "the master's agent did not run its demote hook";
  for (const LogLine& l : AgentLogLines(c, "imap1", "serving on failsafe grants")) {
    if (l.time >= killed) ADD_FAILURE() << "the failed master went on failsafe: " << l.text;
  }

  // The coordinator returns: the store fails over. The failed unit is still
  // mounted, so a final pull from it is tried first: the failover may wait
  // for the pull's whole budget (--final_pull_deadline, 30 s, plus 5 s) when
  // the pull's answer is slow, as on a loaded machine.
  const absl::Time restarted = absl::Now();
  ASSERT_TRUE(c.StartCoordinator().ok());
  auto after = WaitForNewServingMaster(c, h, "st1", st1->before.master_epoch(), old_master,
                                       absl::Seconds(75));
  ASSERT_TRUE(after.ok()) << after.status();
  const std::string new_master = MasterOf(*after);
  c.Log(absl::StrCat("failover to ", new_master, " ", absl::FormatDuration(absl::Now() - restarted),
                     " after the restart"));
  std::vector<HookRun> promotes = h.RunsSince(killed, "promote");
  ASSERT_EQ(promotes.size(), 1u);
  EXPECT_GE(promotes.front().time, restarted);

  // The new master holds what the replicas held; new mail reaches every live
  // copy (the dead unit's copy is unreadable and left out).
  auto on_new = ReadWhileSyncing(c.SlotPath(HostOf(new_master), SlotOf(new_master)));
  ASSERT_TRUE(on_new.ok());
  EXPECT_TRUE(MissingFrom(st1->acknowledged, *on_new).empty());
  ASSERT_TRUE(DeliverMailTo(c, new_master, 300).ok());
  auto final_content = WaitForCopiesToMatchMaster(c, "st1", absl::Seconds(60), {old_master});
  ASSERT_TRUE(final_content.ok()) << final_content.status();
  EXPECT_TRUE(NoProblems(CheckCopiesHave(c, "st1", st1->acknowledged, {old_master})));
  EXPECT_TRUE(NoProblems(CheckCopiesHave(c, "st1", st1->reference.at("st1"), {old_master})));
  std::fprintf(stderr, "coordinator down and unit lost test: %s wall\n",
               absl::FormatDuration(absl::Now() - start).c_str());
}

}  // namespace
}  // namespace slotkeeper::testing
