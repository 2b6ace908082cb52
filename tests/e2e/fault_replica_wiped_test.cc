// Fault test: a replica's slot changed behind its agent's back, first
// emptied (a re-formatted disk, a wrong mount), then replaced by an older
// copy of itself (a backup put back).
//
// Each time the replica's next catch-up cycle sees the slot's identity
// changed; the coordinator shows the copy not in sync (identity_changed,
// out_of_sync_reason) while it is refilled from the master and verified,
// and never promotes it meanwhile: a planned failover (dry run) picks the
// other replica and refuses this one, and when the master's filesystem goes
// read-only during the second window the store fails over to the other
// replica. The copy ends with every message of its master, and no copy
// lost a message.
//
// The agents' fetch rate is limited (--sync_bandwidth_bytes_per_second) so
// that a refill takes seconds: the window in which the copy is known to be
// unknown is long enough to look at.
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "tests/e2e/cluster.h"
#include "tests/e2e/control_plane.h"
#include "tests/e2e/data_safety.h"

namespace slotkeeper::testing {
namespace {

namespace fs = std::filesystem;

constexpr int64_t kCatchUpMs = 1000;
constexpr int64_t kBandwidth = 1 << 20;  // bytes/s, per agent
// A replica's changed identity reaches the coordinator within one catch-up
// interval and the agent's next report; the rest is room for a loaded
// machine.
const absl::Duration kDetectionBound = absl::Milliseconds(kCatchUpMs + 9000);

// Watches the coordinator's view of one copy: when it is first seen
// unknown (identity changed, not in sync), when it is verified again, and
// whether it was ever master meanwhile.
struct CopyWatch {
  std::string copy;
  absl::Time changed_at;
  bool seen_unknown = false;
  bool became_master_while_unknown = false;
  std::string reason;

  // True once the copy is in sync again with its identity accepted.
  bool Observe(const v1::StoreInfo& s) {
    const v1::Copy* c = CopyAt(s, copy);
    if (c == nullptr) return false;
    const bool unknown = c->identity_changed() || !c->in_sync();
    if (unknown && !seen_unknown && c->identity_changed()) {
      seen_unknown = true;
      reason = c->out_of_sync_reason();
      std::fprintf(stderr, "figure: %s shown not in sync %s after the change: %s\n", copy.c_str(),
                   absl::FormatDuration(absl::Now() - changed_at).c_str(), reason.c_str());
    }
    if (seen_unknown && unknown && c->role() == v1::SLOT_MASTER) {
      became_master_while_unknown = true;
    }
    return seen_unknown && !unknown && c->role() == v1::SLOT_REPLICA;
  }
};

TEST(FaultReplicaWipedTest, AnEmptiedOrOlderReplicaIsNotTrustedUntilRefilledAndVerified) {
  if (absl::Status st = CanLoopMount(); !st.ok()) {
    GTEST_SKIP() << "fault tests need root and loop mounts: " << st;
  }
  const absl::Time start = absl::Now();
  ClusterOptions options = DataSafetyOptions("replica_wiped", absl::Seconds(2), kCatchUpMs);
  options.agent_flags = {absl::StrCat("--sync_bandwidth_bytes_per_second=", kBandwidth)};
  auto created = StartCluster(options, /*need_loop_mounts=*/true);
  ASSERT_TRUE(created.ok()) << created.status();
  Cluster& c = **created;
  auto reference = CreateStoreInSync(c, /*messages=*/80);
  ASSERT_TRUE(reference.ok()) << reference.status();
  const SlotContent& ref = reference->at("st1");
  auto store = c.Store("st1");
  ASSERT_TRUE(store.ok()) << store.status();
  const std::vector<std::string> replicas = ReplicasOf(*store);
  ASSERT_EQ(replicas.size(), 2u) << store->ShortDebugString();
  const std::string wiped = replicas[0];
  const std::string other = replicas[1];
  const std::string wiped_dir = c.SlotPath(HostOf(wiped), SlotOf(wiped));
  std::fprintf(stderr, "figure: st1 holds %zu messages of %zu users; master imap1/du1s1\n",
               MessageCount(ref), ref.size());

  // ---- The replica emptied: everything under its slot directory removed.
  CopyWatch emptied;
  emptied.copy = wiped;
  emptied.changed_at = absl::Now();
  std::error_code ec;
  size_t removed = 0;
  for (const auto& e : fs::directory_iterator(wiped_dir, ec)) {
    removed += fs::remove_all(e.path(), ec);
  }
  ASSERT_FALSE(ec) << ec.message();
  std::fprintf(stderr, "emptied %s (%zu entries removed)\n", wiped.c_str(), removed);

  ASSERT_TRUE(
      c.WaitForStore(
           "st1",
           [&](const v1::StoreInfo& s) { return emptied.Observe(s) || emptied.seen_unknown; },
           kDetectionBound, absl::StrCat(wiped, " shown with its identity changed"))
          .ok());
  EXPECT_TRUE(absl::StrContains(emptied.reason, "identity")) << emptied.reason;
  // While it is unknown, a planned failover picks the other replica and
  // refuses this one.
  {
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
    v1::FailoverRequest req;
    req.set_store("st1");
    req.set_dry_run(true);
    v1::FailoverResponse plan;
    ASSERT_TRUE(c.api().Failover(&ctx, req, &plan).ok());
    ASSERT_EQ(plan.items_size(), 1) << plan.ShortDebugString();
    EXPECT_EQ(absl::StrCat(plan.items(0).to().host(), "/", plan.items(0).to().slot()), other)
        << "a planned failover would promote the emptied replica: " << plan.ShortDebugString();
  }
  {
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
    v1::FailoverRequest req;
    req.set_store("st1");
    req.set_dry_run(true);
    req.mutable_to()->set_host(HostOf(wiped));
    req.mutable_to()->set_slot(SlotOf(wiped));
    v1::FailoverResponse plan;
    ASSERT_TRUE(c.api().Failover(&ctx, req, &plan).ok());
    ASSERT_EQ(plan.items_size(), 1) << plan.ShortDebugString();
    EXPECT_TRUE(absl::StrContains(plan.items(0).refused(), "identity changed"))
        << "a failover onto the emptied replica was not refused for its unknown content: "
        << plan.ShortDebugString();
    std::fprintf(stderr, "failover to %s (dry run): refused: %s\n", wiped.c_str(),
                 plan.items(0).refused().c_str());
  }
  std::string out;
  auto code = c.Slotctl({"failover", "st1", "--dry-run"}, &out);
  ASSERT_TRUE(code.ok());
  std::fprintf(stderr, "$ slotctl failover st1 --dry-run\n%s\n", out.c_str());

  ASSERT_TRUE(c.WaitForStore(
                   "st1", [&](const v1::StoreInfo& s) { return emptied.Observe(s); },
                   absl::Seconds(90), absl::StrCat(wiped, " refilled and verified"))
                  .ok());
  EXPECT_FALSE(emptied.became_master_while_unknown);
  std::fprintf(stderr, "figure: %s refilled and verified %s after it was emptied\n", wiped.c_str(),
               absl::FormatDuration(absl::Now() - emptied.changed_at).c_str());
  auto refilled = ReadSlotContent(wiped_dir);
  ASSERT_TRUE(refilled.ok()) << refilled.status();
  EXPECT_TRUE(MissingFrom(ref, *refilled).empty())
      << absl::StrJoin(MissingFrom(ref, *refilled), "\n");
  EXPECT_EQ(MessageCount(*refilled), MessageCount(ref));
  ASSERT_TRUE(fs::exists(fs::path(wiped_dir) / ".slotkeeper-instance"));

  // ---- The replica replaced by an older copy of itself. The copy is taken
  // now; mail arrives and reaches both replicas; then the old copy is put
  // back in place of the slot directory.
  const std::string older = wiped_dir + ".older";
  std::string cp_out;
  auto cp = RunCommand({"cp", "-a", wiped_dir, older}, &cp_out);
  ASSERT_TRUE(cp.ok() && *cp == 0) << cp_out;
  // Big enough that the refill at the limited rate outlasts a failover.
  auto late = DeliverMessages(c.SlotPath("imap1", "du1s1"), "late", 48, "late", 256 << 10);
  ASSERT_TRUE(late.ok()) << late.status();
  auto matched = WaitForCopiesToMatchMaster(c, "st1", absl::Seconds(90));
  ASSERT_TRUE(matched.ok()) << matched.status();
  ASSERT_TRUE(WaitForReplicasInSync(c, "st1", absl::Seconds(30)).ok());
  auto before = c.Store("st1");
  ASSERT_TRUE(before.ok());

  CopyWatch replaced;
  replaced.copy = wiped;
  replaced.changed_at = absl::Now();
  ASSERT_EQ(rename(wiped_dir.c_str(), (wiped_dir + ".newer").c_str()), 0);
  ASSERT_EQ(rename(older.c_str(), wiped_dir.c_str()), 0);
  std::fprintf(stderr, "put an older copy in place of %s (without the 48 late messages)\n",
               wiped.c_str());
  ASSERT_TRUE(
      c.WaitForStore(
           "st1",
           [&](const v1::StoreInfo& s) { return replaced.Observe(s) || replaced.seen_unknown; },
           kDetectionBound, absl::StrCat(wiped, " shown with its identity changed again"))
          .ok());

  // The master becomes unusable while the copy is unknown: the store must
  // fail over to the other replica.
  LoopFilesystem* master_fs = c.UnitFilesystem("imap1", "du1");
  ASSERT_NE(master_fs, nullptr);
  const absl::Time remounted = absl::Now();
  ASSERT_TRUE(RemountReadOnlyRetrying(*master_fs).ok());
  std::fprintf(stderr, "remounted imap1's du1 (the master's) read-only\n");
  bool unknown_at_failover = false;
  std::string new_master;
  ASSERT_TRUE(c.WaitForStore(
                   "st1",
                   [&](const v1::StoreInfo& s) {
                     const bool verified = replaced.Observe(s);
                     const std::string m = MasterOf(s);
                     if (!m.empty() && m != "imap1/du1s1") {
                       new_master = m;
                       unknown_at_failover = !verified;
                       return true;
                     }
                     return false;
                   },
                   absl::Seconds(60), "a new master")
                  .ok());
  std::fprintf(stderr, "figure: st1 failed over to %s %s after the remount\n", new_master.c_str(),
               absl::FormatDuration(absl::Now() - remounted).c_str());
  EXPECT_EQ(new_master, other) << "promoted a copy whose content was unknown";
  EXPECT_TRUE(unknown_at_failover)
      << "the older copy was verified before the failover: the window was not exercised";

  ASSERT_TRUE(c.WaitForStore(
                   "st1", [&](const v1::StoreInfo& s) { return replaced.Observe(s); },
                   absl::Seconds(90), absl::StrCat(wiped, " refilled and verified again"))
                  .ok());
  EXPECT_FALSE(replaced.became_master_while_unknown);
  std::fprintf(stderr, "figure: %s refilled and verified %s after the older copy was put back\n",
               wiped.c_str(), absl::FormatDuration(absl::Now() - replaced.changed_at).c_str());

  // No message lost: the original mail and the late mail on every copy
  // (the old master, read-only, included), and the refilled copy holds
  // exactly what the new master holds.
  SlotContent all = ref;
  all["late"] = late->at("late");
  auto problems = c.CheckStoreHas("st1", all);
  ASSERT_TRUE(problems.ok()) << problems.status();
  EXPECT_TRUE(problems->empty()) << absl::StrJoin(*problems, "\n").substr(0, 2000);
  auto master_content = ReadSlotContent(c.SlotPath(HostOf(other), SlotOf(other)));
  auto copy_content = ReadSlotContent(wiped_dir);
  ASSERT_TRUE(master_content.ok() && copy_content.ok());
  EXPECT_EQ(*copy_content, *master_content);
  std::fprintf(stderr, "figure: %zu messages on every copy, 0 lost; test took %s\n",
               MessageCount(all), absl::FormatDuration(absl::Now() - start).c_str());
}

}  // namespace
}  // namespace slotkeeper::testing
