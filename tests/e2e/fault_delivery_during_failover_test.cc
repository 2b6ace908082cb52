// Fault test: mail keeps being delivered to the master during a
// failover.
//
// A delivery loop (mailgen --mutate: new messages and flag changes, no
// deletions, like an IMAP server under load) writes into st1's master while
// the master moves, in two ways:
//   - an operator failover (`slotctl failover st1`): the coordinator stops
//     renewing the master's lease, the old master fences itself when the
//     lease runs out, then the best replica is promoted;
//   - the master host's agent dies (SIGKILL): after the lease and the grace
//     the coordinator promotes a replica; the agent restarts later and its
//     slot, still holding mail delivered after the last sync, rejoins as a
//     replica of the new master.
// The loop stops once the new master is in place, as the MTA would turn to
// it. Checks:
//   - the new master holds every message its replica held just before the
//     failover began (what it had acknowledged), with the same content;
//   - rolling replication goes on from the new master: more mail delivered
//     there reaches every copy (the old master, now a replica, included), and
//     the original mail is on every copy.
#include <gtest/gtest.h>

#include <cstdlib>
#include <exception>
#include <filesystem>
#include <fstream>
#include <set>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "tests/e2e/cluster.h"
#include "tests/e2e/control_plane.h"
#include "tests/e2e/store_checks.h"

namespace slotkeeper::testing {
namespace {

namespace fs = std::filesystem;

// Message keys (as mail_check.h makes them) of the files `user` has in the
// slot's quarantine, any day.
std::set<std::string> QuarantinedKeys(const std::string& slot, const std::string& user) {
  std::set<std::string> keys;
  std::error_code ec;
  for (const auto& day : fs::directory_iterator(fs::path(slot) / ".quarantine", ec)) {
    for (auto it = fs::recursive_directory_iterator(day.path() / user, ec);
         !ec && it != fs::end(it); it.increment(ec)) {
      if (!it->is_regular_file()) continue;
      std::string base = it->path().filename().string();
      if (size_t colon = base.find(":2,"); colon != std::string::npos) base.resize(colon);
      keys.insert("maildir:" + base);
    }
  }
  return keys;
}

enum class Trigger { kOperatorFailover, kMasterAgentKilled };

void DeliverDuringFailover(Trigger trigger) {
  const bool kill = trigger == Trigger::kMasterAgentKilled;
  const absl::Time start = absl::Now();
  ClusterOptions options;
  options.root = std::string(std::getenv("TEST_TMPDIR")) +
                 (kill ? "/delivery_agent_killed" : "/delivery_operator_failover");
  options.verbose = true;
  // replace_after is long: the killed agent's copy is not replaced while it
  // is away, it comes back as a replica.
  options.coordinator_flags = {
      "--heartbeat=500ms",        "--suspect_after=3s",      "--down_after=6s",
      "--failover_grace_hard=3s", "--failover_grace=4s",     "--lease=4s",
      "--replace_after=10m",      "--task_retry_backoff=2s",
  };
  auto cluster = StartCluster(options);
  ASSERT_TRUE(cluster.ok()) << cluster.status();
  Cluster& c = **cluster;
  auto reference = c.CreateStores({{"st1", "imap1", "du1s1"}}, 6, 300);
  ASSERT_TRUE(reference.ok()) << reference.status();
  auto before = c.Store("st1");
  ASSERT_TRUE(before.ok());
  const std::string old_master = c.SlotPath("imap1", "du1s1");

  // Deliveries start and go on; replication chases them.
  const std::string stop_old = options.root + "/stop-old";
  Process delivery;
  // When the agent is killed, deliveries end with the host (below), so
  // they go slower: what the replicas had not yet pulled must stay under the
  // mass-deletion guard's threshold to be quarantined on the old master's
  // return rather than blocking it.
  ASSERT_TRUE(
      delivery
          .Start(DeliveryLoop(old_master, stop_old, 1000, kill ? "0.5" : "1", kill ? "1" : "0.2"),
                 options.root + "/delivery-old.log")
          .ok());
  absl::SleepFor(absl::Seconds(5));

  // Every replica's content just before the failover: whichever is promoted
  // must keep all of it.
  std::map<std::string, SlotContent> acknowledged;  // by "host/slot"
  for (const auto& copy : before->copies()) {
    if (copy.role() != v1::SLOT_REPLICA) continue;
    auto content = ReadWhileSyncing(c.SlotPath(copy.slot().host(), copy.slot().slot()));
    ASSERT_TRUE(content.ok()) << content.status();
    acknowledged[absl::StrCat(copy.slot().host(), "/", copy.slot().slot())] = *content;
  }
  ASSERT_EQ(acknowledged.size(), 2u);

  SlotContent old_final;  // the old master's mail when its host died
  auto stop_delivery = [&] {
    std::ofstream(stop_old) << "stop\n";
    auto loop_exit = delivery.Wait(absl::Seconds(30));
    ASSERT_TRUE(loop_exit.ok()) << loop_exit.status();
    EXPECT_EQ(*loop_exit, 0) << "mailgen --mutate failed on the old master";
  };
  if (kill) {
    // The host dies: deliveries there end, and so does its agent. (An agent
    // killed while its IMAP server goes on accepting mail cannot fence it;
    // that split brain is what the lease hook is for, not this test.)
    stop_delivery();
    auto content = ReadWhileSyncing(old_master);
    ASSERT_TRUE(content.ok()) << content.status();
    old_final = *content;
    c.KillAgent("imap1");
  } else {
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
  }
  ASSERT_TRUE(c.WaitForStore(
                   "st1",
                   [&](const v1::StoreInfo& s) {
                     const v1::Copy* m = MasterCopyOf(s);
                     return m != nullptr && m->usable() &&
                            s.master_epoch() > before->master_epoch();
                   },
                   absl::Seconds(60), "a new usable master")
                  .ok());
  if (!kill) stop_delivery();

  auto after = c.Store("st1");
  ASSERT_TRUE(after.ok());
  const v1::Copy* m = MasterCopyOf(*after);
  ASSERT_NE(m, nullptr);
  const std::string new_master_name = absl::StrCat(m->slot().host(), "/", m->slot().slot());
  ASSERT_NE(new_master_name, "imap1/du1s1");
  ASSERT_EQ(acknowledged.count(new_master_name), 1u)
      << new_master_name << " was not a replica of st1 before the failover";
  const std::string new_master = c.SlotPath(m->slot().host(), m->slot().slot());
  auto on_new_master = ReadWhileSyncing(new_master);
  ASSERT_TRUE(on_new_master.ok());
  std::vector<std::string> lost = MissingFrom(acknowledged[new_master_name], *on_new_master);
  EXPECT_TRUE(lost.empty()) << "the new master lacks mail its replica held: "
                            << absl::StrJoin(lost, "\n");
  std::fprintf(stderr, "new master %s: %zu messages (it held %zu before the failover)\n",
               new_master_name.c_str(), MessageCount(*on_new_master),
               MessageCount(acknowledged[new_master_name]));

  // The killed agent comes back; its slot must rejoin as a replica.
  if (kill) {
    ASSERT_TRUE(c.StartAgent("imap1").ok());
    ASSERT_TRUE(c.WaitForStore(
                     "st1",
                     [](const v1::StoreInfo& s) {
                       for (const auto& copy : s.copies()) {
                         if (copy.slot().host() == "imap1") {
                           return copy.role() == v1::SLOT_REPLICA && copy.usable();
                         }
                       }
                       return false;
                     },
                     absl::Seconds(60), "the old master back as a usable replica")
                    .ok());
  }

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
    try {  // the replicas are being written to while this reads them
      auto p = c.CheckStoreHas("st1", *latest);
      ASSERT_TRUE(p.ok()) << p.status();
      problems = *p;
    } catch (const std::exception& e) {
      problems = {e.what()};
    }
    if (problems.empty()) break;
    absl::SleepFor(absl::Milliseconds(500));
  } while (absl::Now() < deadline);
  EXPECT_TRUE(problems.empty()) << "mail delivered to the new master did not reach every copy:\n"
                                << absl::StrJoin(problems, "\n").substr(0, 2000);
  // Mail the old master took in after its replicas' last pull was never
  // acknowledged: it is not required on the new master, but it is not
  // deleted either: on its return the old master put it in its quarantine.
  if (kill) {
    auto now_on_master = ReadWhileSyncing(new_master);
    ASSERT_TRUE(now_on_master.ok());
    size_t unacknowledged = 0;
    for (const auto& [user, messages] : old_final) {
      const std::set<std::string> quarantined = QuarantinedKeys(old_master, user);
      for (const auto& [key, hash] : messages) {
        auto u = now_on_master->find(user);
        if (u != now_on_master->end() && u->second.count(key) > 0) continue;
        ++unacknowledged;
        EXPECT_EQ(quarantined.count(key), 1u)
            << user << ": " << key << " neither on the new master nor in imap1's quarantine";
      }
    }
    std::fprintf(stderr, "%zu message(s) delivered to the old master after the last pull\n",
                 unacknowledged);
  }
  // The original mail, too, is on every copy.
  auto original = c.CheckStoreHas("st1", reference->at("st1"));
  ASSERT_TRUE(original.ok());
  EXPECT_TRUE(original->empty()) << absl::StrJoin(*original, "\n").substr(0, 2000);
  std::string out;
  c.Slotctl({"store", "st1"}, &out).IgnoreError();
  std::fprintf(stderr, "$ slotctl store st1\n%s\n", out.c_str());
  std::fprintf(stderr, "delivery during failover test (%s): %s wall\n",
               kill ? "agent killed" : "operator failover",
               absl::FormatDuration(absl::Now() - start).c_str());
}

TEST(FaultDeliveryDuringFailoverTest, OperatorFailover) {
  if (absl::Status st = CanLoopMount(); !st.ok()) {
    GTEST_SKIP() << "fault tests need root and loop mounts: " << st;
  }
  DeliverDuringFailover(Trigger::kOperatorFailover);
}

TEST(FaultDeliveryDuringFailoverTest, MasterAgentKilled) {
  if (absl::Status st = CanLoopMount(); !st.ok()) {
    GTEST_SKIP() << "fault tests need root and loop mounts: " << st;
  }
  DeliverDuringFailover(Trigger::kMasterAgentKilled);
}

}  // namespace
}  // namespace slotkeeper::testing
