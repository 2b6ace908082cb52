#include "replicator/agent_metrics.h"

#include <algorithm>
#include <set>
#include <utility>

#include "absl/strings/ascii.h"
#include "base/metrics_http.h"

namespace slotkeeper::replicator {
namespace {

using prometheus::MetricFamily;

// "READ_ONLY" -> "read_only"; "SUBJECT_UNIT" -> "unit".
std::string EnumLabel(std::string name, const std::string& prefix = "") {
  if (!prefix.empty() && name.rfind(prefix, 0) == 0) name = name.substr(prefix.size());
  return absl::AsciiStrToLower(name);
}

// The subjects a hard condition makes unhealthy.
struct HardSubjects {
  bool host = false;
  std::set<std::string> units, filesystems;
};

HardSubjects HardOf(const std::vector<v1::Condition>& conditions) {
  HardSubjects h;
  for (const v1::Condition& c : conditions) {
    if (!c.hard()) continue;
    if (c.subject_kind() == v1::SUBJECT_HOST) h.host = true;
    if (c.subject_kind() == v1::SUBJECT_UNIT) h.units.insert(c.subject());
    if (c.subject_kind() == v1::SUBJECT_FILESYSTEM) h.filesystems.insert(c.subject());
  }
  return h;
}

void HealthFamilies(const AgentConfig& config, const AgentMetricsSnapshot& snap,
                    std::vector<MetricFamily>& out) {
  std::map<std::pair<std::string, std::string>, int64_t> conditions;
  for (const v1::Condition& c : snap.health.conditions) {
    ++conditions[{EnumLabel(v1::ConditionType_Name(c.type())),
                  EnumLabel(v1::SubjectKind_Name(c.subject_kind()), "SUBJECT_")}];
  }
  MetricFamily cf =
      GaugeFamily("slotkeeper_agent_conditions", "Health conditions the probes report now.");
  for (const auto& [key, n] : conditions) {
    AddSample(cf, static_cast<double>(n), {{"type", key.first}, {"subject_kind", key.second}});
  }
  out.push_back(std::move(cf));

  const HardSubjects hard = HardOf(snap.health.conditions);
  std::set<std::string> sick_units = hard.units;
  for (const FilesystemConfig& f : config.filesystems()) {
    if (hard.filesystems.count(f.mount_point())) sick_units.insert(f.unit());
  }
  MetricFamily units = GaugeFamily("slotkeeper_agent_unit_healthy",
                                   "1 when no hard condition is reported on the drive unit, its "
                                   "filesystems or the host.");
  for (const UnitConfig& u : config.units()) {
    AddSample(units, hard.host || sick_units.count(u.name()) ? 0 : 1, {{"unit", u.name()}});
  }
  out.push_back(std::move(units));
  MetricFamily fs = GaugeFamily("slotkeeper_agent_filesystem_healthy",
                                "1 when no hard condition is reported on the filesystem, its "
                                "unit or the host.");
  for (const FilesystemConfig& f : config.filesystems()) {
    const bool sick =
        hard.host || hard.units.count(f.unit()) || hard.filesystems.count(f.mount_point());
    AddSample(fs, sick ? 0 : 1, {{"filesystem", f.mount_point()}, {"unit", f.unit()}});
  }
  out.push_back(std::move(fs));
  MetricFamily size = GaugeFamily("slotkeeper_agent_filesystem_size_bytes",
                                  "The filesystem's size, as the capacity probe last read it.");
  MetricFamily free =
      GaugeFamily("slotkeeper_agent_filesystem_free_bytes", "The filesystem's free bytes.");
  for (const v1::FilesystemUsage& u : snap.health.filesystems) {
    AddSample(size, static_cast<double>(u.total_bytes()), {{"filesystem", u.mount_point()}});
    AddSample(free, static_cast<double>(u.free_bytes()), {{"filesystem", u.mount_point()}});
  }
  out.push_back(std::move(size));
  out.push_back(std::move(free));
}

void ReplicationFamilies(const AgentConfig& config, const AgentMetricsSnapshot& snap,
                         std::vector<MetricFamily>& out) {
  std::map<std::string, int64_t> roles = {{"master", 0}, {"replica", 0}, {"seeding", 0}};
  std::set<std::string> with_role;
  MetricFamily lag = GaugeFamily("slotkeeper_agent_replica_lag_seconds",
                                 "A replica's lag behind its master (upper bound).");
  MetricFamily in_sync = GaugeFamily("slotkeeper_agent_replica_in_sync",
                                     "1 when the replica has proven it is in sync.");
  MetricFamily feed = GaugeFamily("slotkeeper_agent_replica_feed",
                                  "1 for how the replica follows its master: push (the "
                                  "master's change feed), poll, or batch (push fell behind).");
  MetricFamily fraction = GaugeFamily("slotkeeper_agent_scrub_pass_fraction",
                                      "Progress (0..1) of the slot's current scrub pass.");
  MetricFamily corrupt =
      GaugeFamily("slotkeeper_agent_scrub_corrupt_files", "Corrupt files the slot's scrubs found.");
  MetricFamily last_pass =
      GaugeFamily("slotkeeper_agent_scrub_last_pass_timestamp_seconds",
                  "When the slot's last complete scrub pass ended (agent clock).");
  for (const v1::ReplicationStatus& r : snap.replication) {
    const std::string role = EnumLabel(v1::SlotRole_Name(r.role()), "SLOT_");
    if (roles.count(role)) {
      ++roles[role];
      with_role.insert(r.slot());
    }
    const MetricLabels slot = {{"slot", r.slot()}};
    if (r.role() == v1::SLOT_REPLICA) {
      AddSample(lag, r.lag_ms() / 1000.0, slot);
      AddSample(in_sync, r.in_sync() ? 1 : 0, slot);
      if (!r.feed().empty()) AddSample(feed, 1, {{"slot", r.slot()}, {"feed", r.feed()}});
    }
    const v1::ScrubStatus& s = r.scrub();
    AddSample(fraction,
              s.bytes_total() > 0
                  ? std::min(1.0, static_cast<double>(s.bytes_verified()) / s.bytes_total())
                  : 0,
              slot);
    AddSample(corrupt, static_cast<double>(s.corrupt_found()), slot);
    if (s.last_full_pass_ms() > 0) AddSample(last_pass, s.last_full_pass_ms() / 1000.0, slot);
  }
  int64_t spare = 0;
  for (const SlotConfig& s : config.slots()) spare += with_role.count(s.name()) == 0;
  roles["spare"] = spare;
  MetricFamily slots = GaugeFamily("slotkeeper_agent_slots",
                                   "The configured slots by the role the data path holds.");
  for (const auto& [role, n] : roles) AddSample(slots, static_cast<double>(n), {{"role", role}});
  out.push_back(std::move(slots));
  int64_t leases = 0, failsafe = 0;
  for (const v1::Lease& l : snap.leases) (l.failsafe() ? failsafe : leases)++;
  MetricFamily held = GaugeFamily("slotkeeper_agent_leases_held",
                                  "Master leases held, and whether only on failsafe grants.");
  AddSample(held, static_cast<double>(leases), {{"failsafe", "false"}});
  AddSample(held, static_cast<double>(failsafe), {{"failsafe", "true"}});
  out.push_back(std::move(held));
  for (MetricFamily* f : {&lag, &in_sync, &feed, &fraction, &corrupt, &last_pass}) {
    out.push_back(std::move(*f));
  }
}

void CatchUpFamilies(const CatchUpFigures& c, std::vector<MetricFamily>& out) {
  MetricFamily cycles = CounterFamily("slotkeeper_agent_catch_up_cycles_total",
                                      "Catch-up cycles of the local replicas, by outcome.");
  AddSample(cycles, static_cast<double>(c.cycles_ok), {{"outcome", "ok"}});
  AddSample(cycles, static_cast<double>(c.cycles_failed), {{"outcome", "failed"}});
  out.push_back(std::move(cycles));
  MetricFamily pushed = CounterFamily("slotkeeper_agent_catch_up_push_cycles_total",
                                      "Catch-up cycles of only the users a master's change feed "
                                      "announced (push replication).");
  AddSample(pushed, static_cast<double>(c.push_cycles));
  out.push_back(std::move(pushed));
  MetricFamily bytes = CounterFamily("slotkeeper_agent_catch_up_received_bytes_total",
                                     "Bytes the catch-up cycles received from masters.");
  AddSample(bytes, static_cast<double>(c.bytes_received));
  out.push_back(std::move(bytes));
  MetricFamily files = CounterFamily("slotkeeper_agent_catch_up_files_copied_total",
                                     "Files the catch-up cycles copied from masters.");
  AddSample(files, static_cast<double>(c.files_copied));
  out.push_back(std::move(files));
  MetricFamily seconds = CounterFamily("slotkeeper_agent_catch_up_seconds_total",
                                       "Time the catch-up cycles took, summed.");
  AddSample(seconds, c.seconds);
  out.push_back(std::move(seconds));
}

void SessionFamilies(const SessionStats& s, std::vector<MetricFamily>& out) {
  MetricFamily connected = GaugeFamily("slotkeeper_agent_coordinator_connected",
                                       "1 while a session with the coordinator is open.");
  AddSample(connected, s.connected ? 1 : 0);
  out.push_back(std::move(connected));
  MetricFamily sessions = CounterFamily("slotkeeper_agent_coordinator_sessions_total",
                                        "Sessions opened with the coordinator.");
  AddSample(sessions, static_cast<double>(s.sessions_opened));
  out.push_back(std::move(sessions));
  MetricFamily failed = CounterFamily("slotkeeper_agent_coordinator_failed_attempts_total",
                                      "Attempts to open a session that failed.");
  AddSample(failed, static_cast<double>(s.failed_attempts));
  out.push_back(std::move(failed));
}

// From a second (a small task) to 6 hours (a large store's full copy).
const prometheus::Histogram::BucketBoundaries& DurationBuckets() {
  static const auto* b =
      new prometheus::Histogram::BucketBoundaries{1, 5, 15, 60, 300, 900, 1800, 3600, 7200, 21600};
  return *b;
}

}  // namespace

std::vector<MetricFamily> AgentFamilies(const AgentConfig& config,
                                        const AgentMetricsSnapshot& snapshot) {
  std::vector<MetricFamily> out;
  HealthFamilies(config, snapshot, out);
  ReplicationFamilies(config, snapshot, out);
  SessionFamilies(snapshot.session, out);
  CatchUpFamilies(snapshot.catch_up, out);
  return out;
}

TaskUpdateMeter::TaskUpdateMeter(TaskUpdateSink* next, Clock* clock, prometheus::Registry& registry)
    : next_(next),
      clock_(clock),
      bytes_(prometheus::BuildCounter()
                 .Name("slotkeeper_agent_task_received_bytes_total")
                 .Help("Bytes this agent received as the target of tasks.")
                 .Register(registry)
                 .Add({})),
      files_(prometheus::BuildCounter()
                 .Name("slotkeeper_agent_task_files_done_total")
                 .Help("Files the tasks on this agent copied, renamed or found in place.")
                 .Register(registry)
                 .Add({})),
      finished_(prometheus::BuildCounter()
                    .Name("slotkeeper_agent_tasks_finished_total")
                    .Help("Tasks this agent finished, by outcome.")
                    .Register(registry)),
      duration_(prometheus::BuildHistogram()
                    .Name("slotkeeper_agent_task_duration_seconds")
                    .Help("From a task's first progress update to its end.")
                    .Register(registry)) {
  for (const char* outcome : {"done", "failed"}) {
    finished_.Add({{"outcome", outcome}});
    duration_.Add({{"outcome", outcome}}, DurationBuckets());
  }
}

void TaskUpdateMeter::SendTaskUpdate(const v1::TaskUpdate& update) {
  {
    absl::MutexLock lock(&mu_);
    const int64_t now = clock_->MonotonicMs();
    auto it = running_.try_emplace(update.task_id(), Seen{0, 0, now}).first;
    Seen& seen = it->second;
    const auto& p = update.progress();
    if (p.bytes_received() > seen.bytes_received) {
      bytes_.Increment(static_cast<double>(p.bytes_received() - seen.bytes_received));
    }
    if (p.files_done() > seen.files_done) {
      files_.Increment(static_cast<double>(p.files_done() - seen.files_done));
    }
    seen.bytes_received = std::max(seen.bytes_received, p.bytes_received());
    seen.files_done = std::max(seen.files_done, p.files_done());
    if (update.state() == v1::TASK_DONE || update.state() == v1::TASK_FAILED) {
      const char* outcome = update.state() == v1::TASK_DONE ? "done" : "failed";
      finished_.Add({{"outcome", outcome}}).Increment();
      duration_.Add({{"outcome", outcome}}, DurationBuckets())
          .Observe((now - seen.first_mono_ms) / 1000.0);
      running_.erase(it);
    }
  }
  next_->SendTaskUpdate(update);
}

}  // namespace slotkeeper::replicator
