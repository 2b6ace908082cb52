// Metrics during a fault, scraped from the real daemons' HTTP ports: the
// filesystem of the drive unit under a master is remounted read-only, the
// store fails over, an operator declares the unit lost, and every store is
// replicated again elsewhere.
//
// Checks, from /metrics of slotmgrd and every replicatord (parsed as a
// scraper reads them; no timing is asserted):
//   - before: every store fully replicated, replicas' lag low, no failover;
//     the unit healthy on its agent;
//   - after the remount: the agent shows the unit and filesystem unhealthy;
//     the coordinator counts a failover caused by hard evidence, the slot's
//     detection, the unit failed, and stores no longer fully replicated;
//     the copy on the read-only unit makes its store's lag grow;
//   - after re-replication: every store fully replicated again, lag low, tasks done,
//     bytes and files copied counted by the coordinator and the targets'
//     agents, RPCs counted on both sides;
//   - every family of every scrape is listed in docs/metrics.md.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>
#include <functional>
#include <set>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "base/http_test_client.h"
#include "base/metrics_text.h"
#include "tests/e2e/cluster.h"

namespace slotkeeper::testing {
namespace {

absl::StatusOr<Exposition> Scrape(int port) {
  absl::StatusOr<HttpReply> reply = HttpGet(port, "/metrics");
  if (!reply.ok()) return reply.status();
  if (reply->status != 200) {
    return absl::InternalError(absl::StrCat("/metrics answered ", reply->status));
  }
  absl::StatusOr<Exposition> parsed = ParseExposition(reply->body);
  if (!parsed.ok()) return parsed.status();
  absl::StatusOr<std::set<std::string>> documented = DocumentedMetrics("docs/metrics.md");
  if (!documented.ok()) return documented.status();
  for (const auto& [family, type] : parsed->types) {
    EXPECT_TRUE(documented->count(family)) << family << " is not in docs/metrics.md";
  }
  return parsed;
}

// Scrapes `port` until `done` holds (returns that scrape) or `timeout`.
absl::StatusOr<Exposition> ScrapeUntil(int port, const std::function<bool(const Exposition&)>& done,
                                       absl::Duration timeout, const std::string& what) {
  const absl::Time deadline = absl::Now() + timeout;
  absl::StatusOr<Exposition> last = absl::UnavailableError("not scraped");
  while (absl::Now() < deadline) {
    last = Scrape(port);
    if (last.ok() && done(*last)) return last;
    absl::SleepFor(absl::Milliseconds(250));
  }
  return absl::DeadlineExceededError(
      absl::StrCat("waiting for ", what, ": ", last.ok() ? "not seen" : last.status().ToString()));
}

double MaxOf(const Exposition& m, const std::string& name) {
  double max = 0;
  for (const auto& s : m.samples) {
    if (s.name == name) max = std::max(max, s.value);
  }
  return max;
}

TEST(MetricsTest, BothDaemonsShowAFailedUnitTheFailoverAndTheRecovery) {
  if (absl::Status st = CanLoopMount(); !st.ok()) {
    GTEST_SKIP() << "needs loop-mounted ext4 (root) for a read-only remount: " << st;
  }
  ClusterOptions options;
  options.root = std::string(std::getenv("TEST_TMPDIR")) + "/metrics";
  options.verbose = true;
  options.coordinator_flags = {
      "--heartbeat=500ms",        "--suspect_after=3s",   "--down_after=10s",
      "--failover_grace_hard=1s", "--failover_grace=60s", "--lease=3s",
      "--replace_after=10m",  // the operator declares the unit lost
      "--task_retry_backoff=2s",
  };
  auto created = Cluster::Create(options);
  ASSERT_TRUE(created.ok()) << created.status();
  Cluster& c = **created;
  ASSERT_TRUE(c.StartCoordinator().ok());
  ASSERT_TRUE(c.StartAllAgents().ok());
  auto reference = c.CreateStores({{"st1", "imap4", "du2s1"}, {"st2", "imap1", "du1s1"}},
                                  /*users=*/6, /*messages=*/120);
  ASSERT_TRUE(reference.ok()) << reference.status();
  const int coordinator = c.coordinator_http_port();
  ASSERT_GT(coordinator, 0);
  const std::vector<std::string> hosts = {"imap1", "imap2", "imap3", "imap4"};
  for (const auto& h : hosts) ASSERT_GT(c.agent_http_port(h), 0) << h;

  // Before: both stores fully replicated (replicas prove they are in sync
  // shortly after the copy), lag low, nothing failed over.
  auto before = ScrapeUntil(
      coordinator,
      [](const Exposition& m) {
        return m.Sum("slotkeeper_stores_by_replication", {{"replication", "fully_replicated"}}) ==
               2;
      },
      absl::Seconds(60), "both stores fully replicated");
  ASSERT_TRUE(before.ok()) << before.status();
  EXPECT_LT(MaxOf(*before, "slotkeeper_store_replication_lag_seconds"), 10);
  EXPECT_TRUE(before->Has("slotkeeper_store_replication_lag_seconds", {{"store", "st1"}}));
  EXPECT_EQ(before->Sum("slotkeeper_failovers_total"), 0);
  EXPECT_EQ(before->Sum("slotkeeper_hosts", {{"state", "up"}}), 4);
  EXPECT_GT(before->Sum("slotkeeper_grpc_server_handled_total",
                        {{"service", "slotkeeper.v1.Automation"}}),
            0)
      << "the test's own API calls are counted";
  auto agent_before = Scrape(c.agent_http_port("imap4"));
  ASSERT_TRUE(agent_before.ok()) << agent_before.status();
  EXPECT_EQ(agent_before->Sum("slotkeeper_agent_unit_healthy", {{"unit", "du2"}}), 1);
  EXPECT_EQ(agent_before->Sum("slotkeeper_agent_coordinator_connected"), 1);
  EXPECT_GE(agent_before->Sum("slotkeeper_agent_slots", {{"role", "master"}}), 1);
  const double bytes_before = before->Sum("slotkeeper_task_received_bytes_total");

  // The fault.
  LoopFilesystem* fs = c.UnitFilesystem("imap4", "du2");
  ASSERT_NE(fs, nullptr);
  ASSERT_TRUE(RemountReadOnlyRetrying(*fs).ok());
  c.Log(absl::StrCat("remounted ", fs->mount_point(), " read-only"));

  auto agent_failed = ScrapeUntil(
      c.agent_http_port("imap4"),
      [](const Exposition& m) {
        return m.Sum("slotkeeper_agent_unit_healthy", {{"unit", "du2"}}) == 0;
      },
      absl::Seconds(30), "imap4's agent reporting du2 unhealthy");
  ASSERT_TRUE(agent_failed.ok()) << agent_failed.status();
  EXPECT_EQ(agent_failed->Sum("slotkeeper_agent_filesystem_healthy", {{"unit", "du2"}}), 0);
  EXPECT_EQ(agent_failed->Sum("slotkeeper_agent_unit_healthy", {{"unit", "du1"}}), 1);
  EXPECT_GE(agent_failed->Sum("slotkeeper_agent_conditions", {{"type", "read_only"}}), 1);

  auto failed_over = ScrapeUntil(
      coordinator,
      [](const Exposition& m) {
        return m.Sum("slotkeeper_failovers_total", {{"cause", "hard_evidence"}}) >= 1;
      },
      absl::Seconds(60), "a failover on hard evidence");
  ASSERT_TRUE(failed_over.ok()) << failed_over.status();
  EXPECT_LT(
      failed_over->Sum("slotkeeper_stores_by_replication", {{"replication", "fully_replicated"}}),
      2)
      << "a copy on the read-only unit is unusable";
  EXPECT_GE(failed_over->Sum("slotkeeper_detections_total", {{"subject", "slot"}}), 1);
  EXPECT_GE(failed_over->Sum("slotkeeper_units", {{"state", "failed"}}), 1);
  EXPECT_GE(failed_over->Sum("slotkeeper_filesystems", {{"state", "read_only"}}), 1);
  EXPECT_GE(failed_over->Sum("slotkeeper_events_total", {{"kind", "store.failover"}}), 1);

  // The copy on the read-only unit cannot follow its master: the store's
  // replication lag (the largest of its replicas') grows while it is there.
  const double lag_at_failover = MaxOf(*failed_over, "slotkeeper_store_replication_lag_seconds");
  auto lagging = ScrapeUntil(
      coordinator,
      [&](const Exposition& m) {
        return MaxOf(m, "slotkeeper_store_replication_lag_seconds") >= lag_at_failover + 3;
      },
      absl::Seconds(30), "the lag of the copy on the read-only unit growing");
  ASSERT_TRUE(lagging.ok()) << lagging.status() << " (lag at the failover: " << lag_at_failover
                            << " s)";

  // The operator declares the unit lost: its copies are replaced.
  {
    grpc::ClientContext ctx;
    v1::MarkLostRequest req;
    req.set_host("imap4");
    req.set_unit("du2");
    req.set_reason("metrics test: read-only unit replaced");
    v1::MarkLostResponse resp;
    grpc::Status st = c.api().MarkLost(&ctx, req, &resp);
    ASSERT_TRUE(st.ok()) << st.error_message();
    ASSERT_GE(resp.tasks_created_size(), 1);
  }
  absl::Status recovered = WaitForFullRecovery(
      c,
      [](const v1::StoreInfo& st) {
        for (const auto& cp : st.copies()) {
          if (cp.slot().host() == "imap4" && absl::StartsWith(cp.slot().slot(), "du2")) {
            return true;
          }
        }
        return st.copies_size() != 3;
      },
      absl::Seconds(120), "every store with three copies, none on imap4/du2");
  ASSERT_TRUE(recovered.ok()) << recovered;

  auto after = ScrapeUntil(
      coordinator,
      [](const Exposition& m) {
        return m.Sum("slotkeeper_stores_by_replication", {{"replication", "fully_replicated"}}) ==
               2;
      },
      absl::Seconds(60), "both stores fully replicated again");
  ASSERT_TRUE(after.ok()) << after.status();
  EXPECT_LT(MaxOf(*after, "slotkeeper_store_replication_lag_seconds"), 10)
      << "with the lagging copy replaced, every replica follows its master again";
  EXPECT_GE(after->Sum("slotkeeper_tasks", {{"kind", "re_replicate"}, {"state", "done"}}), 1);
  EXPECT_EQ(after->Sum("slotkeeper_tasks", {{"state", "running"}}), 0);
  EXPECT_GT(after->Sum("slotkeeper_task_received_bytes_total"), bytes_before);
  EXPECT_GT(after->Sum("slotkeeper_task_files_done_total"), 0);
  EXPECT_GE(after->Sum("slotkeeper_events_total", {{"kind", "task.done"}}), 1);
  EXPECT_GE(after->Sum("slotkeeper_units", {{"state", "lost"}}), 1);
  EXPECT_GT(after->Sum("slotkeeper_lease_renewals_total"), 0);
  EXPECT_GT(after->Sum("slotkeeper_grpc_server_handled_total",
                       {{"service", "slotkeeper.v1.AgentService"}}),
            0);

  // The targets' agents counted what they received; the sources served it.
  double agent_bytes = 0, agent_done = 0, peer_calls = 0, catch_up_cycles = 0;
  for (const auto& h : hosts) {
    auto m = Scrape(c.agent_http_port(h));
    ASSERT_TRUE(m.ok()) << h << ": " << m.status();
    agent_bytes += m->Sum("slotkeeper_agent_task_received_bytes_total");
    agent_done += m->Sum("slotkeeper_agent_tasks_finished_total", {{"outcome", "done"}});
    peer_calls += m->Sum("slotkeeper_grpc_server_handled_total");
    catch_up_cycles += m->Sum("slotkeeper_agent_catch_up_cycles_total", {{"outcome", "ok"}});
    EXPECT_TRUE(m->Has("process_resident_memory_bytes")) << h;
  }
  EXPECT_GT(agent_bytes, 0);
  EXPECT_GE(agent_done, 1);
  EXPECT_GT(peer_calls, 0);
  EXPECT_GT(catch_up_cycles, 0) << "the replicas' rolling sync is counted";

  std::vector<std::string> problems = CheckNoMessageLost(c, *reference);
  EXPECT_TRUE(problems.empty()) << absl::StrJoin(problems, "\n").substr(0, 2000);
}

}  // namespace
}  // namespace slotkeeper::testing
