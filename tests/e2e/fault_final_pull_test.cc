// Fault test: a master's filesystem goes read-only (as ext4 does on
// errors) with mail delivered after the replicas' last catch-up.
//
// The filesystem can still be read. Before promoting away from it, the
// coordinator has the chosen replica pull once more from the old master
// (store.final_pull); the mail that arrived after the last sync is then on
// the new master, not stranded. No copy lost a message.
//
// The replicas poll their master (no change feed) and catch up only every
// 60 s here, so that the delivery and the remount both fall between two
// catch-ups, as when a feed is down or behind: without the final pull the
// new master would lack that mail.
#include <gtest/gtest.h>

#include <cstdlib>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "tests/e2e/cluster.h"
#include "tests/e2e/control_plane.h"
#include "tests/e2e/data_safety.h"

namespace slotkeeper::testing {
namespace {

constexpr int64_t kCatchUpMs = 60000;

TEST(FaultFinalPullTest, MailDeliveredAfterTheLastSyncReachesTheNewMaster) {
  if (absl::Status st = CanLoopMount(); !st.ok()) {
    GTEST_SKIP() << "fault tests need root and loop mounts: " << st;
  }
  const absl::Time start = absl::Now();
  ClusterOptions options = DataSafetyOptions("final_pull", absl::Seconds(2), kCatchUpMs);
  options.coordinator_flags.push_back("--final_pull_deadline=20s");
  options.agent_config_extra = absl::StrCat(
      "data_path { replication_feed: \"poll\" catch_up_interval_ms: ", kCatchUpMs, " }");
  auto created = StartCluster(options, /*need_loop_mounts=*/true);
  ASSERT_TRUE(created.ok()) << created.status();
  Cluster& c = **created;
  // Each replica's first catch-up is done: the next is a minute away.
  auto reference = CreateStoreInSync(c, /*messages=*/160);
  ASSERT_TRUE(reference.ok()) << reference.status();
  auto before = c.Store("st1");
  ASSERT_TRUE(before.ok());
  const std::vector<std::string> replicas = ReplicasOf(*before);
  ASSERT_EQ(replicas.size(), 2u);

  // Mail delivered now reaches no replica by itself before the remount.
  const std::string master_dir = c.SlotPath("imap1", "du1s1");
  const std::string user = reference->at("st1").begin()->first;
  auto late = DeliverMessages(master_dir, user, 25, "afterlastsync");
  ASSERT_TRUE(late.ok()) << late.status();
  for (const std::string& r : replicas) {
    auto content = ReadSlotContent(c.SlotPath(HostOf(r), SlotOf(r)));
    ASSERT_TRUE(content.ok());
    ASSERT_EQ(MissingFrom(*late, *content).size(), 25u)
        << r << " already holds the late mail: the test would not show the final pull";
  }
  LoopFilesystem* lfs = c.UnitFilesystem("imap1", "du1");
  ASSERT_NE(lfs, nullptr);
  const absl::Time remounted = absl::Now();
  ASSERT_TRUE(RemountReadOnlyRetrying(*lfs).ok());
  std::fprintf(stderr, "delivered 25 messages to %s on the master, then remounted it read-only\n",
               user.c_str());

  auto after = WaitForNewMaster(c, "st1", before->master_epoch(), "imap1/du1s1", absl::Seconds(90));
  ASSERT_TRUE(after.ok()) << after.status();
  const std::string new_master = MasterOf(*after);
  std::fprintf(stderr, "figure: st1 failed over to %s %s after the remount\n", new_master.c_str(),
               absl::FormatDuration(absl::Now() - remounted).c_str());

  // A final pull into the new master ended before its promotion.
  std::vector<v1::Event> failovers = EventsOf(c, "store.failover", "st1");
  ASSERT_FALSE(failovers.empty());
  const uint64_t failover_seq = failovers.front().seq();
  int issued = 0;
  const v1::Event* last_issued = nullptr;
  const v1::Event* last_ended = nullptr;
  std::vector<v1::Event> pulls = EventsOf(c, "store.final_pull", "st1");
  for (const v1::Event& e : pulls) {
    std::fprintf(stderr, "event %s: %s\n", e.kind().c_str(), e.text().c_str());
    if (e.seq() > failover_seq) continue;
    if (absl::StrContains(e.text(), "pulls once more")) {
      ++issued;
      last_issued = &e;
    } else {
      last_ended = &e;
    }
  }
  ASSERT_NE(last_issued, nullptr) << "no final pull before the failover";
  EXPECT_EQ(absl::StrCat(last_issued->host(), "/", last_issued->slot()), new_master);
  ASSERT_NE(last_ended, nullptr) << "the failover did not wait for the final pull";
  EXPECT_GT(last_ended->seq(), last_issued->seq());
  EXPECT_TRUE(absl::StrContains(last_ended->text(), absl::StrCat(new_master, " complete")))
      << last_ended->text();
  std::fprintf(stderr, "figure: %d final pull(s) issued before the promotion\n", issued);
  // Once: the copy that pulled is the one promoted.
  EXPECT_EQ(issued, 1);

  // The late mail is on the new master, with its content.
  auto on_new = ReadSlotContent(c.SlotPath(HostOf(new_master), SlotOf(new_master)));
  ASSERT_TRUE(on_new.ok()) << on_new.status();
  std::vector<std::string> missing = MissingFrom(*late, *on_new);
  EXPECT_TRUE(missing.empty()) << "stranded on the read-only old master:\n"
                               << absl::StrJoin(missing, "\n");
  std::fprintf(stderr, "figure: %zu of 25 messages delivered after the last sync are on %s\n",
               25 - missing.size(), new_master.c_str());

  // Nothing lost: the original and the late mail on the new master and the
  // old one, and the original mail on the other replica (which catches up
  // from the new master on its own schedule).
  SlotContent all = reference->at("st1");
  for (const auto& [key, hash] : late->at(user)) all[user][key] = hash;
  for (const std::string& where : {new_master, std::string("imap1/du1s1")}) {
    auto content = ReadSlotContent(c.SlotPath(HostOf(where), SlotOf(where)));
    ASSERT_TRUE(content.ok());
    std::vector<std::string> lost = MissingFrom(all, *content);
    EXPECT_TRUE(lost.empty()) << where << ": " << absl::StrJoin(lost, "\n").substr(0, 2000);
  }
  EXPECT_TRUE(NoProblems(CheckNoMessageLost(c, *reference)));
  std::fprintf(stderr, "figure: %zu messages on the new master, 0 lost; test took %s\n",
               MessageCount(*on_new), absl::FormatDuration(absl::Now() - start).c_str());
}

}  // namespace
}  // namespace slotkeeper::testing
