// Fault test: a drive unit that flaps: its filesystem goes read-only for
// 5 s and comes back for 3 s, again and again.
//
// Automatic failovers stay within the rate limit (each store at most once:
// the per-store cooldown). Flap damping suppresses the unit after a few
// failures (unit.flapping): it is held out of placement (no task ever
// targets it) and its replace_at is no longer reset when it recovers. It is
// declared lost only when the penalty says so: it stayed suppressed for
// replace_after from the failure that suppressed it (a second opinion that
// can read it does not save it). Then its copies are replaced elsewhere, and
// no message is lost.
#include <gtest/gtest.h>

#include <cstdlib>
#include <map>
#include <set>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "tests/e2e/automation_faults.h"
#include "tests/e2e/cluster.h"

namespace slotkeeper::testing {
namespace {

constexpr int64_t kReplaceAfterMs = 30'000;
constexpr int kRateLimit = 20;  // slotmgrd's default

// What flapping imap4/du2 (5 s read-only, 3 s back) until it is declared
// lost, or for 2 minutes, showed.
struct Flapped {
  int flaps = 0;
  bool lost = false;
  absl::Time suppressed_at = absl::InfiniteFuture();
  bool replace_at_moved = false;  // replace_at changed while suppressed
};

Flapped FlapUntilLost(Cluster& c, LoopFilesystem& fs, absl::Time first_failure) {
  Flapped f;
  int64_t kept_replace_at = 0;
  while (!f.lost && absl::Now() < first_failure + absl::Seconds(120)) {
    if (absl::Status st = RemountReadOnlyRetrying(fs); !st.ok()) {
      ADD_FAILURE() << st;
      return f;
    }
    ++f.flaps;
    absl::SleepFor(absl::Seconds(5));
    if (absl::Status st = fs.RemountReadWrite(); !st.ok()) {
      ADD_FAILURE() << st;
      return f;
    }
    absl::SleepFor(absl::Seconds(3));
    auto unit = UnitOf(c, "imap4", "du2");
    if (!unit.ok()) {
      ADD_FAILURE() << unit.status();
      return f;
    }
    f.lost = unit->state() == v1::UNIT_LOST;
    if (!f.lost && unit->flap_suppressed()) {
      if (f.suppressed_at == absl::InfiniteFuture()) f.suppressed_at = absl::Now();
      if (kept_replace_at == 0) kept_replace_at = unit->replace_at_ms();
      f.replace_at_moved |= unit->replace_at_ms() != kept_replace_at;
    }
    c.Log(absl::StrCat("flap ", f.flaps, ": unit ", unit->ShortDebugString()));
  }
  return f;
}

TEST(FaultFlappingUnitTest, DampedHeldOutOfPlacementAndLostOnlyWhenThePenaltySaysSo) {
  if (absl::Status st = CanLoopMount(); !st.ok()) {
    GTEST_SKIP() << "needs loop-mounted ext4 (root) to remount a unit: " << st;
  }
  const absl::Time start = absl::Now();
  ClusterOptions options;
  options.root = std::string(std::getenv("TEST_TMPDIR")) + "/flapping_unit";
  options.verbose = true;
  options.coordinator_flags = {
      "--heartbeat=500ms",       "--suspect_after=3s",
      "--down_after=10s",        "--failover_grace_hard=2s",
      "--failover_grace=20s",    "--lease=3s",
      "--task_retry_backoff=2s", absl::StrCat("--replace_after=", kReplaceAfterMs, "ms"),
  };
  auto created = Cluster::Create(options);
  ASSERT_TRUE(created.ok()) << created.status();
  Cluster& c = **created;
  ASSERT_TRUE(c.StartCoordinator().ok());
  ASSERT_TRUE(c.StartAllAgents().ok());
  auto reference = c.CreateStores(
      {{"st1", "imap4", "du2s1"}, {"st2", "imap1", "du1s1"}, {"st3", "imap2", "du2s1"}}, 6, 150);
  ASSERT_TRUE(reference.ok()) << reference.status();

  LoopFilesystem* fs = c.UnitFilesystem("imap4", "du2");
  ASSERT_NE(fs, nullptr);
  const absl::Time first_failure = absl::Now();
  const Flapped f = FlapUntilLost(c, *fs, first_failure);
  ASSERT_FALSE(HasFailure());
  ASSERT_TRUE(f.lost) << "the flapping unit was never declared lost";
  ASSERT_NE(f.suppressed_at, absl::InfiniteFuture()) << "never suppressed";
  EXPECT_FALSE(f.replace_at_moved) << "replace_at was reset while the unit flapped";

  auto flapping = EventsOfKind(c, "unit.flapping", "imap4");
  auto unit_lost = EventsOfKind(c, "unit.lost", "imap4");
  ASSERT_TRUE(flapping.ok() && unit_lost.ok());
  ASSERT_EQ(flapping->size(), 1u);
  ASSERT_EQ(unit_lost->size(), 1u);
  EXPECT_LT(flapping->front().seq(), unit_lost->front().seq());
  EXPECT_GE(unit_lost->front().time_ms(), absl::ToUnixMillis(first_failure) + kReplaceAfterMs)
      << "lost before it had flapped for replace_after";
  EXPECT_TRUE(absl::StrContains(unit_lost->front().text(), "kept failing and recovering"))
      << unit_lost->front().text();
  std::fprintf(
      stderr, "%d flaps; suppressed after %s (%s); declared lost after %s (%s)\n", f.flaps,
      absl::FormatDuration(absl::FromUnixMillis(flapping->front().time_ms()) - first_failure)
          .c_str(),
      flapping->front().text().c_str(),
      absl::FormatDuration(absl::FromUnixMillis(unit_lost->front().time_ms()) - first_failure)
          .c_str(),
      unit_lost->front().text().c_str());

  // Its copies are replaced elsewhere; nothing was ever placed on it.
  ASSERT_TRUE(WaitForFullRecovery(
                  c, [](const v1::StoreInfo& s) { return HasCopyOnUnit(s, "imap4", "du2"); },
                  absl::Seconds(120), "every store healthy without imap4/du2")
                  .ok());
  auto tasks = ListAllTasks(c);
  ASSERT_TRUE(tasks.ok());
  for (const v1::TaskInfo& t : *tasks) {
    EXPECT_FALSE(t.target().host() == "imap4" && absl::StartsWith(t.target().slot(), "du2s"))
        << "a task targets the flapping unit: " << t.ShortDebugString();
  }
  // Failovers within the rate limit, each store at most once.
  auto failovers = EventsOfKind(c, "store.failover");
  ASSERT_TRUE(failovers.ok());
  std::map<std::string, int> per_store;
  for (const v1::Event& e : *failovers) ++per_store[e.store()];
  EXPECT_LE(static_cast<int>(failovers->size()), kRateLimit);
  for (const auto& [store, n] : per_store) EXPECT_LE(n, 1) << store << " failed over " << n << "x";
  std::fprintf(stderr, "%zu automatic failover(s) while it flapped (limit %d per window)\n",
               failovers->size(), kRateLimit);

  std::vector<std::string> problems = CheckNoMessageLost(c, *reference);
  EXPECT_TRUE(problems.empty()) << absl::StrJoin(problems, "\n").substr(0, 2000);
  std::fprintf(stderr, "flapping unit test: %s wall\n",
               absl::FormatDuration(absl::Now() - start).c_str());
}

}  // namespace
}  // namespace slotkeeper::testing
