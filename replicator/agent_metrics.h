// replicatord's /metrics (docs/metrics.md lists every family).
//
// State (drive units' and filesystems' health, slots by role, leases,
// replicas' lag and sync, scrub progress, the session with the
// coordinator) is computed when scraped from one AgentMetricsSnapshot, the
// same figures the agent reports to the coordinator (AgentFamilies, pure).
// Task figures are counted as the data path's task updates pass on their
// way to the coordinator (TaskUpdateMeter). The peer port's RPCs are
// recorded by base/rpc_metrics.h's interceptor, the process figures by
// base/process_metrics.h.
//
// The agent does not know its clock offset; the coordinator measures and
// exports it (slotkeeper_host_clock_offset_seconds).
#ifndef SLOTKEEPER_REPLICATOR_AGENT_METRICS_H_
#define SLOTKEEPER_REPLICATOR_AGENT_METRICS_H_

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "base/clock.h"
#include "prometheus/collectable.h"
#include "prometheus/counter.h"
#include "prometheus/family.h"
#include "prometheus/histogram.h"
#include "prometheus/registry.h"
#include "proto/agent.pb.h"
#include "replicator/config.pb.h"
#include "replicator/coordinator_client.h"
#include "replicator/data_plane.h"
#include "replicator/health_monitor.h"

namespace slotkeeper::replicator {

// What one scrape reads from the running agent.
struct AgentMetricsSnapshot {
  HealthSnapshot health;
  std::vector<v1::Lease> leases;
  std::vector<v1::ReplicationStatus> replication;
  SessionStats session;
  CatchUpFigures catch_up;
};

// The state families of `snapshot` for the host `config` describes. Pure.
std::vector<prometheus::MetricFamily> AgentFamilies(const AgentConfig& config,
                                                    const AgentMetricsSnapshot& snapshot);

// Calls `snapshot` at every scrape. Thread-safe when `snapshot` is.
class AgentCollector : public prometheus::Collectable {
 public:
  // `config` is not owned and must outlive the collector.
  AgentCollector(const AgentConfig* config, std::function<AgentMetricsSnapshot()> snapshot)
      : config_(config), snapshot_(std::move(snapshot)) {}
  std::vector<prometheus::MetricFamily> Collect() const override {
    return AgentFamilies(*config_, snapshot_());
  }

 private:
  const AgentConfig* const config_;
  const std::function<AgentMetricsSnapshot()> snapshot_;
};

// A TaskUpdateSink between the data path and the coordinator client: counts
// bytes received and files done (each task's increase between updates),
// tasks finished by outcome and their duration (from the first update this
// process saw to the last), then passes the update on unchanged.
// Thread-safe; never blocks beyond its own short lock. `next` and `clock`
// are not owned; `registry` must outlive the meter.
class TaskUpdateMeter : public TaskUpdateSink {
 public:
  TaskUpdateMeter(TaskUpdateSink* next, Clock* clock, prometheus::Registry& registry);
  void SendTaskUpdate(const v1::TaskUpdate& update) override;

 private:
  struct Seen {
    uint64_t bytes_received = 0;
    uint64_t files_done = 0;
    int64_t first_mono_ms = 0;
  };

  TaskUpdateSink* const next_;
  Clock* const clock_;
  prometheus::Counter& bytes_;
  prometheus::Counter& files_;
  prometheus::Family<prometheus::Counter>& finished_;
  prometheus::Family<prometheus::Histogram>& duration_;
  absl::Mutex mu_;
  std::map<std::string, Seen> running_ ABSL_GUARDED_BY(mu_);  // by task id
};

}  // namespace slotkeeper::replicator

#endif  // SLOTKEEPER_REPLICATOR_AGENT_METRICS_H_
