// Fault test: more failures at once than the hourly limits allow.
//
// Both drive units of imap4 die (EXT4_IOC_SHUTDOWN: every I/O fails), with
// slotmgrd allowing 1 unit declared lost and 2 stores re-replicated per
// hour. The masters there fail over; after replace_after a second opinion
// cannot read either unit; automation declares one lost and stops at the
// limit (automation.held_back says so), and re-replicates two of the
// stores that lost a copy while the others wait (said again). An
// operator's `mark-lost` of the other unit is refused at the limit and goes
// through with --force, which places the remaining replacements. In the end
// every store is healthy without imap4 and no message is lost.
#include <gtest/gtest.h>

#include <cstdlib>
#include <set>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "tests/e2e/automation_faults.h"
#include "tests/e2e/cluster.h"

namespace slotkeeper::testing {
namespace {

bool Said(const std::vector<v1::Event>& events, const std::string& needle) {
  for (const v1::Event& e : events) {
    if (absl::StrContains(e.text(), needle)) return true;
  }
  return false;
}

// After the first unit declared lost (`lost`): the other is held back by
// the limit, re-replication stops at two stores, and both limits say so.
void ExpectStoppedAtTheLimits(Cluster& c, const v1::Event& lost) {
  // The second unit is held back by the limit, and the re-replication stops
  // at two stores.
  ASSERT_TRUE(c.WaitForStatus(
                   [&](const v1::ClusterStatus&) {
                     auto held = EventsOfKind(c, "automation.held_back");
                     return held.ok() && Said(*held, "drive units declared lost within the last") &&
                            Said(*held, "short of copies wait for re-replication");
                   },
                   absl::Seconds(30), "both limits said so")
                  .ok());
  absl::SleepFor(absl::Seconds(3));  // more ticks: still at the limits
  auto all_lost = EventsOfKind(c, "unit.lost");
  ASSERT_TRUE(all_lost.ok());
  EXPECT_EQ(all_lost->size(), 1u) << "automation stops at 1 unit per hour";
  auto tasks = ListAllTasks(c);
  ASSERT_TRUE(tasks.ok());
  // The stores' seeding at creation came first: count what came after.
  std::set<std::string> after_failure;
  for (const v1::TaskInfo& t : *tasks) {
    if (t.created_ms() >= lost.time_ms()) after_failure.insert(t.store());
  }
  EXPECT_EQ(after_failure.size(), 2u) << absl::StrJoin(after_failure, ", ");
  std::string out;
  ASSERT_TRUE(c.Slotctl({"automation", "status"}, &out).ok());
  std::fprintf(stderr, "$ slotctl automation status (at the limits)\n%s\n", out.c_str());
  EXPECT_TRUE(absl::StrContains(out, "1/1 drive units declared lost, 2/2 stores")) << out;
}

TEST(FaultHourlyLimitsTest, AutomationStopsAtTheLimitAndSaysSo) {
  if (absl::Status st = CanLoopMount(); !st.ok()) {
    GTEST_SKIP() << "needs loop-mounted ext4 (root) to shut a unit down: " << st;
  }
  const absl::Time start = absl::Now();
  ClusterOptions options;
  options.root = std::string(std::getenv("TEST_TMPDIR")) + "/hourly_limits";
  options.verbose = true;
  options.coordinator_flags = {
      "--heartbeat=500ms",
      "--suspect_after=3s",
      "--down_after=10s",
      "--failover_grace_hard=2s",
      "--failover_grace=20s",
      "--lease=3s",
      "--replace_after=8s",
      "--task_retry_backoff=2s",
      "--max_units_lost_per_hour=1",
      "--max_rereplications_per_hour=2",
  };
  auto created = Cluster::Create(options);
  ASSERT_TRUE(created.ok()) << created.status();
  Cluster& c = **created;
  ASSERT_TRUE(c.StartCoordinator().ok());
  ASSERT_TRUE(c.StartAllAgents().ok());
  // Three stores mastered on imap4/du1, one on imap4/du2, one elsewhere.
  auto reference = c.CreateStores({{"st1", "imap4", "du1s1"},
                                   {"st2", "imap4", "du1s2"},
                                   {"st3", "imap4", "du1s3"},
                                   {"st4", "imap4", "du2s1"},
                                   {"st5", "imap1", "du1s1"}},
                                  4, 100);
  ASSERT_TRUE(reference.ok()) << reference.status();

  for (const char* unit : {"du1", "du2"}) {
    LoopFilesystem* fs = c.UnitFilesystem("imap4", unit);
    ASSERT_NE(fs, nullptr);
    ASSERT_TRUE(fs->Shutdown().ok());
  }
  c.Log("imap4/du1 and imap4/du2 shut down");
  v1::Event lost;
  ASSERT_TRUE(c.WaitForEvent("unit.lost", absl::Seconds(90), &lost).ok());
  ExpectStoppedAtTheLimits(c, lost);
  ASSERT_FALSE(HasFailure());

  // The other unit: refused at the limit, then forced.
  const std::string other = lost.unit() == "du1" ? "imap4/du2" : "imap4/du1";
  std::string out;
  auto code = c.Slotctl({"mark-lost", other, "--yes", "--reason", "dead"}, &out);
  ASSERT_TRUE(code.ok());
  EXPECT_EQ(*code, 1) << out;
  EXPECT_TRUE(absl::StrContains(out, "--force")) << out;
  std::fprintf(stderr, "$ slotctl mark-lost %s --yes\n%s\n", other.c_str(), out.c_str());
  code = c.Slotctl({"mark-lost", other, "--yes", "--force", "--reason", "dead"}, &out);
  ASSERT_TRUE(code.ok());
  EXPECT_EQ(*code, 0) << out;
  std::fprintf(stderr, "$ slotctl mark-lost %s --yes --force\n%s\n", other.c_str(), out.c_str());

  ASSERT_TRUE(WaitForFullRecovery(
                  c, [](const v1::StoreInfo& s) { return HasCopyOn(s, "imap4"); },
                  absl::Seconds(180), "every store healthy without imap4")
                  .ok());
  std::vector<std::string> problems = CheckNoMessageLost(c, *reference);
  EXPECT_TRUE(problems.empty()) << absl::StrJoin(problems, "\n").substr(0, 2000);
  std::fprintf(stderr, "hourly limits test: %s wall\n",
               absl::FormatDuration(absl::Now() - start).c_str());
}

}  // namespace
}  // namespace slotkeeper::testing
