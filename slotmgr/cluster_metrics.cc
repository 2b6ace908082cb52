#include "slotmgr/cluster_metrics.h"

#include <algorithm>
#include <utility>

#include "base/metrics_http.h"
#include "proto/model_util.h"

namespace slotkeeper::slotmgr {
namespace {

using prometheus::MetricFamily;

const char* Bool(bool b) { return b ? "true" : "false"; }

// Lower-case enum names without their prefix, for labels.
const char* HostStateLabel(v1::HostState s) {
  switch (s) {
    case v1::HOST_UP:
      return "up";
    case v1::HOST_SUSPECT:
      return "suspect";
    case v1::HOST_DOWN:
      return "down";
    default:
      return "unknown";
  }
}
const char* UnitStateLabel(v1::UnitState s) {
  switch (s) {
    case v1::UNIT_ONLINE:
      return "online";
    case v1::UNIT_FAILED:
      return "failed";
    case v1::UNIT_LOST:
      return "lost";
    default:
      return "unknown";
  }
}
const char* FsStateLabel(v1::FilesystemState s) {
  switch (s) {
    case v1::FS_OK:
      return "ok";
    case v1::FS_READ_ONLY:
      return "read_only";
    case v1::FS_IO_ERROR:
      return "io_error";
    case v1::FS_HUNG:
      return "hung";
    case v1::FS_NOT_MOUNTED:
      return "not_mounted";
    default:
      return "unknown";
  }
}
const char* RoleLabel(v1::SlotRole r) {
  switch (r) {
    case v1::SLOT_SPARE:
      return "spare";
    case v1::SLOT_MASTER:
      return "master";
    case v1::SLOT_REPLICA:
      return "replica";
    case v1::SLOT_SEEDING:
      return "seeding";
    case v1::SLOT_LOST:
      return "lost";
    default:
      return "unknown";
  }
}
const char* StoreStateLabel(v1::StoreState s) {
  switch (s) {
    case v1::STORE_HEALTHY:
      return "healthy";
    case v1::STORE_DEGRADED:
      return "degraded";
    case v1::STORE_NO_MASTER:
      return "no_master";
    case v1::STORE_UNAVAILABLE:
      return "unavailable";
    default:
      return "unknown";
  }
}
const char* TaskKindLabel(v1::TaskKind k) {
  switch (k) {
    case v1::TASK_RE_REPLICATE:
      return "re_replicate";
    case v1::TASK_CATCH_UP:
      return "catch_up";
    case v1::TASK_VERIFY:
      return "verify";
    default:
      return "unknown";
  }
}
const char* TaskStateLabel(v1::TaskState s) {
  switch (s) {
    case v1::TASK_QUEUED:
      return "queued";
    case v1::TASK_RUNNING:
      return "running";
    case v1::TASK_DONE:
      return "done";
    case v1::TASK_FAILED:
      return "failed";
    case v1::TASK_CANCELLED:
      return "cancelled";
    case v1::TASK_BACKOFF:
      return "backoff";
    default:
      return "unknown";
  }
}

// A family with one sample per label value of `counts`, every value of
// `all` present (0 when none), so that series exist before they are needed.
MetricFamily Counted(const char* name, const char* help, const char* label,
                     const std::vector<const char*>& all, std::map<std::string, int64_t> counts) {
  for (const char* v : all) counts.emplace(v, 0);
  MetricFamily f = GaugeFamily(name, help);
  for (const auto& [value, n] : counts) AddSample(f, static_cast<double>(n), {{label, value}});
  return f;
}

MetricFamily Single(const char* name, const char* help, double value) {
  MetricFamily f = GaugeFamily(name, help);
  AddSample(f, value);
  return f;
}

void HostFamilies(const ClusterSnapshot& snap, std::vector<MetricFamily>& out) {
  std::map<std::string, int64_t> hosts, units, filesystems, slots, masters;
  int64_t draining = 0, held = 0, flapping = 0;
  MetricFamily offset = GaugeFamily("slotkeeper_host_clock_offset_seconds",
                                    "Agent clock minus coordinator clock, as last measured.");
  MetricFamily skewed = GaugeFamily("slotkeeper_host_clock_skewed",
                                    "1 while the host's clock is too far off to be promoted to.");
  for (const v1::HostInfo& h : snap.hosts) {
    ++hosts[HostStateLabel(h.state())];
    draining += h.draining();
    AddSample(offset, h.clock_offset_ms() / 1000.0, {{"host", h.name()}});
    AddSample(skewed, h.clock_skewed() ? 1 : 0, {{"host", h.name()}});
    for (const v1::UnitInfo& u : h.units()) {
      ++units[UnitStateLabel(u.state())];
      held += !u.held_reason().empty();
      flapping += u.flap_suppressed();
    }
    for (const v1::FilesystemInfo& f : h.filesystems()) ++filesystems[FsStateLabel(f.state())];
    for (const v1::SlotInfo& s : h.slots()) {
      ++slots[RoleLabel(s.role())];
      if (s.role() != v1::SLOT_MASTER) continue;
      ++masters[!s.serving() ? "no" : s.serving_on_failsafe() ? "failsafe" : "lease"];
    }
  }
  out.push_back(
      Counted("slotkeeper_hosts", "Hosts by state.", "state", {"up", "suspect", "down"}, hosts));
  out.push_back(Single("slotkeeper_hosts_draining", "Hosts being drained.", draining));
  out.push_back(std::move(offset));
  out.push_back(std::move(skewed));
  out.push_back(Counted("slotkeeper_units", "Drive units by state.", "state",
                        {"online", "failed", "lost"}, units));
  out.push_back(Single("slotkeeper_units_held",
                       "Units held out of service until an operator reinstates them.", held));
  out.push_back(Single("slotkeeper_units_flap_suppressed",
                       "Units kept out of placement by flap damping.", flapping));
  out.push_back(Counted("slotkeeper_filesystems", "Filesystems by state.", "state",
                        {"ok", "read_only", "io_error", "hung", "not_mounted"}, filesystems));
  out.push_back(Counted("slotkeeper_slots", "Slots by role.", "role",
                        {"spare", "master", "replica", "seeding", "lost"}, slots));
  out.push_back(Counted("slotkeeper_masters",
                        "Master slots by how they serve: on a coordinator lease, on failsafe "
                        "grants only, or not at all.",
                        "serving", {"lease", "failsafe", "no"}, masters));
}

void StoreFamilies(const ClusterSnapshot& snap, std::vector<MetricFamily>& out) {
  std::map<std::string, int64_t> states, replication;
  std::map<std::pair<std::string, std::pair<bool, bool>>, int64_t> copies;
  MetricFamily lag = GaugeFamily("slotkeeper_store_replication_lag_seconds",
                                 "The largest lag of the store's replicas behind its master.");
  int64_t corrupt = 0, never_scrubbed = 0, quarantine_items = 0, quarantine_bytes = 0, stranded = 0,
          blocked = 0;
  double oldest_pass_s = 0, fraction_sum = 0;
  int64_t scrubbed_copies = 0;
  for (const v1::StoreInfo& st : snap.stores) {
    ++states[StoreStateLabel(st.state())];
    ++replication[ReplicationLabel(ReplicationOf(st))];
    int64_t max_lag_ms = -1;
    for (const v1::Copy& c : st.copies()) {
      ++copies[{RoleLabel(c.role()), {c.usable(), c.in_sync()}}];
      if (c.role() == v1::SLOT_REPLICA) max_lag_ms = std::max(max_lag_ms, c.lag_ms());
      corrupt += static_cast<int64_t>(c.scrub_corrupt_found());
      quarantine_items += static_cast<int64_t>(c.quarantine_items());
      quarantine_bytes += static_cast<int64_t>(c.quarantine_bytes());
      stranded += static_cast<int64_t>(c.stranded_messages());
      blocked += c.blocked_users_size();
      const bool live = c.usable() && (c.role() == v1::SLOT_MASTER || c.role() == v1::SLOT_REPLICA);
      if (!live) continue;
      ++scrubbed_copies;
      fraction_sum += c.scrub_pass_fraction();
      if (c.scrub_last_full_pass_ms() <= 0) {
        ++never_scrubbed;
      } else {
        oldest_pass_s = std::max(
            oldest_pass_s, std::max<int64_t>(0, snap.now_ms - c.scrub_last_full_pass_ms()) / 1e3);
      }
    }
    if (max_lag_ms >= 0) AddSample(lag, max_lag_ms / 1000.0, {{"store", st.name()}});
  }
  out.push_back(Counted("slotkeeper_stores", "Stores by the coordinator's state.", "state",
                        {"healthy", "degraded", "no_master", "unavailable"}, states));
  out.push_back(Counted("slotkeeper_stores_by_replication",
                        "Stores by how well their mail is protected (see docs/metrics.md).",
                        "replication", {"fully_replicated", "degraded", "at_risk", "no_master"},
                        replication));
  MetricFamily cf = GaugeFamily("slotkeeper_copies", "Store copies by role, usability and sync.");
  for (const char* role : {"master", "replica", "seeding", "lost"}) {
    for (bool usable : {false, true}) {
      for (bool in_sync : {false, true})
        copies.emplace(std::make_pair(role, std::make_pair(usable, in_sync)), 0);
    }
  }
  for (const auto& [key, n] : copies) {
    AddSample(cf, static_cast<double>(n),
              {{"role", key.first},
               {"usable", Bool(key.second.first)},
               {"in_sync", Bool(key.second.second)}});
  }
  out.push_back(std::move(cf));
  out.push_back(std::move(lag));
  out.push_back(Single("slotkeeper_scrub_corrupt_files",
                       "Corrupt files the scrubs of the current copies have found.", corrupt));
  out.push_back(Single("slotkeeper_scrub_copies_never_passed",
                       "Usable masters and replicas without a complete scrub pass yet.",
                       never_scrubbed));
  out.push_back(Single("slotkeeper_scrub_oldest_pass_age_seconds",
                       "Age of the oldest last complete scrub pass of a usable copy.",
                       oldest_pass_s));
  out.push_back(Single("slotkeeper_scrub_pass_fraction_mean",
                       "Mean progress (0..1) of the current scrub pass over usable copies.",
                       scrubbed_copies > 0 ? fraction_sum / scrubbed_copies : 0));
  out.push_back(Single("slotkeeper_quarantine_items", "Files held in the copies' quarantines.",
                       quarantine_items));
  out.push_back(Single("slotkeeper_quarantine_bytes", "Bytes held in the copies' quarantines.",
                       quarantine_bytes));
  out.push_back(Single("slotkeeper_stranded_messages",
                       "Messages stranded on former masters, not yet reconciled.", stranded));
  out.push_back(Single("slotkeeper_blocked_users",
                       "Users the mass-deletion guard stopped replicating.", blocked));
}

void TaskFamilies(const ClusterSnapshot& snap, std::vector<MetricFamily>& out) {
  std::map<std::pair<std::string, std::string>, int64_t> tasks;
  for (const char* kind : {"re_replicate", "catch_up", "verify"}) {
    for (const char* state : {"queued", "running", "backoff", "done", "failed", "cancelled"}) {
      tasks[{kind, state}] = 0;
    }
  }
  double rate = 0, remaining = 0;
  for (const v1::TaskInfo& t : snap.tasks) {
    ++tasks[{TaskKindLabel(t.kind()), TaskStateLabel(t.state())}];
    if (model::IsTaskFinished(t.state())) continue;
    if (t.state() == v1::TASK_RUNNING) rate += t.progress().bytes_per_second();
    const auto& p = t.progress();
    if (p.bytes_total() > p.bytes_done()) remaining += p.bytes_total() - p.bytes_done();
  }
  MetricFamily f =
      GaugeFamily("slotkeeper_tasks", "Replication tasks the model holds, by kind and state.");
  for (const auto& [key, n] : tasks) {
    AddSample(f, static_cast<double>(n), {{"kind", key.first}, {"state", key.second}});
  }
  out.push_back(std::move(f));
  out.push_back(Single("slotkeeper_recovery_bytes_per_second",
                       "Copy rate of the running tasks, summed.", rate));
  out.push_back(Single("slotkeeper_recovery_remaining_bytes",
                       "Bytes the unfinished tasks still have to put in place (known totals).",
                       remaining));
}

void AutomationFamilies(const v1::AutomationState& a, std::vector<MetricFamily>& out) {
  MetricFamily mode =
      GaugeFamily("slotkeeper_automation_mode", "1 for the automation's current mode.");
  for (auto [m, label] :
       {std::pair{v1::AUTOMATION_RUNNING, "running"}, std::pair{v1::AUTOMATION_PAUSED, "paused"},
        std::pair{v1::AUTOMATION_FROZEN, "frozen"}}) {
    AddSample(mode, a.mode() == m ? 1 : 0, {{"mode", label}});
  }
  out.push_back(std::move(mode));
  out.push_back(Single("slotkeeper_automation_brake_engaged",
                       "1 while the evidence brake is engaged (until acknowledged).",
                       a.brake_engaged() ? 1 : 0));
  out.push_back(Single("slotkeeper_automation_paused_hosts", "Hosts where automation is paused.",
                       a.paused_hosts_size()));
  out.push_back(Single("slotkeeper_automation_recent_failovers",
                       "Automatic failovers in the rate limit's window.", a.recent_failovers()));
  out.push_back(Single("slotkeeper_automation_failover_limit",
                       "Automatic failovers allowed in the rate limit's window.",
                       a.failover_limit()));
  out.push_back(Single("slotkeeper_automation_units_lost_last_hour",
                       "Drive units declared lost within the last hour.",
                       a.units_lost_last_hour()));
  out.push_back(Single("slotkeeper_automation_units_lost_limit",
                       "Drive units automation may declare lost per hour.", a.units_lost_limit()));
  out.push_back(Single("slotkeeper_automation_rereplications_last_hour",
                       "Stores given new replicas within the last hour.",
                       a.rereplications_last_hour()));
  out.push_back(Single("slotkeeper_automation_rereplication_limit",
                       "Stores automation may re-replicate per hour.", a.rereplication_limit()));
}

}  // namespace

StoreReplication ReplicationOf(const v1::StoreInfo& store) {
  bool master = false;
  uint32_t in_sync = 0;
  for (const v1::Copy& c : store.copies()) {
    if (!c.usable()) continue;
    if (c.role() == v1::SLOT_MASTER) master = true;
    if ((c.role() == v1::SLOT_MASTER || c.role() == v1::SLOT_REPLICA) && c.in_sync()) ++in_sync;
  }
  if (!master) return StoreReplication::kNoMaster;
  if (in_sync < 2) return StoreReplication::kAtRisk;
  if (in_sync < std::max<uint32_t>(store.required_copies(), 2)) return StoreReplication::kDegraded;
  return StoreReplication::kFullyReplicated;
}

const char* ReplicationLabel(StoreReplication r) {
  switch (r) {
    case StoreReplication::kNoMaster:
      return "no_master";
    case StoreReplication::kAtRisk:
      return "at_risk";
    case StoreReplication::kDegraded:
      return "degraded";
    case StoreReplication::kFullyReplicated:
      return "fully_replicated";
  }
  return "no_master";
}

std::vector<MetricFamily> ClusterFamilies(const ClusterSnapshot& snapshot) {
  std::vector<MetricFamily> out;
  HostFamilies(snapshot, out);
  StoreFamilies(snapshot, out);
  TaskFamilies(snapshot, out);
  AutomationFamilies(snapshot.automation, out);
  return out;
}

void TaskProgressCounter::Observe(const std::vector<v1::TaskInfo>& tasks) {
  const bool first = !observed_;
  observed_ = true;
  std::map<std::string, Seen> now;
  for (const v1::TaskInfo& t : tasks) {
    Seen s{t.progress().bytes_received(), t.progress().files_done()};
    auto it = seen_.find(t.id());
    if (it != seen_.end()) {
      // Progress only grows; a smaller figure (a restarted copy) counts from
      // there again.
      if (s.bytes_received > it->second.bytes_received) {
        bytes_received_ += s.bytes_received - it->second.bytes_received;
      }
      if (s.files_done > it->second.files_done) files_done_ += s.files_done - it->second.files_done;
    } else if (!(first && model::IsTaskFinished(t.state()))) {
      bytes_received_ += s.bytes_received;
      files_done_ += s.files_done;
    }
    now[t.id()] = s;
  }
  seen_ = std::move(now);
}

std::vector<MetricFamily> TaskProgressCounter::Families() const {
  MetricFamily bytes = CounterFamily("slotkeeper_task_received_bytes_total",
                                     "Bytes the tasks' targets received from their sources.");
  AddSample(bytes, static_cast<double>(bytes_received_));
  MetricFamily files =
      CounterFamily("slotkeeper_task_files_done_total",
                    "Files the tasks copied, renamed or found already in place on their targets.");
  AddSample(files, static_cast<double>(files_done_));
  std::vector<MetricFamily> out;
  out.push_back(std::move(bytes));
  out.push_back(std::move(files));
  return out;
}

}  // namespace slotkeeper::slotmgr
