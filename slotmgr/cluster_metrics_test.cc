// The state metrics from literal snapshots: how a store's protection is
// classified, what each family counts, and the task progress counters.
#include "slotmgr/cluster_metrics.h"

#include <map>
#include <string>

#include "gtest/gtest.h"

namespace slotkeeper::slotmgr {
namespace {

v1::Copy MakeCopy(const std::string& host, v1::SlotRole role, bool usable, bool in_sync,
                  int64_t lag_ms = 0) {
  v1::Copy c;
  c.mutable_slot()->set_host(host);
  c.mutable_slot()->set_slot("s01");
  c.set_role(role);
  c.set_usable(usable);
  c.set_in_sync(in_sync);
  c.set_lag_ms(lag_ms);
  return c;
}

v1::StoreInfo MakeStore(const std::string& name, std::vector<v1::Copy> copies,
                        uint32_t required = 3) {
  v1::StoreInfo s;
  s.set_name(name);
  s.set_required_copies(required);
  for (auto& c : copies) *s.add_copies() = c;
  return s;
}

// name{labels} -> value, over every family.
double Value(const std::vector<prometheus::MetricFamily>& fams, const std::string& name,
             const std::map<std::string, std::string>& labels = {}) {
  for (const auto& f : fams) {
    if (f.name != name) continue;
    for (const auto& m : f.metric) {
      bool match = true;
      for (const auto& [k, v] : labels) {
        bool found = false;
        for (const auto& l : m.label) found |= l.name == k && l.value == v;
        match &= found;
      }
      if (match) {
        return f.type == prometheus::MetricType::Counter ? m.counter.value : m.gauge.value;
      }
    }
  }
  ADD_FAILURE() << "no sample " << name;
  return -1;
}

TEST(ReplicationOf, ClassifiesByUsableInSyncCopies) {
  using C = std::vector<v1::Copy>;
  EXPECT_EQ(ReplicationOf(MakeStore("a", C{MakeCopy("h1", v1::SLOT_MASTER, true, true),
                                           MakeCopy("h2", v1::SLOT_REPLICA, true, true),
                                           MakeCopy("h3", v1::SLOT_REPLICA, true, true)})),
            StoreReplication::kFullyReplicated);
  EXPECT_EQ(ReplicationOf(MakeStore("b", C{MakeCopy("h1", v1::SLOT_MASTER, true, true),
                                           MakeCopy("h2", v1::SLOT_REPLICA, true, true),
                                           MakeCopy("h3", v1::SLOT_REPLICA, true, false)})),
            StoreReplication::kDegraded);
  // A seeding copy does not protect anything yet; an unusable replica neither.
  EXPECT_EQ(ReplicationOf(MakeStore("c", C{MakeCopy("h1", v1::SLOT_MASTER, true, true),
                                           MakeCopy("h2", v1::SLOT_SEEDING, true, false),
                                           MakeCopy("h3", v1::SLOT_REPLICA, false, true)})),
            StoreReplication::kAtRisk);
  EXPECT_EQ(ReplicationOf(MakeStore("d", C{MakeCopy("h1", v1::SLOT_MASTER, false, true),
                                           MakeCopy("h2", v1::SLOT_REPLICA, true, true)})),
            StoreReplication::kNoMaster);
  // Two in sync of two required is complete.
  EXPECT_EQ(ReplicationOf(MakeStore("e",
                                    C{MakeCopy("h1", v1::SLOT_MASTER, true, true),
                                      MakeCopy("h2", v1::SLOT_REPLICA, true, true)},
                                    2)),
            StoreReplication::kFullyReplicated);
}

TEST(ClusterFamilies, CountsEveryStateWithZerosForTheAbsentOnes) {
  ClusterSnapshot snap;
  snap.now_ms = 1'000'000;
  v1::HostInfo h;
  h.set_name("imap1");
  h.set_state(v1::HOST_UP);
  h.set_clock_offset_ms(-1500);
  h.add_units()->set_state(v1::UNIT_ONLINE);
  h.add_units()->set_state(v1::UNIT_FAILED);
  h.add_filesystems()->set_state(v1::FS_READ_ONLY);
  v1::SlotInfo* master = h.add_slots();
  master->set_role(v1::SLOT_MASTER);
  master->set_serving(true);
  master->set_serving_on_failsafe(true);
  h.add_slots()->set_role(v1::SLOT_SPARE);
  snap.hosts.push_back(h);
  v1::Copy scrubbed = MakeCopy("h2", v1::SLOT_REPLICA, true, true, 2500);
  scrubbed.set_scrub_last_full_pass_ms(snap.now_ms - 60'000);
  scrubbed.set_scrub_corrupt_found(2);
  snap.stores.push_back(MakeStore("st1", {MakeCopy("h1", v1::SLOT_MASTER, true, true), scrubbed,
                                          MakeCopy("h3", v1::SLOT_REPLICA, true, false, 9000)}));
  v1::TaskInfo t;
  t.set_kind(v1::TASK_RE_REPLICATE);
  t.set_state(v1::TASK_RUNNING);
  t.mutable_progress()->set_bytes_total(1000);
  t.mutable_progress()->set_bytes_done(400);
  snap.tasks.push_back(t);
  snap.automation.set_mode(v1::AUTOMATION_FROZEN);

  const auto fams = ClusterFamilies(snap);
  EXPECT_EQ(Value(fams, "slotkeeper_hosts", {{"state", "up"}}), 1);
  EXPECT_EQ(Value(fams, "slotkeeper_hosts", {{"state", "down"}}), 0);
  EXPECT_EQ(Value(fams, "slotkeeper_host_clock_offset_seconds", {{"host", "imap1"}}), -1.5);
  EXPECT_EQ(Value(fams, "slotkeeper_units", {{"state", "failed"}}), 1);
  EXPECT_EQ(Value(fams, "slotkeeper_units", {{"state", "lost"}}), 0);
  EXPECT_EQ(Value(fams, "slotkeeper_filesystems", {{"state", "read_only"}}), 1);
  EXPECT_EQ(Value(fams, "slotkeeper_slots", {{"role", "spare"}}), 1);
  EXPECT_EQ(Value(fams, "slotkeeper_masters", {{"serving", "failsafe"}}), 1);
  EXPECT_EQ(Value(fams, "slotkeeper_stores_by_replication", {{"replication", "degraded"}}), 1);
  EXPECT_EQ(Value(fams, "slotkeeper_stores_by_replication", {{"replication", "at_risk"}}), 0);
  EXPECT_EQ(Value(fams, "slotkeeper_copies",
                  {{"role", "replica"}, {"usable", "true"}, {"in_sync", "false"}}),
            1);
  EXPECT_EQ(Value(fams, "slotkeeper_store_replication_lag_seconds", {{"store", "st1"}}), 9.0);
  EXPECT_EQ(Value(fams, "slotkeeper_scrub_corrupt_files"), 2);
  EXPECT_EQ(Value(fams, "slotkeeper_scrub_oldest_pass_age_seconds"), 60);
  EXPECT_EQ(Value(fams, "slotkeeper_scrub_copies_never_passed"), 2);
  EXPECT_EQ(Value(fams, "slotkeeper_tasks", {{"kind", "re_replicate"}, {"state", "running"}}), 1);
  EXPECT_EQ(Value(fams, "slotkeeper_tasks", {{"kind", "verify"}, {"state", "failed"}}), 0);
  EXPECT_EQ(Value(fams, "slotkeeper_recovery_remaining_bytes"), 600);
  EXPECT_EQ(Value(fams, "slotkeeper_automation_mode", {{"mode", "frozen"}}), 1);
  EXPECT_EQ(Value(fams, "slotkeeper_automation_mode", {{"mode", "running"}}), 0);
}

v1::TaskInfo Task(const std::string& id, v1::TaskState state, uint64_t bytes, uint64_t files) {
  v1::TaskInfo t;
  t.set_id(id);
  t.set_state(state);
  t.mutable_progress()->set_bytes_received(bytes);
  t.mutable_progress()->set_files_done(files);
  return t;
}

TEST(TaskProgressCounter, CountsIncreasesNotTheHistoryFoundAtStart) {
  TaskProgressCounter c;
  // At the first look: a finished task is history, a running one counts.
  c.Observe({Task("t1", v1::TASK_DONE, 5000, 50), Task("t2", v1::TASK_RUNNING, 100, 1)});
  EXPECT_EQ(c.bytes_received(), 100u);
  EXPECT_EQ(c.files_done(), 1u);
  // t2 grows; t3 appears and finishes between two looks: all of it counts.
  c.Observe({Task("t1", v1::TASK_DONE, 5000, 50), Task("t2", v1::TASK_RUNNING, 300, 4),
             Task("t3", v1::TASK_DONE, 1000, 10)});
  EXPECT_EQ(c.bytes_received(), 100u + 200u + 1000u);
  EXPECT_EQ(c.files_done(), 1u + 3u + 10u);
  // A restarted copy reports less: nothing is subtracted, growth counts again.
  c.Observe({Task("t2", v1::TASK_RUNNING, 50, 1)});
  c.Observe({Task("t2", v1::TASK_RUNNING, 80, 2)});
  EXPECT_EQ(c.bytes_received(), 1300u + 30u);
  EXPECT_EQ(c.files_done(), 14u + 1u);
}

TEST(TaskProgressCounter, AnEmptyFirstLookStillMarksTheStart) {
  TaskProgressCounter c;
  c.Observe({});
  c.Observe({Task("t1", v1::TASK_DONE, 700, 7)});  // finished since: counts
  EXPECT_EQ(c.bytes_received(), 700u);
}

}  // namespace
}  // namespace slotkeeper::slotmgr
