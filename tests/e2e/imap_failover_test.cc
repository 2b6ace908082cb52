// Real mail through a unit failure, as users and an MTA see it.
//
// Four agents on loop-mounted ext4, two stores (st1 mastered on imap1/du1,
// st2 on imap2/du1) of ten users each, three copies each. Every master slot
// is served by its own Dovecot instance (IMAP + LMTP, started by the agents'
// hooks under slotfence); a front Dovecot proxy, routed by slotroute, is the
// only address clients use. A Python client (tests/e2e/mail_client.py,
// imaplib and smtplib.LMTP):
//   1. delivers 200 messages (10 per user) through the front's LMTP, sets
//      flags on some through the front's IMAP, and checks that every user
//      sees exactly their messages with their flags;
//   2. runs a delivery loop (retrying temporary failures, as an MTA does)
//      and a reader per user (log in, fetch, every second) while imap1/du1,
//      under st1's master, is shut down (EXT4_IOC_SHUTDOWN);
//   3. after the failover: the old master's instance is stopped, and every
//      message (the seeded ones, and every one the loop had accepted before
//      and during the fault) is readable through the same front address,
//      once, with the flags set before the fault; the readers' longest
//      outage, each user's unavailability and the delivery delays are
//      printed (a "REPORT" line, BENCHMARKS.md).
// Replication is asynchronous, so "every message accepted before the fault"
// has one exception, measured and printed rather than hidden: messages the
// master accepted within kAtRiskWindow of its unit's death that no replica
// had copied yet ("AT RISK" lines; the unit is unreadable, so no final pull
// can save them).
#include <gtest/gtest.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "tests/e2e/cluster.h"
#include "tests/e2e/control_plane.h"
#include "tests/e2e/mail_front.h"
#include "tests/e2e/store_checks.h"

namespace slotkeeper::testing {
namespace {

namespace fs = std::filesystem;

// How long before the fault an accepted message may still be only on the
// failed master: the replication lag's bar is 1 s at p99; this allows a
// loaded test machine three.
constexpr absl::Duration kAtRiskWindow = absl::Seconds(3);

std::vector<std::string> UsersOf(const std::string& store, int n) {
  std::vector<std::string> users;
  for (int i = 1; i <= n; ++i) users.push_back(absl::StrCat(store, "-user", i));
  return users;
}

// Creates each store mastered on its host/slot with its users, three copies
// each. Every master slot is filled first, so that placement does not take
// one for a spare.
struct MailStore {
  std::string store, host, slot;
  std::vector<std::string> users;
};
absl::Status CreateMailStores(Cluster& c, const std::vector<MailStore>& stores) {
  std::map<std::string, std::string> holding;
  for (const MailStore& s : stores) {
    if (absl::Status st = MailFront::MakeUsers(c, s.host, s.slot, s.store, s.users); !st.ok()) {
      return st;
    }
    holding[s.host + "/" + s.slot] = s.store;
  }
  if (absl::Status st = c.WaitForSlotsHolding(holding, absl::Seconds(30)); !st.ok()) return st;
  for (const MailStore& s : stores) {
    std::string out;
    auto code = c.Slotctl(
        {"store", "create", s.store, "--master", s.host + "/" + s.slot, "--copies", "3"}, &out);
    if (!code.ok()) return code.status();
    if (*code != 0) return absl::InternalError(absl::StrCat("store create ", s.store, ": ", out));
  }
  return absl::OkStatus();
}

TEST(ImapFailoverTest, MailThroughTheFrontBeforeDuringAndAfterAUnitFailure) {
  if (absl::Status st = CanLoopMount(); !st.ok()) GTEST_SKIP() << "needs loop mounts: " << st;
  if (absl::Status st = CanRunDovecot(); !st.ok()) GTEST_SKIP() << "needs Dovecot: " << st;
  const absl::Time start = absl::Now();
  auto root = MakeMailRoot("imap_failover");
  ASSERT_TRUE(root.ok()) << root.status();
  const std::vector<std::string> st1_users = UsersOf("st1", 10);
  const std::vector<std::string> st2_users = UsersOf("st2", 10);
  std::vector<std::string> users = st1_users;
  users.insert(users.end(), st2_users.begin(), st2_users.end());
  const std::string user_list = "--users=" + absl::StrJoin(users, ",");
  // Declared first, so destroyed last: after the cluster (inner scope) and
  // the front, also when an assertion ends the test early.
  struct RemoveRoot {
    std::string dir;
    ~RemoveRoot() {
      std::error_code ec;
      fs::remove_all(dir, ec);
    }
  } remove_root{*root};

  ClusterOptions options = ControlPlaneOptions("imap_failover");
  options.root = *root;
  ASSERT_TRUE(MailFront::Configure(options, users).ok());
  std::unique_ptr<MailFront> front;
  {
    auto cluster = StartCluster(options);
    ASSERT_TRUE(cluster.ok()) << cluster.status();
    Cluster& c = **cluster;
    absl::Status created = CreateMailStores(
        c, {{"st1", "imap1", "du1s1", st1_users}, {"st2", "imap2", "du1s1", st2_users}});
    ASSERT_TRUE(created.ok()) << created;
    ASSERT_TRUE(c.WaitForStatus(
                     [](const v1::ClusterStatus& s) {
                       return s.stores_total() == 2 && s.stores_healthy() == 2;
                     },
                     absl::Seconds(90), "both stores healthy")
                    .ok());
    auto started = MailFront::Start(c, *root);
    ASSERT_TRUE(started.ok()) << started.status();
    front = *std::move(started);
    ASSERT_TRUE(front->InstanceRunning("imap1", "du1s1")) << front->InstanceLog("imap1", "du1s1");
    ASSERT_TRUE(front->InstanceRunning("imap2", "du1s1")) << front->InstanceLog("imap2", "du1s1");

    // 1. 200 messages and flags through the front; each user sees theirs.
    const std::string seed = *root + "/seed.json";
    std::string out;
    auto code = front->RunClient("seed", {user_list, "--per_user=10", "--out=" + seed}, &out);
    ASSERT_TRUE(code.ok()) << code.status();
    ASSERT_EQ(*code, 0) << out;
    std::fprintf(stderr, "%s", out.c_str());
    code = front->RunClient("check", {"--expect=" + seed, "--wait=30"}, &out);
    ASSERT_TRUE(code.ok()) << code.status();
    ASSERT_EQ(*code, 0) << out;
    std::fprintf(stderr, "check before the fault: %s", out.c_str());
    // The flags reach the replicas before the fault ("set before the last
    // sync").
    ASSERT_TRUE(WaitForCopiesToMatchMaster(c, "st1", absl::Seconds(60)).ok());

    // 2. The loops run; the unit under st1's master fails.
    const std::string stop = *root + "/stop";
    const std::string deliveries = *root + "/deliveries.jsonl";
    const std::string reads = *root + "/reads.jsonl";
    Process deliver, read;
    ASSERT_TRUE(deliver
                    .Start(front->ClientArgv("deliver", {user_list, "--stop=" + stop,
                                                         "--log=" + deliveries, "--interval=0.1"}),
                           *root + "/deliver.log")
                    .ok());
    ASSERT_TRUE(read.Start(front->ClientArgv("read", {user_list, "--stop=" + stop, "--log=" + reads,
                                                      "--interval=1"}),
                           *root + "/read.log")
                    .ok());
    absl::SleepFor(absl::Seconds(6));
    auto before = c.Store("st1");
    ASSERT_TRUE(before.ok());
    ASSERT_EQ(MasterOf(*before), "imap1/du1s1");
    LoopFilesystem* unit = c.UnitFilesystem("imap1", "du1");
    ASSERT_NE(unit, nullptr);
    const absl::Time fault = absl::Now();
    ASSERT_TRUE(unit->Shutdown().ok());
    c.Log("imap1/du1 shut down under st1's master");

    auto after =
        WaitForNewMaster(c, "st1", before->master_epoch(), "imap1/du1s1", absl::Seconds(90));
    ASSERT_TRUE(after.ok()) << after.status();
    const std::string new_master = MasterOf(*after);
    c.Log(absl::StrCat("st1 failed over to ", new_master, " ",
                       absl::FormatDuration(absl::Now() - fault), " after the fault"));
    const absl::Time deadline = absl::Now() + absl::Seconds(30);
    while (!front->InstanceRunning(HostOf(new_master), SlotOf(new_master)) &&
           absl::Now() < deadline) {
      absl::SleepFor(absl::Milliseconds(100));
    }
    ASSERT_TRUE(front->InstanceRunning(HostOf(new_master), SlotOf(new_master)))
        << front->InstanceLog(HostOf(new_master), SlotOf(new_master));
    absl::SleepFor(absl::Seconds(10));  // the loops go on against the new master
    std::ofstream(stop) << "stop\n";
    auto deliver_exit = deliver.Wait(absl::Seconds(90));
    auto read_exit = read.Wait(absl::Seconds(30));
    ASSERT_TRUE(deliver_exit.ok() && read_exit.ok()) << "the loops did not stop";
    EXPECT_EQ(*deliver_exit, 0) << deliver.ReadLog();
    EXPECT_EQ(*read_exit, 0) << read.ReadLog();

    // 3. The old master's instance is stopped; every accepted message is
    // readable through the front, once, flags kept.
    EXPECT_FALSE(front->InstanceRunning("imap1", "du1s1"))
        << "the failed master's Dovecot still runs: " << front->InstanceLog("imap1", "du1s1");
    const std::string loop = *root + "/loop.json";
    code = front->RunClient("report",
                            {"--reads=" + reads, "--deliveries=" + deliveries, "--out=" + loop,
                             "--affected_prefix=st1-"},
                            &out);
    ASSERT_TRUE(code.ok()) << code.status();
    ASSERT_EQ(*code, 0) << out;
    std::fprintf(stderr, "%s", out.c_str());
    EXPECT_NE(out.find("\"deliveries_refused\": 0,"), std::string::npos) << out;
    EXPECT_NE(out.find("\"deliveries_given_up\": 0,"), std::string::npos) << out;
    // Replication is asynchronous: what the master accepted in the last
    // moments before its unit died may not have reached a replica (the mail
    // at risk, bounded by the replication lag). Such messages are counted and
    // printed; anything accepted earlier, or after the fault, must be there.
    code = front->RunClient(
        "check",
        {"--expect=" + seed, "--expect=" + loop, "--wait=60", "--deliveries=" + deliveries,
         absl::StrFormat("--fault_time=%.6f", absl::ToDoubleSeconds(fault - absl::UnixEpoch())),
         absl::StrCat("--at_risk_window=", absl::ToDoubleSeconds(kAtRiskWindow))},
        &out);
    ASSERT_TRUE(code.ok()) << code.status();
    EXPECT_EQ(*code, 0) << out;
    std::fprintf(stderr, "check after the failover: %s", out.c_str());
    std::string store_out;
    c.Slotctl({"store", "st1"}, &store_out).IgnoreError();
    std::fprintf(stderr, "$ slotctl store st1\n%s\n", store_out.c_str());
    front.reset();  // before the cluster: its instances read the slots
  }
  std::fprintf(stderr, "imap failover test: %s wall\n",
               absl::FormatDuration(absl::Now() - start).c_str());
}

}  // namespace
}  // namespace slotkeeper::testing
