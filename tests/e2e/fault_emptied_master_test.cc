// Fault test: a master whose user directory is emptied by
// mistake (a script run against the wrong mount, an `rm` in the wrong
// place).
//
// Every file of one user is deleted on the master. The replicas' rolling
// sync must not follow: the mass-deletion guard stops that user's sync, the
// replicas keep every message (nothing removed there, and the data path never
// deletes: what it would remove goes to the slot's .quarantine), and the
// coordinator raises a replication.blocked event naming the store and user,
// visible in `slotctl incident`. Then the operator's repair: the mail is
// copied back onto the master from a replica, and the operator unblocks the
// user (a block lasts until then, also once the master looks right again);
// the block clears (replication.unblocked) and every copy holds the
// original content.
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "tests/e2e/cluster.h"

namespace slotkeeper::testing {
namespace {

namespace fs = std::filesystem;

// Regular files under `dir`, recursively.
int CountFiles(const fs::path& dir) {
  int n = 0;
  std::error_code ec;
  for (auto it = fs::recursive_directory_iterator(dir, ec); !ec && it != fs::end(it);
       it.increment(ec)) {
    if (it->is_regular_file()) ++n;
  }
  return n;
}

TEST(FaultEmptiedMasterTest, ReplicasKeepTheMailAndAnEventIsRaised) {
  if (absl::Status st = CanLoopMount(); !st.ok()) {
    GTEST_SKIP() << "fault tests need root and loop mounts: " << st;
  }
  const absl::Time start = absl::Now();
  ClusterOptions options;
  options.root = std::string(std::getenv("TEST_TMPDIR")) + "/emptied_master";
  options.verbose = true;
  options.coordinator_flags = {
      "--heartbeat=500ms",        "--suspect_after=3s",      "--down_after=10s",
      "--failover_grace_hard=3s", "--failover_grace=20s",    "--lease=4s",
      "--replace_after=15s",      "--task_retry_backoff=2s",
  };
  auto cluster = Cluster::Create(options);
  ASSERT_TRUE(cluster.ok()) << cluster.status();
  Cluster& c = **cluster;
  ASSERT_TRUE(c.StartCoordinator().ok());
  ASSERT_TRUE(c.StartAllAgents().ok());
  auto reference = c.CreateStores({{"st1", "imap1", "du1s1"}}, 6, 300);
  ASSERT_TRUE(reference.ok()) << reference.status();
  const SlotContent& ref = reference->at("st1");

  // The user with the most mail, well above the guard's minimum.
  std::string victim;
  for (const auto& [user, messages] : ref) {
    if (victim.empty() || messages.size() > ref.at(victim).size()) victim = user;
  }
  ASSERT_GE(ref.at(victim).size(), 20u) << "too little mail for the guard to matter";
  auto store = c.Store("st1");
  ASSERT_TRUE(store.ok());
  std::vector<std::string> replicas;
  for (const auto& copy : store->copies()) {
    if (copy.role() == v1::SLOT_REPLICA) {
      replicas.push_back(c.SlotPath(copy.slot().host(), copy.slot().slot()));
    }
  }
  ASSERT_EQ(replicas.size(), 2u) << store->ShortDebugString();

  // The mistake: every file of the user removed on the master.
  const fs::path master_user = fs::path(c.SlotPath("imap1", "du1s1")) / "users" / victim;
  std::vector<fs::path> doomed;
  for (const auto& e : fs::recursive_directory_iterator(master_user)) {
    if (e.is_regular_file()) doomed.push_back(e.path());
  }
  for (const fs::path& p : doomed) fs::remove(p);
  std::fprintf(stderr, "removed %zu files of %s on the master imap1/du1s1\n", doomed.size(),
               victim.c_str());

  // The coordinator says so, naming the store and the user.
  v1::Event blocked;
  ASSERT_TRUE(c.WaitForEvent("replication.blocked", absl::Seconds(60), &blocked).ok())
      << "no replication.blocked event after the master lost a user's mail";
  EXPECT_EQ(blocked.store(), "st1") << blocked.ShortDebugString();
  EXPECT_TRUE(absl::StrContains(blocked.text(), victim)) << blocked.text();
  // Give every replica time to try (and be stopped) at least once more.
  absl::SleepFor(absl::Seconds(5));

  // Both replicas still hold every message; nothing of the user went even to
  // quarantine, and nothing was deleted anywhere.
  for (const std::string& slot : replicas) {
    auto content = ReadSlotContent(slot);
    ASSERT_TRUE(content.ok()) << content.status();
    std::vector<std::string> missing = MissingFrom(ref, *content);
    EXPECT_TRUE(missing.empty()) << slot << ": " << absl::StrJoin(missing, "\n");
    const fs::path quarantine = fs::path(slot) / ".quarantine";
    int quarantined = 0;
    std::error_code ec;
    for (const auto& day : fs::directory_iterator(quarantine, ec)) {
      quarantined += CountFiles(day.path() / victim);
    }
    EXPECT_EQ(quarantined, 0) << slot << ": the guard let part of the removal through";
  }
  std::string out;
  auto code = c.Slotctl({"incident", "--since", "1h"}, &out);
  ASSERT_TRUE(code.ok());
  std::fprintf(stderr, "$ slotctl incident\n%s\n", out.c_str());
  EXPECT_TRUE(absl::StrContains(out, victim)) << "slotctl incident does not name the user";

  // The operator's repair: the mail copied back from a replica.
  fs::copy(fs::path(replicas[0]) / "users" / victim, master_user,
           fs::copy_options::recursive | fs::copy_options::overwrite_existing);
  absl::SleepFor(absl::Seconds(6));  // a catch-up cycle: the block holds without the operator
  EXPECT_FALSE(c.WaitForEvent("replication.unblocked", absl::Seconds(1)).ok())
      << "a block cleared without the operator";
  code = c.Slotctl({"user", "unblock", victim, "--store", "st1", "--yes"}, &out);
  ASSERT_TRUE(code.ok() && *code == 0) << out;
  ASSERT_TRUE(c.WaitForEvent("replication.unblocked", absl::Seconds(60)).ok())
      << "the block did not clear after the mail was restored and the user unblocked";
  ASSERT_TRUE(c.WaitForStatus(
                   [](const v1::ClusterStatus& s) {
                     return s.stores_total() == 1 && s.stores_healthy() == 1;
                   },
                   absl::Seconds(60), "st1 healthy after the repair")
                  .ok());
  auto problems = c.CheckStoreHas("st1", ref);
  ASSERT_TRUE(problems.ok()) << problems.status();
  EXPECT_TRUE(problems->empty()) << absl::StrJoin(*problems, "\n");
  std::fprintf(stderr, "emptied master test: %s wall\n",
               absl::FormatDuration(absl::Now() - start).c_str());
}

}  // namespace
}  // namespace slotkeeper::testing
