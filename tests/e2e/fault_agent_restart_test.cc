// Fault test: the agent of a host holding a replica is
// restarted (SIGTERM, then started again) while mail is delivered to the
// master.
//
// A burst of mail arrives while the agent is away. After the restart the
// replica catches up with everything delivered during and after the restart,
// and the coordinator never shows it in sync while it is behind: each poll
// reads GetStore first and then the replica's content, and whenever the copy
// is shown in_sync its content holds every message delivered up to the end
// of the burst, once the agent has registered again. The SIGKILL variant
// checks the same after a crash. StaleInSyncWhileTheAgentIsAway also asks
// that the copy is not shown in sync while its agent is away.
#include <gtest/gtest.h>
#include <signal.h>

#include <cstdlib>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "tests/e2e/cluster.h"
#include "tests/e2e/control_plane.h"

namespace slotkeeper::testing {
namespace {

const v1::Copy* CopyOn(const v1::StoreInfo& s, const std::string& host_slot) {
  for (const v1::Copy& c : s.copies()) {
    if (absl::StrCat(c.slot().host(), "/", c.slot().slot()) == host_slot) return &c;
  }
  return nullptr;
}

// `away_check`: also assert that the copy is not shown in sync while its
// agent is away (between its end and its re-registration).
void RestartReplicaAgent(bool crash, bool away_check = false) {
  const absl::Time start = absl::Now();
  ClusterOptions options;
  options.root = std::string(std::getenv("TEST_TMPDIR")) +
                 (crash ? "/fault_agent_restart_kill" : "/fault_agent_restart_term") +
                 (away_check ? "_away" : "");
  options.verbose = true;
  options.coordinator_flags = ShortCoordinatorFlags();
  options.agent_config_extra = kFailsafeConfig;
  const MailScale scale = ScaleFromEnv({8, 400}, options);
  auto created = Cluster::Create(options);
  ASSERT_TRUE(created.ok()) << created.status();
  Cluster& c = **created;
  ASSERT_TRUE(c.StartCoordinator().ok());
  ASSERT_TRUE(c.StartAllAgents().ok());
  // A store of some size: the catch-up scans all of it.
  auto reference = c.CreateStores({{"st1", "imap1", "du1s1"}}, scale.users, scale.messages);
  ASSERT_TRUE(reference.ok()) << reference.status();
  auto before = c.Store("st1");
  ASSERT_TRUE(before.ok());
  std::string replica;
  for (const v1::Copy& copy : before->copies()) {
    if (copy.role() == v1::SLOT_REPLICA) {
      replica = absl::StrCat(copy.slot().host(), "/", copy.slot().slot());
      break;
    }
  }
  ASSERT_FALSE(replica.empty());
  const std::string host = HostOf(replica);
  const std::string replica_path = c.SlotPath(host, SlotOf(replica));
  const std::string master_path = c.SlotPath("imap1", "du1s1");

  Delivery delivery;
  ASSERT_TRUE(delivery.Start(c, options.root, "imap1", "du1s1", 1000).ok());
  absl::SleepFor(absl::Seconds(2));

  // The agent goes away; a burst of mail arrives meanwhile.
  const absl::Time stopping = absl::Now();
  if (crash) {
    c.KillAgent(host);
  } else {
    const int status = c.agent(host)->Stop(absl::Seconds(10));
    EXPECT_EQ(status, 0) << host << "'s agent did not end cleanly on SIGTERM";
    c.Log(absl::StrCat(host, " agent stopped in ", absl::FormatDuration(absl::Now() - stopping)));
  }
  for (int round = 0; round < 2; ++round) {
    ASSERT_TRUE(c.MutateMail("imap1", "du1s1", 500 + round,
                             {"--new_pct=5", "--flag_pct=5", "--delete_pct=0"})
                    .ok());
  }
  auto burst = ReadWhileSyncing(master_path);
  ASSERT_TRUE(burst.ok());
  // What the coordinator says of the copy while its agent is away: once the
  // agent's session ended, nothing proves the replica keeps up.
  if (auto away = c.Store("st1"); away.ok()) {
    if (const v1::Copy* copy = CopyOn(*away, replica)) {
      c.Log(absl::StrCat("while ", host, "'s agent is away (",
                         absl::FormatDuration(absl::Now() - stopping), "): ", replica, " in_sync=",
                         copy->in_sync(), " usable=", copy->usable(), " lag_ms=", copy->lag_ms()));
      if (away_check) {
        auto there = ReadWhileSyncing(replica_path);
        EXPECT_FALSE(copy->in_sync())
            << replica << " shown in sync while its agent is away and "
            << (there.ok() ? MissingFrom(*burst, *there).size() : 0) << " messages behind";
      }
    }
  }
  const absl::Time restarted = absl::Now();
  ASSERT_TRUE(c.StartAgent(host).ok());

  // Poll: whenever the coordinator shows the copy in sync, it holds the burst.
  std::vector<std::string> violations;
  std::optional<absl::Time> caught_up;
  int polls = 0, in_sync_polls = 0;
  bool burst_seen_whole = false;
  const absl::Time deadline = restarted + absl::Seconds(60);
  while (absl::Now() < deadline) {
    auto info = c.Store("st1");
    if (!info.ok()) {
      absl::SleepFor(absl::Milliseconds(100));
      continue;
    }
    const v1::Copy* copy = CopyOn(*info, replica);
    ASSERT_NE(copy, nullptr) << replica << " is no longer a copy of st1";
    auto content = ReadWhileSyncing(replica_path);
    ASSERT_TRUE(content.ok()) << content.status();
    std::vector<std::string> missing = MissingFrom(*burst, *content);
    if (!missing.empty() && burst_seen_whole) {
      // Nothing deletes mail here, so once the replica held the whole
      // burst, a message absent from one read was being renamed (a flag
      // change synced) while its directory was listed: read again. A
      // message still absent is a replica that lost it.
      content = ReadWhileSyncing(replica_path);
      ASSERT_TRUE(content.ok()) << content.status();
      missing = MissingFrom(*burst, *content);
    }
    burst_seen_whole = burst_seen_whole || missing.empty();
    ++polls;
    if (copy->in_sync()) {
      ++in_sync_polls;
      // Polls before the agent's new session opened see the old session's
      // last report (covered by StaleInSyncWhileTheAgentIsAway).
      bool registered = false;
      for (const LogLine& l : AgentLogLines(c, host, "open with coordinator")) {
        registered = registered || l.time >= restarted;
      }
      if (!missing.empty() && registered) {
        violations.push_back(absl::StrCat(absl::FormatDuration(absl::Now() - restarted),
                                          " after the restart: in_sync (lag ", copy->lag_ms(),
                                          " ms) while ", missing.size(), " messages behind, e.g. ",
                                          missing.front()));
      }
    }
    if (missing.empty() && copy->in_sync() && copy->usable() && !caught_up) {
      caught_up = absl::Now();
      std::fprintf(stderr,
                   "replica caught up after agent restart: %lld ms (%s, %zu messages on the "
                   "master at the restart)\n",
                   static_cast<long long>(absl::ToInt64Milliseconds(*caught_up - restarted)),
                   replica.c_str(), MessageCount(*burst));
    }
    // Go on watching a little after the catch-up.
    if (caught_up && absl::Now() > *caught_up + absl::Seconds(2)) break;
    absl::SleepFor(absl::Milliseconds(100));
  }
  c.Log(absl::StrCat(polls, " polls after the restart, ", in_sync_polls, " showing ", replica,
                     " in sync"));
  EXPECT_TRUE(caught_up.has_value()) << replica << " did not catch up within 60 s";
  EXPECT_TRUE(violations.empty()) << violations.size() << " of " << in_sync_polls
                                  << " in-sync polls (" << polls << " in all) were behind:\n"
                                  << absl::StrJoin(violations, "\n").substr(0, 3000);

  ASSERT_TRUE(delivery.Stop().ok());
  auto final_content = WaitForCopiesToMatchMaster(c, "st1", absl::Seconds(60));
  ASSERT_TRUE(final_content.ok()) << final_content.status();
  EXPECT_TRUE(MissingFrom(*burst, *final_content).empty());
  std::vector<std::string> problems = CheckNoMessageLost(c, *reference);
  EXPECT_TRUE(problems.empty()) << absl::StrJoin(problems, "\n").substr(0, 2000);
  auto after = c.Store("st1");
  ASSERT_TRUE(after.ok());
  EXPECT_EQ(MasterOf(*after), "imap1/du1s1");
  EXPECT_EQ(after->master_epoch(), before->master_epoch());
  std::fprintf(stderr, "agent restart test (%s): %s wall\n", crash ? "SIGKILL" : "SIGTERM",
               absl::FormatDuration(absl::Now() - start).c_str());
}

TEST(FaultAgentRestartTest, ReplicaCatchesUpAfterSigterm) {
  if (absl::Status st = CanLoopMount(); !st.ok()) {
    GTEST_SKIP() << "fault tests need root and loop mounts: " << st;
  }
  RestartReplicaAgent(false);
}

TEST(FaultAgentRestartTest, ReplicaCatchesUpAfterSigkill) {
  if (absl::Status st = CanLoopMount(); !st.ok()) {
    GTEST_SKIP() << "fault tests need root and loop mounts: " << st;
  }
  RestartReplicaAgent(true);
}

// Fails on the product bug marked above; run by the manual target
// fault_agent_restart_stale_in_sync_test.
TEST(FaultAgentRestartTest, StaleInSyncWhileTheAgentIsAway) {
  if (absl::Status st = CanLoopMount(); !st.ok()) {
    GTEST_SKIP() << "fault tests need root and loop mounts: " << st;
  }
  RestartReplicaAgent(true, /*away_check=*/true);
}

}  // namespace
}  // namespace slotkeeper::testing
