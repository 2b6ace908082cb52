// slotmgrd's /metrics through the HTTP handler, over a real coordinator on
// RocksDB with a fake clock: the figures before and after a master's
// filesystem goes read-only and the store fails over, and every family a
// scrape returns documented in docs/metrics.md.
#include "slotmgr/coordinator_metrics.h"

#include <set>
#include <string>

#include "base/metrics_text.h"
#include "gtest/gtest.h"
#include "slotmgr/http_handlers.h"
#include "slotmgr/testing/coordinator_fixture.h"

namespace slotkeeper::slotmgr {
namespace {

class CoordinatorMetricsTest : public testing::CoordinatorFixture {
 protected:
  // The replica on `host`/s01 of st1 reports it is in sync, `lag_ms` behind.
  void ReportInSync(const std::string& host, int64_t lag_ms) {
    v1::HealthReport r;
    r.set_report_id(++report_id_);
    r.set_agent_time_ms(clock_.NowMs());
    v1::ReplicationStatus* rs = r.add_replication();
    rs->set_slot("s01");
    rs->set_store("st1");
    rs->set_role(v1::SLOT_REPLICA);
    rs->set_in_sync(true);
    rs->set_lag_ms(lag_ms);
    rs->set_last_synced_ms(clock_.NowMs());
    ASSERT_TRUE(coord_->ApplyReport(host, sessions_[host], r).ok());
  }

  ::slotkeeper::testing::Exposition Scrape(const CoordinatorMetrics& metrics) {
    auto handlers = CoordinatorHttpHandlers(coord_.get(), metrics.sources());
    EXPECT_EQ(handlers.count("/metrics"), 1u);
    HttpResponse resp = handlers["/metrics"](HttpRequest{"GET", "/metrics", ""});
    EXPECT_EQ(resp.status, 200);
    auto parsed = ::slotkeeper::testing::ParseExposition(resp.body);
    EXPECT_TRUE(parsed.ok()) << parsed.status();
    if (!parsed.ok()) return {};
    // Every family is documented, so docs/metrics.md cannot drift.
    auto documented = ::slotkeeper::testing::DocumentedMetrics("docs/metrics.md");
    EXPECT_TRUE(documented.ok()) << documented.status();
    if (documented.ok()) {
      for (const auto& [family, type] : parsed->types) {
        EXPECT_TRUE(documented->count(family))
            << family << " (" << type << ") is not in docs/metrics.md";
      }
    }
    return *parsed;
  }

  CoordinatorCollector::Sources Sources() {
    return {&coord_->queries(), store_.get(), [] { return uint64_t{7}; }};
  }
};

TEST_F(CoordinatorMetricsTest, HealthyStoreThenFailoverOnHardEvidence) {
  RegisterThree();
  CreateHealthyStore();
  ReportInSync("imap2", 20);
  ReportInSync("imap3", 1500);
  CoordinatorMetrics metrics(Sources());

  auto before = Scrape(metrics);
  EXPECT_EQ(before.Sum("slotkeeper_stores_by_replication", {{"replication", "fully_replicated"}}),
            1);
  EXPECT_EQ(before.Sum("slotkeeper_stores", {{"state", "healthy"}}), 1);
  EXPECT_EQ(before.Sum("slotkeeper_store_replication_lag_seconds", {{"store", "st1"}}), 1.5);
  EXPECT_EQ(before.Sum("slotkeeper_hosts", {{"state", "up"}}), 3);
  EXPECT_EQ(before.Sum("slotkeeper_failovers_total"), 0);
  EXPECT_EQ(before.Sum("slotkeeper_lease_renewals_total"), 7);
  EXPECT_TRUE(before.Has("slotkeeper_state_store_engine", {{"property", "estimate-num-keys"}}));
  EXPECT_TRUE(before.Has("process_resident_memory_bytes"));

  // imap1's filesystem (the master's) goes read-only; after the hard grace
  // and a final pull, a replica is promoted.
  v1::Condition read_only = testing::FsCondition(v1::READ_ONLY, "/srv/du1");
  read_only.set_since_ms(clock_.NowMs());
  for (int i = 0; i < 32; ++i) {
    clock_.Advance(absl::Seconds(1));
    ASSERT_TRUE(Report("imap1", {read_only}).ok());
    Heartbeat({"imap2", "imap3"});
  }
  auto during = Scrape(metrics);
  EXPECT_EQ(during.Sum("slotkeeper_stores_by_replication", {{"replication", "no_master"}}), 1);
  EXPECT_EQ(during.Sum("slotkeeper_filesystems", {{"state", "read_only"}}), 1);
  // Both slots of the unit, and the unit itself; the evidence is still
  // reported, so each detection is timed.
  EXPECT_EQ(during.Sum("slotkeeper_detections_total", {{"subject", "slot"}}), 2);
  EXPECT_EQ(during.Sum("slotkeeper_detections_total", {{"subject", "unit"}}), 1);
  EXPECT_EQ(during.Sum("slotkeeper_detection_latency_seconds_count", {{"subject", "slot"}}), 2);
  EXPECT_EQ(during.Sum("slotkeeper_detection_latency_seconds_count", {{"subject", "unit"}}), 1);

  ASSERT_EQ(AnswerFinalPulls({"imap2", "imap3"}), 1);
  ASSERT_TRUE(coord_->Tick().ok());
  auto after = Scrape(metrics);
  EXPECT_EQ(after.Sum("slotkeeper_failovers_total", {{"cause", "hard_evidence"}}), 1);
  EXPECT_EQ(after.Sum("slotkeeper_failovers_total"), 1);
  EXPECT_EQ(after.Sum("slotkeeper_events_total", {{"kind", "store.failover"}}), 1);
  EXPECT_EQ(after.Sum("slotkeeper_stores_by_replication", {{"replication", "fully_replicated"}}),
            0);
  EXPECT_GT(after.Sum("slotkeeper_journal_last_seq"), before.Sum("slotkeeper_journal_last_seq"));
}

TEST_F(CoordinatorMetricsTest, EventsBeforeTheCollectorAreNotCounted) {
  RegisterThree();
  CreateHealthyStore();
  ASSERT_TRUE(coord_->queries().EventsAfter(0, 10)->size() > 0);
  CoordinatorMetrics metrics(Sources());
  auto scrape = Scrape(metrics);
  EXPECT_EQ(scrape.Sum("slotkeeper_events_total"), 0);
  EXPECT_EQ(scrape.Sum("slotkeeper_task_received_bytes_total"), 0);
}

}  // namespace
}  // namespace slotkeeper::slotmgr
