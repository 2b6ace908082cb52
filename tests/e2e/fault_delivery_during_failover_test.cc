// Fault test 8 (issue 7): mail keeps being delivered to the master during a
// failover.
//
// A delivery loop (mailgen --mutate: new messages and flag changes, no
// deletions, like an IMAP server under load) writes into st1's master while
// an operator fails the store over (`slotctl failover st1`: the coordinator
// stops renewing the master's lease, the old master fences itself when the
// lease runs out, then the best replica is promoted). The loop stops once the
// new master is in place, as the MTA would turn to it. Checks:
//   - the new master holds every message its replica held just before the
//     failover began (what it had acknowledged), with the same content;
//   - rolling replication goes on from the new master: more mail delivered
//     there reaches every copy (the old master, now a replica, included).
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "tests/e2e/cluster.h"

namespace slotkeeper::testing {
namespace {

namespace fs = std::filesystem;

const v1::Copy* MasterCopy(const v1::StoreInfo& s) {
  for (const auto& c : s.copies()) {
    if (c.role() == v1::SLOT_MASTER) return &c;
  }
  return nullptr;
}

// A replica caught mid-sync holds the data path's temporary files
// (".slotsync-*", dot-files that Maildir readers ignore) next to the messages:
// files being received, not messages the replica holds yet.
SlotContent WithoutSyncTemporaries(SlotContent content) {
  for (auto& [user, messages] : content) {
    for (auto it = messages.begin(); it != messages.end();) {
      it = absl::StartsWith(it->first, "maildir:.") ? messages.erase(it) : std::next(it);
    }
  }
  return content;
}

// A shell loop running mailgen --mutate against `slot` until `stop_file`
// exists: a new seed each round, so each round delivers new messages.
std::vector<std::string> DeliveryLoop(const std::string& slot, const std::string& stop_file,
                                      int first_seed) {
  const std::string mailgen = Runfile("tools/mailgen/mailgen");
  return {"/bin/sh", "-c",
          absl::StrCat("i=", first_seed, "; while [ ! -e '", stop_file, "' ]; do '", mailgen,
                       "' --slot='", slot,
                       "' --mutate --seed=$i --new_pct=1 --flag_pct=5 --delete_pct=0 "
                       "--move_pct=0 --folder_move_pct=0 || exit 1; i=$((i+1)); sleep 0.2; done")};
}

TEST(FaultDeliveryDuringFailoverTest, NewMasterHasAcknowledgedMailAndReplicationGoesOn) {
  if (absl::Status st = CanLoopMount(); !st.ok()) {
    GTEST_SKIP() << "fault tests need root and loop mounts: " << st;
  }
  const absl::Time start = absl::Now();
  ClusterOptions options;
  options.root = std::string(std::getenv("TEST_TMPDIR")) + "/delivery_failover";
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
  auto before = c.Store("st1");
  ASSERT_TRUE(before.ok());
  const std::string old_master = c.SlotPath("imap1", "du1s1");

  // Deliveries start and go on; replication chases them.
  const std::string stop_old = options.root + "/stop-old";
  Process delivery;
  ASSERT_TRUE(
      delivery.Start(DeliveryLoop(old_master, stop_old, 1000), options.root + "/delivery-old.log")
          .ok());
  absl::SleepFor(absl::Seconds(5));

  // Every replica's content just before the failover: whichever is promoted
  // must keep all of it.
  std::map<std::string, SlotContent> acknowledged;  // by "host/slot"
  for (const auto& copy : before->copies()) {
    if (copy.role() != v1::SLOT_REPLICA) continue;
    auto content = ReadSlotContent(c.SlotPath(copy.slot().host(), copy.slot().slot()));
    ASSERT_TRUE(content.ok()) << content.status();
    acknowledged[absl::StrCat(copy.slot().host(), "/", copy.slot().slot())] =
        WithoutSyncTemporaries(*content);
  }
  ASSERT_EQ(acknowledged.size(), 2u);

  // The operator's failover, while mail arrives. A replica a moment behind
  // the deliveries may be refused as "not in sync"; ask again, never --force.
  std::string out;
  bool accepted = false;
  for (int attempt = 0; attempt < 20 && !accepted; ++attempt) {
    auto code = c.Slotctl({"failover", "st1", "--yes", "--reason", "fault test 8"}, &out);
    ASSERT_TRUE(code.ok()) << code.status();
    accepted = *code == 0;
    std::fprintf(stderr, "$ slotctl failover st1 --yes (exit %d)\n%s\n", *code, out.c_str());
    if (!accepted) absl::SleepFor(absl::Seconds(1));
  }
  ASSERT_TRUE(accepted) << "the failover was refused every time: " << out;
  ASSERT_TRUE(c.WaitForStore(
                   "st1",
                   [&](const v1::StoreInfo& s) {
                     const v1::Copy* m = MasterCopy(s);
                     return m != nullptr && m->usable() &&
                            s.master_epoch() > before->master_epoch();
                   },
                   absl::Seconds(60), "a new usable master")
                  .ok());
  std::ofstream(stop_old) << "stop\n";
  auto loop_exit = delivery.Wait(absl::Seconds(30));
  ASSERT_TRUE(loop_exit.ok()) << loop_exit.status();
  EXPECT_EQ(*loop_exit, 0) << "mailgen --mutate failed on the old master";

  auto after = c.Store("st1");
  ASSERT_TRUE(after.ok());
  const v1::Copy* m = MasterCopy(*after);
  ASSERT_NE(m, nullptr);
  const std::string new_master_name = absl::StrCat(m->slot().host(), "/", m->slot().slot());
  ASSERT_NE(new_master_name, "imap1/du1s1");
  ASSERT_EQ(acknowledged.count(new_master_name), 1u)
      << new_master_name << " was not a replica of st1 before the failover";
  const std::string new_master = c.SlotPath(m->slot().host(), m->slot().slot());
  auto on_new_master = ReadSlotContent(new_master);
  ASSERT_TRUE(on_new_master.ok());
  std::vector<std::string> lost = MissingFrom(acknowledged[new_master_name], *on_new_master);
  EXPECT_TRUE(lost.empty()) << "the new master lacks mail its replica held: "
                            << absl::StrJoin(lost, "\n");
  std::fprintf(stderr, "new master %s: %zu messages (it held %zu before the failover)\n",
               new_master_name.c_str(), MessageCount(*on_new_master),
               MessageCount(acknowledged[new_master_name]));

  // Rolling replication from the new master: more deliveries there reach
  // every copy.
  for (int round = 0; round < 3; ++round) {
    ASSERT_TRUE(c.MutateMail(m->slot().host(), m->slot().slot(), 5000 + round,
                             {"--new_pct=2", "--flag_pct=5", "--delete_pct=0"})
                    .ok());
  }
  auto latest = ReadSlotContent(new_master);
  ASSERT_TRUE(latest.ok());
  EXPECT_GT(MessageCount(*latest), MessageCount(*on_new_master));
  std::vector<std::string> problems;
  const absl::Time deadline = absl::Now() + absl::Seconds(60);
  do {
    auto p = c.CheckStoreHas("st1", *latest);
    ASSERT_TRUE(p.ok()) << p.status();
    problems = *p;
    if (problems.empty()) break;
    absl::SleepFor(absl::Milliseconds(500));
  } while (absl::Now() < deadline);
  EXPECT_TRUE(problems.empty()) << "mail delivered to the new master did not reach every copy:\n"
                                << absl::StrJoin(problems, "\n").substr(0, 2000);
  // The original mail, too, is on every copy.
  auto original = c.CheckStoreHas("st1", reference->at("st1"));
  ASSERT_TRUE(original.ok());
  EXPECT_TRUE(original->empty()) << absl::StrJoin(*original, "\n").substr(0, 2000);
  c.Slotctl({"store", "st1"}, &out).IgnoreError();
  std::fprintf(stderr, "$ slotctl store st1\n%s\n", out.c_str());
  std::fprintf(stderr, "delivery during failover test: %s wall\n",
               absl::FormatDuration(absl::Now() - start).c_str());
}

}  // namespace
}  // namespace slotkeeper::testing
