// Fault test: a drive unit whose filesystem is remounted read-only (but can
// still be read) for longer than replace_after, then repaired.
//
// Its masters fail over. When replace_after has passed, the coordinator
// reads the unit's slots over the peer channel (a second opinion), can, and
// holds the unit instead of declaring it lost: no copy is replaced. New mail
// arrives at the new master meanwhile. After `mount -o remount,rw`, `slotctl
// unit reinstate` verifies each copy on the unit against its store's master
// and catches it up by delta; the copies are replicas again, in sync. The
// test reports the bytes the catch-up copied (its tasks' progress) and the
// bytes written to the unit's loop device, against a full copy of the
// stores, and checks that no message is lost on any copy.
#include <gtest/gtest.h>

#include <cstdlib>
#include <set>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "tests/e2e/automation_faults.h"
#include "tests/e2e/cluster.h"
#include "tests/e2e/control_plane.h"

namespace slotkeeper::testing {
namespace {

// After the read-only remount: st1 fails over, and past replace_after the
// unit is held, not lost, with nothing replaced. Returns st1's new master.
std::string WaitUntilHeld(Cluster& c, uint64_t seq_before, absl::Time injected) {
  auto failed_over = WaitForNewMaster(c, "st1", 1, "imap4/du2s1", absl::Seconds(60));
  EXPECT_TRUE(failed_over.ok()) << failed_over.status();
  if (!failed_over.ok()) return "";
  const std::string new_master = MasterOf(*failed_over);
  v1::Event held;
  EXPECT_TRUE(c.WaitForEvent("unit.held", absl::Seconds(90), &held).ok());
  std::fprintf(stderr, "st1 failed over to %s; unit held %s after the remount: %s\n",
               new_master.c_str(), absl::FormatDuration(absl::Now() - injected).c_str(),
               held.text().c_str());
  auto unit = UnitOf(c, "imap4", "du2");
  EXPECT_TRUE(unit.ok() && unit->state() == v1::UNIT_FAILED && !unit->held_reason().empty());
  absl::SleepFor(absl::Seconds(3));  // the tick after: nothing is placed
  for (const char* kind : {"unit.lost", "task.created"}) {
    auto found = EventsOfKind(c, kind);
    EXPECT_TRUE(found.ok());
    if (!found.ok()) continue;
    for (const v1::Event& e : *found) EXPECT_LE(e.seq(), seq_before) << e.text();
  }
  std::string out;
  EXPECT_TRUE(c.Slotctl({"status"}, &out).ok());
  std::fprintf(stderr, "$ slotctl status (held)\n%s\n", out.c_str());
  EXPECT_TRUE(absl::StrContains(out, "HELD")) << out;
  return new_master;
}

// What the reinstatement's catch-up copied, against a full copy of the
// stores it caught up; the unit is online and its copies in sync.
void CheckCaughtUpByDelta(Cluster& c, absl::Time injected, uint64_t device_bytes,
                          absl::Duration took) {
  auto tasks = ListAllTasks(c);
  ASSERT_TRUE(tasks.ok());
  uint64_t copied = 0, full = 0;
  int catch_ups = 0;
  for (const v1::TaskInfo& t : *tasks) {
    if (t.kind() == v1::TASK_RE_REPLICATE && t.created_ms() > absl::ToUnixMillis(injected)) {
      ADD_FAILURE() << "a copy was re-replicated: " << t.ShortDebugString();
    }
    if (t.kind() != v1::TASK_CATCH_UP) continue;
    ++catch_ups;
    EXPECT_EQ(t.state(), v1::TASK_DONE) << t.ShortDebugString();
    EXPECT_EQ(t.target().host(), "imap4");
    copied += t.progress().bytes_received();
    auto store = c.Store(t.store());
    ASSERT_TRUE(store.ok());
    full += store->used_bytes();  // what a full copy of that store would copy
  }
  ASSERT_GT(catch_ups, 0);
  ASSERT_GT(full, 0u);
  std::fprintf(stderr,
               "reinstate: %d catch-up task(s) copied %llu bytes of %llu (a full copy): %.1f%%; "
               "%llu bytes written to the unit's device; healthy %s after the reinstatement\n",
               catch_ups, static_cast<unsigned long long>(copied),
               static_cast<unsigned long long>(full), 100.0 * copied / full,
               static_cast<unsigned long long>(device_bytes), absl::FormatDuration(took).c_str());
  EXPECT_LT(copied * 4, full) << "a catch-up by delta copies far less than a full copy";
  auto st1 = c.Store("st1");
  ASSERT_TRUE(st1.ok());
  for (const auto& copy : st1->copies()) {
    if (copy.slot().host() != "imap4") continue;
    EXPECT_EQ(copy.role(), v1::SLOT_REPLICA);
    EXPECT_TRUE(copy.in_sync());
  }
  auto unit = UnitOf(c, "imap4", "du2");
  ASSERT_TRUE(unit.ok());
  EXPECT_EQ(unit->state(), v1::UNIT_ONLINE);
}

TEST(FaultReadonlyReinstateTest, AReadableUnitIsHeldNotLostAndReinstatedByDelta) {
  if (absl::Status st = CanLoopMount(); !st.ok()) {
    GTEST_SKIP() << "needs loop-mounted ext4 (root) for a read-only remount: " << st;
  }
  const absl::Time start = absl::Now();
  ClusterOptions options;
  options.root = std::string(std::getenv("TEST_TMPDIR")) + "/readonly_reinstate";
  options.verbose = true;
  options.coordinator_flags = {
      "--heartbeat=500ms",        "--suspect_after=3s",      "--down_after=10s",
      "--failover_grace_hard=2s", "--failover_grace=20s",    "--lease=4s",
      "--replace_after=15s",      "--task_retry_backoff=2s",
  };
  auto created = Cluster::Create(options);
  ASSERT_TRUE(created.ok()) << created.status();
  Cluster& c = **created;
  ASSERT_TRUE(c.StartCoordinator().ok());
  ASSERT_TRUE(c.StartAllAgents().ok());
  auto reference = c.CreateStores(
      {{"st1", "imap4", "du2s1"}, {"st2", "imap1", "du1s1"}, {"st3", "imap2", "du2s1"}}, 8, 250);
  ASSERT_TRUE(reference.ok()) << reference.status();
  auto events = ListAllEvents(c);
  ASSERT_TRUE(events.ok());
  const uint64_t seq_before = events->back().seq();

  LoopFilesystem* fs = c.UnitFilesystem("imap4", "du2");
  ASSERT_NE(fs, nullptr);
  const absl::Time injected = absl::Now();
  ASSERT_TRUE(RemountReadOnlyRetrying(*fs).ok());
  c.Log(absl::StrCat("remounted ", fs->mount_point(), " read-only"));
  const std::string new_master = WaitUntilHeld(c, seq_before, injected);
  ASSERT_FALSE(HasFailure());

  // Mail keeps arriving at the new master while the unit is away.
  ASSERT_TRUE(c.MutateMail(HostOf(new_master), SlotOf(new_master), 77,
                           {"--new_pct=6", "--flag_pct=10", "--delete_pct=0"})
                  .ok());
  auto latest = WaitForCopiesToMatchMaster(c, "st1", absl::Seconds(60), {"imap4/du2s1"});
  ASSERT_TRUE(latest.ok()) << latest.status();

  // Repaired: read-write again. Reinstating verifies, then catches up.
  ASSERT_TRUE(fs->RemountReadWrite().ok());
  ASSERT_TRUE(c.WaitForStatus(
                   [](const v1::ClusterStatus& s) {
                     for (const auto& h : s.troubled_hosts()) {
                       if (h.name() == "imap4" && h.conditions_size() > 0) return false;
                     }
                     return true;
                   },
                   absl::Seconds(30), "imap4 reports no condition")
                  .ok());
  auto written_before = BytesWrittenTo(*fs);
  ASSERT_TRUE(written_before.ok()) << written_before.status();
  const absl::Time reinstated = absl::Now();
  std::string out;
  auto code =
      c.Slotctl({"unit", "reinstate", "imap4/du2", "--yes", "--reason", "fsck clean"}, &out);
  ASSERT_TRUE(code.ok());
  std::fprintf(stderr, "$ slotctl unit reinstate imap4/du2 --yes\n%s\n", out.c_str());
  ASSERT_EQ(*code, 0) << out;
  ASSERT_TRUE(WaitForFullRecovery(
                  c, [](const v1::StoreInfo& s) { return s.state() != v1::STORE_HEALTHY; },
                  absl::Seconds(90), "every store healthy after the reinstatement")
                  .ok());
  const absl::Duration took = absl::Now() - reinstated;
  auto written_after = BytesWrittenTo(*fs);
  ASSERT_TRUE(written_after.ok());
  CheckCaughtUpByDelta(c, injected, *written_after - *written_before, took);

  // No message lost: the original mail and what arrived meanwhile, on every
  // copy, the reinstated ones included.
  std::vector<std::string> problems = CheckNoMessageLost(c, *reference);
  std::vector<std::string> more = CheckCopiesHave(c, "st1", *latest);
  problems.insert(problems.end(), more.begin(), more.end());
  EXPECT_TRUE(problems.empty()) << absl::StrJoin(problems, "\n").substr(0, 2000);
  std::fprintf(stderr, "read-only reinstate test: %s wall\n",
               absl::FormatDuration(absl::Now() - start).c_str());
}

}  // namespace
}  // namespace slotkeeper::testing
