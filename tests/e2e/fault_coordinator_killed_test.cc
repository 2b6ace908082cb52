// Fault test: the coordinator is killed (SIGKILL) in the middle
// of a recovery, with re-replication tasks in flight, and started again on
// the same data directory.
//
// Every copy on one host is declared lost, so each store that had a copy
// there is re-replicated to the host without one; the copies are slowed
// down (replicatord --sync_bandwidth_bytes_per_second) so that the kill lands
// while they run. On restart the coordinator continues from its RocksDB
// state: the same tasks, not new ones, run to completion, the lost copies are
// dropped, and no message is lost.
#include <gtest/gtest.h>

#include <cstdlib>
#include <set>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "tests/e2e/cluster.h"
#include "tests/e2e/control_plane.h"
#include "tests/e2e/store_checks.h"

namespace slotkeeper::testing {
namespace {

TEST(FaultCoordinatorKilledTest, RestartedCoordinatorCompletesTheRecovery) {
  if (absl::Status st = CanLoopMount(); !st.ok()) {
    GTEST_SKIP() << "needs loop-mounted ext4 (root): " << st;
  }
  // About 5 s per 13 MB copy: the recovery takes long enough to be cut.
  const ClusterOptions options = SlowCopyOptions("fault_coordinator_killed");
  auto created = StartCluster(options);
  ASSERT_TRUE(created.ok()) << created.status();
  Cluster& c = **created;
  auto reference = c.CreateStores(
      {{"st1", "imap1", "du1s1"}, {"st2", "imap2", "du1s1"}, {"st3", "imap4", "du1s1"}},
      /*users=*/12, /*messages=*/240);
  ASSERT_TRUE(reference.ok()) << reference.status();

  // imap3 holds no master: declare both its units lost.
  std::vector<std::string> created_tasks;
  std::set<std::string> affected;
  for (const std::string unit : {"du1", "du2"}) {
    grpc::ClientContext ctx;
    v1::MarkLostRequest req;
    req.set_host("imap3");
    req.set_unit(unit);
    req.set_reason("fault test: recovery to be interrupted");
    v1::MarkLostResponse resp;
    grpc::Status st = c.api().MarkLost(&ctx, req, &resp);
    ASSERT_TRUE(st.ok()) << st.error_message();
    created_tasks.insert(created_tasks.end(), resp.tasks_created().begin(),
                         resp.tasks_created().end());
    affected.insert(resp.affected_stores().begin(), resp.affected_stores().end());
  }
  ASSERT_FALSE(created_tasks.empty()) << "no copy on imap3 to replace";
  c.Log(absl::StrCat("re-replication tasks: ", absl::StrJoin(created_tasks, ", ")));

  // Kill the coordinator once a task has copied something.
  ASSERT_TRUE(c.WaitForStatus(
                   [](const v1::ClusterStatus& s) {
                     return s.recovery().tasks_running() > 0 && s.recovery().bytes_done() > 0;
                   },
                   absl::Seconds(60), "a task in flight with progress")
                  .ok());
  auto before = ListAllTasks(c);
  ASSERT_TRUE(before.ok());
  int unfinished = 0;
  for (const auto& t : *before) {
    unfinished += t.state() == v1::TASK_RUNNING || t.state() == v1::TASK_QUEUED ||
                  t.state() == v1::TASK_BACKOFF;
  }
  c.KillCoordinator();
  c.Log(absl::StrCat("coordinator killed with ", unfinished, " unfinished task(s)"));
  ASSERT_GT(unfinished, 0) << "the recovery finished before the kill";

  absl::SleepFor(absl::Seconds(2));
  const absl::Time restarted = absl::Now();
  ASSERT_TRUE(c.StartCoordinator().ok());

  // The tasks were loaded from RocksDB.
  auto loaded = ListAllTasks(c);
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  std::set<std::string> loaded_ids;
  for (const auto& t : *loaded) loaded_ids.insert(t.id());
  for (const std::string& id : created_tasks) EXPECT_TRUE(loaded_ids.count(id)) << id;

  absl::Status recovered = WaitForFullRecovery(
      c, [](const v1::StoreInfo& st) { return HasCopyOn(st, "imap3") || st.copies_size() != 3; },
      absl::Seconds(90), "every store with three copies, none on imap3");
  ASSERT_TRUE(recovered.ok()) << recovered;
  c.Log(absl::StrCat("recovery completed ", absl::FormatDuration(absl::Now() - restarted),
                     " after the restart"));

  // The same tasks completed; no new task was needed.
  auto after = ListAllTasks(c);
  ASSERT_TRUE(after.ok());
  std::set<std::string> done;
  for (const auto& t : *after) {
    if (t.state() == v1::TASK_DONE) done.insert(t.id());
  }
  for (const std::string& id : created_tasks) EXPECT_TRUE(done.count(id)) << id << " not done";
  auto events = ListAllEvents(c);
  ASSERT_TRUE(events.ok());
  int starts = 0;
  for (const auto& e : *events) {
    starts += e.kind() == "coordinator.start";
    if (starts >= 2 && e.kind() == "task.created") {
      ADD_FAILURE() << "a task created after the restart: " << e.text();
    }
  }
  EXPECT_GE(starts, 2) << "the journal does not show the restart";

  EXPECT_TRUE(NoProblems(CheckNoMessageLost(c, *reference)));
}

}  // namespace
}  // namespace slotkeeper::testing
