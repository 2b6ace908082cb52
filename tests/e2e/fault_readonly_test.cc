// Fault test: the filesystem under a master slot is remounted
// read-only (`mount -o remount,ro`, as when ext4 hits errors=remount-ro).
//
// The agent reports the read-only filesystem (hard evidence from a live
// agent); the coordinator stops renewing the master's lease and fails the
// store over once both the hard grace and the old master's lease have run
// out. Checks, from the event journal and the coordinator's lease bound:
//   - failover within the grace: not before detection + failover_grace_hard,
//     and well within a bound once the lease ran out;
//   - the lease respected: the promotion is not earlier than the old
//     master's lease could still be valid (the coordinator's own bound,
//     HostInfo.slots[].lease_valid_until_ms, read while it waited);
//   - the old slot is no longer master on its agent (its recorded role);
//   - no message lost on any copy of any store.
#include <gtest/gtest.h>

#include <cerrno>
#include <cstdlib>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "tests/e2e/cluster.h"

namespace slotkeeper::testing {
namespace {

constexpr int64_t kGraceHardMs = 2000;
constexpr int64_t kLeaseMs = 6000;

TEST(FaultReadOnlyTest, MasterFailsOverWithinGraceAndAfterItsLease) {
  if (absl::Status st = CanLoopMount(); !st.ok()) {
    GTEST_SKIP() << "needs loop-mounted ext4 (root) for a read-only remount: " << st;
  }
  ClusterOptions options;
  options.root = std::string(std::getenv("TEST_TMPDIR")) + "/fault_readonly";
  options.verbose = true;
  options.coordinator_flags = {
      "--heartbeat=500ms",       "--suspect_after=3s",
      "--down_after=10s",        absl::StrCat("--failover_grace_hard=", kGraceHardMs, "ms"),
      "--failover_grace=60s",    absl::StrCat("--lease=", kLeaseMs, "ms"),
      "--replace_after=10m",  // no re-replication in this test
      "--task_retry_backoff=2s",
  };
  auto created = Cluster::Create(options);
  ASSERT_TRUE(created.ok()) << created.status();
  Cluster& c = **created;
  ASSERT_TRUE(c.loop_mounted());
  ASSERT_TRUE(c.StartCoordinator().ok());
  ASSERT_TRUE(c.StartAllAgents().ok());
  auto reference = c.CreateStores({{"st1", "imap4", "du2s1"}, {"st2", "imap1", "du1s1"}},
                                  /*users=*/8, /*messages=*/200);
  ASSERT_TRUE(reference.ok()) << reference.status();

  LoopFilesystem* fs = c.UnitFilesystem("imap4", "du2");
  ASSERT_NE(fs, nullptr);
  const absl::Time injected = absl::Now();
  ASSERT_TRUE(RemountReadOnlyRetrying(*fs).ok());
  c.Log(absl::StrCat("remounted ", fs->mount_point(), " read-only"));

  // Until the store has a new master: the coordinator's lease bound on the
  // old master, as published once the slot is unusable (then no report
  // renews it any more).
  int64_t lease_bound_ms = 0;
  std::string new_master;
  const absl::Time deadline = absl::Now() + absl::Seconds(60);
  while (absl::Now() < deadline) {
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
    v1::GetHostRequest req;
    req.set_host("imap4");
    v1::HostInfo host;
    if (c.api().GetHost(&ctx, req, &host).ok()) {
      for (const auto& s : host.slots()) {
        if (s.ref().slot() == "du2s1" && s.role() == v1::SLOT_MASTER && !s.usable()) {
          lease_bound_ms = std::max(lease_bound_ms, s.lease_valid_until_ms());
        }
      }
    }
    auto st1 = c.Store("st1");
    if (st1.ok() && !MasterOf(*st1).empty() && MasterOf(*st1) != "imap4/du2s1") {
      new_master = MasterOf(*st1);
      break;
    }
    absl::SleepFor(absl::Milliseconds(50));
  }
  ASSERT_FALSE(new_master.empty()) << "st1 was not failed over within 60 s";
  c.Log(absl::StrCat("st1 failed over to ", new_master, " after ",
                     absl::FormatDuration(absl::Now() - injected)));

  auto events = ListAllEvents(c);
  ASSERT_TRUE(events.ok()) << events.status();
  const v1::Event* detected = nullptr;  // the slot declared unusable
  const v1::Event* failover = nullptr;
  for (const auto& e : *events) {
    if (detected == nullptr && e.kind() == "slot.unusable" && e.host() == "imap4" &&
        e.slot() == "du2s1") {
      detected = &e;
    }
    if (failover == nullptr && e.kind() == "store.failover" && e.store() == "st1") failover = &e;
  }
  ASSERT_NE(detected, nullptr) << "no slot.unusable event for imap4/du2s1";
  ASSERT_NE(failover, nullptr) << "no store.failover event for st1";
  EXPECT_LT(detected->seq(), failover->seq());
  c.Log(absl::StrCat("detected: ", detected->text(), "; failover: ", failover->text()));

  // The grace: not before detection + failover_grace_hard...
  EXPECT_GE(failover->time_ms(), detected->time_ms() + kGraceHardMs)
      << "failed over before the hard grace ran out";
  // ...the lease: the coordinator knew a bound on the old master's lease
  // when it detected the failure, and did not promote before it passed.
  ASSERT_GT(lease_bound_ms, 0) << "the coordinator published no lease bound for the old master";
  EXPECT_GT(lease_bound_ms, detected->time_ms())
      << "the old master's lease was already over at detection: the lease wait was not exercised";
  EXPECT_GE(failover->time_ms(), lease_bound_ms)
      << "promoted while the old master's lease could still be valid";
  // ...and no later than needed, with room for a loaded machine.
  EXPECT_LE(failover->time_ms(), detected->time_ms() + kLeaseMs + kGraceHardMs + 10000);

  // The new master is usable, on another host; the old copy is a replica.
  auto st1 = c.Store("st1");
  ASSERT_TRUE(st1.ok());
  EXPECT_NE(new_master.substr(0, new_master.find('/')), "imap4");
  for (const auto& copy : st1->copies()) {
    if (copy.slot().host() == "imap4") {
      EXPECT_EQ(copy.role(), v1::SLOT_REPLICA) << copy.ShortDebugString();
      EXPECT_FALSE(copy.usable());
    }
    if (copy.role() == v1::SLOT_MASTER) {
      EXPECT_TRUE(copy.usable());
    }
  }
  // The agent fenced the old master: its recorded role is no longer master.
  std::string role;
  for (int i = 0; i < 150; ++i) {
    auto r = AgentRecordedRole(options.root, "imap4", "du2s1");
    ASSERT_TRUE(r.ok()) << r.status();
    role = *r;
    if (role != "master") break;
    absl::SleepFor(absl::Milliseconds(100));
  }
  EXPECT_EQ(role, "replica") << "imap4/du2s1 is still master on its agent";
  // The other store was not disturbed.
  auto st2 = c.Store("st2");
  ASSERT_TRUE(st2.ok());
  EXPECT_EQ(MasterOf(*st2), "imap1/du1s1");

  std::vector<std::string> problems = CheckNoMessageLost(c, *reference);
  EXPECT_TRUE(problems.empty()) << absl::StrJoin(problems, "\n").substr(0, 2000);
}

}  // namespace
}  // namespace slotkeeper::testing
