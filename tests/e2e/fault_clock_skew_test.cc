// Fault test: a host whose clock is set back 6 hours.
//
// imap2's agent runs under libfaketime, 6 hours in the past. The
// coordinator must report it (host.clock_skewed event, HostInfo.clock_skewed,
// `slotctl host`) and never promote it. Two stores mastered on imap1 have a
// replica on imap2:
//   st1: replicas imap2 (skewed) and imap4. Without the skew guard imap2
//        would win the promotion (same lag, same load, first by name).
//   st2: its only replica is on imap2.
// imap1's agent is killed. st1 must fail over to imap4; st2 must stay
// without a new master, with the skew named as the reason. No message is
// lost on any copy.
//
// libfaketime: the agent (many gRPC and abseil threads, timers on
// CLOCK_MONOTONIC) runs under `faketime -m --exclude-monotonic -f -6h`: -f
// takes "-6h" as an offset from the real time, -m loads the library variant
// made for multi-threaded programs, and --exclude-monotonic leaves the
// monotonic clock alone, so only the wall clock the agent reports (and
// stamps) is set back. Plain `faketime -f -6h` was tried too and also works
// here: it shifts CLOCK_MONOTONIC by a constant, which one process does not
// notice; the flags above are kept as the safer setting.
#include <gtest/gtest.h>

#include <chrono>
#include <cstdlib>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "tests/e2e/cluster.h"

namespace slotkeeper::testing {
namespace {

std::string MasterOf(const v1::StoreInfo& s) {
  for (const auto& c : s.copies()) {
    if (c.role() == v1::SLOT_MASTER) return c.slot().host();
  }
  return "";
}

bool HasUsableMaster(const v1::StoreInfo& s) {
  for (const auto& c : s.copies()) {
    if (c.role() == v1::SLOT_MASTER && c.usable()) return true;
  }
  return false;
}

TEST(FaultClockSkewTest, SkewedHostIsReportedAndNeverPromoted) {
  if (absl::Status st = CanLoopMount(); !st.ok()) {
    GTEST_SKIP() << "fault tests need root and loop mounts: " << st;
  }
  const absl::Time start = absl::Now();
  ClusterOptions options;
  options.root = std::string(std::getenv("TEST_TMPDIR")) + "/clock_skew";
  options.verbose = true;
  options.agent_wrapper["imap2"] = {"faketime", "-m", "--exclude-monotonic", "-f", "-6h"};
  // replace_after is long: no copy is replaced while the test looks at the
  // promotion decision, and every copy stays where it was for the oracle.
  options.coordinator_flags = {
      "--heartbeat=500ms",        "--suspect_after=3s",      "--down_after=8s",
      "--failover_grace_hard=3s", "--failover_grace=10s",    "--lease=4s",
      "--replace_after=10m",      "--task_retry_backoff=2s",
  };
  auto cluster = Cluster::Create(options);
  ASSERT_TRUE(cluster.ok()) << cluster.status();
  Cluster& c = **cluster;
  ASSERT_TRUE(c.StartCoordinator().ok());
  ASSERT_TRUE(c.StartAllAgents().ok()) << "an agent under faketime did not come up";

  // Reported: an event, the host record, and slotctl.
  v1::Event skew_event;
  ASSERT_TRUE(c.WaitForEvent("host.clock_skewed", absl::Seconds(30), &skew_event).ok());
  EXPECT_EQ(skew_event.host(), "imap2") << skew_event.ShortDebugString();
  {
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
    v1::GetHostRequest req;
    req.set_host("imap2");
    v1::HostInfo host;
    ASSERT_TRUE(c.api().GetHost(&ctx, req, &host).ok());
    EXPECT_TRUE(host.clock_skewed());
    // About -6 h; anything beyond an hour means the offset was measured.
    EXPECT_LT(host.clock_offset_ms(), -3600 * 1000) << host.clock_offset_ms();
    EXPECT_EQ(host.state(), v1::HOST_UP);
  }
  std::string out;
  auto code = c.Slotctl({"host", "imap2"}, &out);
  ASSERT_TRUE(code.ok()) << code.status();
  EXPECT_EQ(*code, 0) << out;
  EXPECT_TRUE(absl::StrContains(out, "SKEWED")) << out;

  // Two stores mastered on imap1, each with a replica on the skewed host.
  ASSERT_TRUE(c.GenerateMail("imap1", "du1s1", "st1", 6, 300, 1).ok());
  ASSERT_TRUE(c.GenerateMail("imap1", "du2s1", "st2", 6, 300, 2).ok());
  auto ref1 = ReadSlotContent(c.SlotPath("imap1", "du1s1"));
  auto ref2 = ReadSlotContent(c.SlotPath("imap1", "du2s1"));
  ASSERT_TRUE(ref1.ok() && ref2.ok());
  ASSERT_TRUE(
      c.WaitForSlotsHolding({{"imap1/du1s1", "st1"}, {"imap1/du2s1", "st2"}}, absl::Seconds(30))
          .ok());
  code = c.Slotctl({"store", "create", "st1", "--master", "imap1/du1s1", "--replicas",
                    "imap2/du1s1,imap4/du1s1"},
                   &out);
  ASSERT_TRUE(code.ok() && *code == 0) << out;
  code = c.Slotctl(
      {"store", "create", "st2", "--master", "imap1/du2s1", "--replicas", "imap2/du2s1"}, &out);
  ASSERT_TRUE(code.ok() && *code == 0) << out;
  ASSERT_TRUE(c.WaitForStatus(
                   [](const v1::ClusterStatus& s) {
                     return s.stores_total() == 2 && s.stores_healthy() == 2;
                   },
                   absl::Seconds(90), "both stores healthy (replicas seeded, also on imap2)")
                  .ok());
  auto before1 = c.Store("st1");
  auto before2 = c.Store("st2");
  ASSERT_TRUE(before1.ok() && before2.ok());

  // The master host dies.
  c.KillAgent("imap1");
  ASSERT_TRUE(
      c.WaitForStore(
           "st1",
           [](const v1::StoreInfo& s) { return HasUsableMaster(s) && MasterOf(s) != "imap1"; },
           absl::Seconds(60), "st1 failed over")
          .ok());
  auto after1 = c.Store("st1");
  ASSERT_TRUE(after1.ok());
  EXPECT_EQ(MasterOf(*after1), "imap4") << after1->ShortDebugString();
  EXPECT_GT(after1->master_epoch(), before1->master_epoch());

  // st2 has had as long as st1 to fail over; give it a few more ticks and
  // watch that it is never promoted to imap2.
  const absl::Time watch_until = absl::Now() + absl::Seconds(5);
  v1::StoreInfo st2;
  while (absl::Now() < watch_until) {
    auto s = c.Store("st2");
    ASSERT_TRUE(s.ok());
    st2 = *s;
    ASSERT_NE(MasterOf(st2), "imap2") << "st2 promoted to the skewed host: " << st2.DebugString();
    absl::SleepFor(absl::Milliseconds(200));
  }
  EXPECT_EQ(st2.master_epoch(), before2->master_epoch()) << st2.DebugString();
  EXPECT_FALSE(HasUsableMaster(st2)) << st2.DebugString();
  EXPECT_TRUE(absl::StrContains(st2.note(), "clock")) << "st2 note: " << st2.note();
  code = c.Slotctl({"store", "st2"}, &out);
  ASSERT_TRUE(code.ok());
  std::fprintf(stderr, "$ slotctl store st2\n%s\n", out.c_str());

  // No message lost on any copy (read from disk, the dead master included).
  for (const auto& [store, ref] : {std::pair{"st1", &*ref1}, std::pair{"st2", &*ref2}}) {
    auto problems = c.CheckStoreHas(store, *ref);
    ASSERT_TRUE(problems.ok()) << problems.status();
    EXPECT_TRUE(problems->empty()) << store << ": " << absl::StrJoin(*problems, "\n");
  }
  std::fprintf(stderr, "clock skew test: %s wall\n",
               absl::FormatDuration(absl::Now() - start).c_str());
}

}  // namespace
}  // namespace slotkeeper::testing
