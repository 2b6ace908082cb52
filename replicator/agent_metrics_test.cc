// replicatord's metrics from a literal config and snapshot, the task
// update meter, and every family documented in docs/metrics.md.
#include "replicator/agent_metrics.h"

#include <memory>
#include <vector>

#include "base/clock.h"
#include "base/metrics_http.h"
#include "base/metrics_text.h"
#include "gtest/gtest.h"

namespace slotkeeper::replicator {
namespace {

// Two units, one filesystem each, two slots each.
AgentConfig Config() {
  AgentConfig c;
  c.set_host("imap1");
  for (int u = 1; u <= 2; ++u) {
    UnitConfig* unit = c.add_units();
    unit->set_name("du" + std::to_string(u));
    FilesystemConfig* fs = c.add_filesystems();
    fs->set_mount_point("/srv/du" + std::to_string(u));
    fs->set_unit(unit->name());
    for (int s = 1; s <= 2; ++s) {
      SlotConfig* slot = c.add_slots();
      slot->set_name("s" + std::to_string(u) + std::to_string(s));
      slot->set_filesystem(fs->mount_point());
    }
  }
  return c;
}

v1::ReplicationStatus Status(const std::string& slot, v1::SlotRole role, int64_t lag_ms,
                             bool in_sync) {
  v1::ReplicationStatus r;
  r.set_slot(slot);
  r.set_store("st1");
  r.set_role(role);
  r.set_lag_ms(lag_ms);
  r.set_in_sync(in_sync);
  r.mutable_scrub()->set_bytes_total(1000);
  r.mutable_scrub()->set_bytes_verified(250);
  r.mutable_scrub()->set_corrupt_found(role == v1::SLOT_REPLICA ? 3 : 0);
  return r;
}

class Sources : public prometheus::Collectable {
 public:
  Sources(const AgentConfig* config, AgentMetricsSnapshot snap)
      : collector_(config, [snap] { return snap; }) {}
  std::vector<prometheus::MetricFamily> Collect() const override { return collector_.Collect(); }

 private:
  AgentCollector collector_;
};

testing::Exposition Scrape(std::vector<std::shared_ptr<const prometheus::Collectable>> sources) {
  auto parsed = testing::ParseExposition(ExposeMetrics(sources));
  EXPECT_TRUE(parsed.ok()) << parsed.status();
  if (!parsed.ok()) return {};
  auto documented = testing::DocumentedMetrics("docs/metrics.md");
  EXPECT_TRUE(documented.ok()) << documented.status();
  if (documented.ok()) {
    for (const auto& [family, type] : parsed->types) {
      EXPECT_TRUE(documented->count(family)) << family << " is not in docs/metrics.md";
    }
  }
  return *parsed;
}

TEST(AgentFamilies, AFailedUnitItsFilesystemAndTheSlotsByRole) {
  const AgentConfig config = Config();
  AgentMetricsSnapshot snap;
  v1::Condition ro;
  ro.set_type(v1::READ_ONLY);
  ro.set_subject_kind(v1::SUBJECT_FILESYSTEM);
  ro.set_subject("/srv/du1");
  ro.set_hard(true);
  snap.health.conditions.push_back(ro);
  v1::Condition low;
  low.set_type(v1::LOW_SPACE);
  low.set_subject_kind(v1::SUBJECT_FILESYSTEM);
  low.set_subject("/srv/du2");
  low.set_hard(false);
  snap.health.conditions.push_back(low);
  v1::FilesystemUsage usage;
  usage.set_mount_point("/srv/du2");
  usage.set_total_bytes(1000);
  usage.set_free_bytes(10);
  snap.health.filesystems.push_back(usage);
  snap.replication = {Status("s11", v1::SLOT_MASTER, 0, true),
                      Status("s21", v1::SLOT_REPLICA, 2500, false)};
  v1::Lease lease;
  lease.set_slot("s11");
  snap.leases.push_back(lease);
  snap.session = {true, 3, 7};
  snap.catch_up = {40, 2, 123456, 78, 12.5};

  auto m = Scrape({std::make_shared<Sources>(&config, snap)});
  EXPECT_EQ(m.Sum("slotkeeper_agent_unit_healthy", {{"unit", "du1"}}), 0);
  EXPECT_EQ(m.Sum("slotkeeper_agent_unit_healthy", {{"unit", "du2"}}), 1) << "soft: still healthy";
  EXPECT_EQ(m.Sum("slotkeeper_agent_filesystem_healthy", {{"filesystem", "/srv/du1"}}), 0);
  EXPECT_EQ(
      m.Sum("slotkeeper_agent_conditions", {{"type", "read_only"}, {"subject_kind", "filesystem"}}),
      1);
  EXPECT_EQ(m.Sum("slotkeeper_agent_filesystem_free_bytes", {{"filesystem", "/srv/du2"}}), 10);
  EXPECT_EQ(m.Sum("slotkeeper_agent_slots", {{"role", "master"}}), 1);
  EXPECT_EQ(m.Sum("slotkeeper_agent_slots", {{"role", "replica"}}), 1);
  EXPECT_EQ(m.Sum("slotkeeper_agent_slots", {{"role", "spare"}}), 2);
  EXPECT_EQ(m.Sum("slotkeeper_agent_leases_held", {{"failsafe", "false"}}), 1);
  EXPECT_EQ(m.Sum("slotkeeper_agent_replica_lag_seconds", {{"slot", "s21"}}), 2.5);
  EXPECT_FALSE(m.Has("slotkeeper_agent_replica_lag_seconds", {{"slot", "s11"}}))
      << "a master has no lag";
  EXPECT_EQ(m.Sum("slotkeeper_agent_replica_in_sync", {{"slot", "s21"}}), 0);
  EXPECT_EQ(m.Sum("slotkeeper_agent_scrub_pass_fraction", {{"slot", "s21"}}), 0.25);
  EXPECT_EQ(m.Sum("slotkeeper_agent_scrub_corrupt_files"), 3);
  EXPECT_EQ(m.Sum("slotkeeper_agent_coordinator_connected"), 1);
  EXPECT_EQ(m.Sum("slotkeeper_agent_coordinator_failed_attempts_total"), 7);
  EXPECT_EQ(m.Sum("slotkeeper_agent_catch_up_cycles_total", {{"outcome", "failed"}}), 2);
  EXPECT_EQ(m.Sum("slotkeeper_agent_catch_up_received_bytes_total"), 123456);
  EXPECT_EQ(m.Sum("slotkeeper_agent_catch_up_seconds_total"), 12.5);
}

TEST(AgentFamilies, AHostConditionMakesEveryUnitUnhealthy) {
  const AgentConfig config = Config();
  AgentMetricsSnapshot snap;
  v1::Condition hung;
  hung.set_type(v1::IO_ERROR);
  hung.set_subject_kind(v1::SUBJECT_HOST);
  hung.set_hard(true);
  snap.health.conditions.push_back(hung);
  auto m = Scrape({std::make_shared<Sources>(&config, snap)});
  EXPECT_EQ(m.Sum("slotkeeper_agent_unit_healthy"), 0);
  EXPECT_EQ(m.Sum("slotkeeper_agent_filesystem_healthy"), 0);
  EXPECT_EQ(m.Sum("slotkeeper_agent_slots", {{"role", "spare"}}), 4);
}

class RecordingSink : public TaskUpdateSink {
 public:
  void SendTaskUpdate(const v1::TaskUpdate& update) override { updates.push_back(update); }
  std::vector<v1::TaskUpdate> updates;
};

v1::TaskUpdate Update(const std::string& id, v1::TaskState state, uint64_t bytes, uint64_t files) {
  v1::TaskUpdate u;
  u.set_task_id(id);
  u.set_state(state);
  u.mutable_progress()->set_bytes_received(bytes);
  u.mutable_progress()->set_files_done(files);
  return u;
}

TEST(TaskUpdateMeter, CountsIncreasesAndOutcomesAndPassesEveryUpdateOn) {
  FakeClock clock;
  RecordingSink next;
  auto registry = std::make_shared<prometheus::Registry>();
  TaskUpdateMeter meter(&next, &clock, *registry);
  meter.SendTaskUpdate(Update("t1", v1::TASK_RUNNING, 100, 2));
  clock.Advance(absl::Seconds(40));
  meter.SendTaskUpdate(Update("t1", v1::TASK_RUNNING, 300, 5));
  meter.SendTaskUpdate(Update("t1", v1::TASK_RUNNING, 300, 5));  // resent: nothing new
  meter.SendTaskUpdate(Update("t1", v1::TASK_DONE, 350, 6));
  meter.SendTaskUpdate(Update("t2", v1::TASK_FAILED, 10, 0));
  EXPECT_EQ(next.updates.size(), 5u);

  auto m = Scrape({registry});
  EXPECT_EQ(m.Sum("slotkeeper_agent_task_received_bytes_total"), 360);
  EXPECT_EQ(m.Sum("slotkeeper_agent_task_files_done_total"), 6);
  EXPECT_EQ(m.Sum("slotkeeper_agent_tasks_finished_total", {{"outcome", "done"}}), 1);
  EXPECT_EQ(m.Sum("slotkeeper_agent_tasks_finished_total", {{"outcome", "failed"}}), 1);
  EXPECT_EQ(m.Sum("slotkeeper_agent_task_duration_seconds_sum", {{"outcome", "done"}}), 40);
}

}  // namespace
}  // namespace slotkeeper::replicator
