// slotmgrd's /metrics: what the coordinator exposes to Prometheus
// (docs/metrics.md lists every family).
//
// Design: state is computed at scrape time, events are counted by following
// the journal, and only the gRPC edge updates metrics as it goes.
//  - State gauges (hosts, units, filesystems, slots, stores, copies, lag,
//    scrub, tasks, automation) come from one Queries::Snapshot per scrape
//    (cluster_metrics.h): one consistent picture, and nothing to keep in
//    step in the decision code.
//  - Event counters (failovers by cause, guardrail trips, detections and
//    their latency, every event kind) follow the journal from the position
//    at which the collector was made (journal_metrics.h); each scrape reads
//    what was journaled since the last one.
//  - Bytes and files copied are counters over the tasks' progress
//    (TaskProgressCounter).
//  - RPC counts and latency per method are recorded by a server interceptor
//    (base/rpc_metrics.h); lease renewals sent are counted by the
//    AgentService; the state store's engine figures (RocksDB properties)
//    and the process figures (base/process_metrics.h) are read when scraped.
//
// Thread-safe: Collect serializes scrapes on its own mutex, then takes the
// coordinator's through Queries. The Queries and StateStore are not owned
// and must outlive the collector.
#ifndef SLOTKEEPER_SLOTMGR_COORDINATOR_METRICS_H_
#define SLOTKEEPER_SLOTMGR_COORDINATOR_METRICS_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "base/rpc_metrics.h"
#include "prometheus/collectable.h"
#include "prometheus/registry.h"
#include "slotmgr/cluster_metrics.h"
#include "slotmgr/journal_metrics.h"
#include "slotmgr/queries.h"
#include "slotmgr/state_store.h"

namespace slotkeeper::slotmgr {

class CoordinatorCollector : public prometheus::Collectable {
 public:
  struct Sources {
    const Queries* queries = nullptr;   // required
    const StateStore* store = nullptr;  // engine figures; none when null
    // Lease renewals sent so far (AgentServiceImpl::lease_renewals_sent);
    // left out when empty.
    std::function<uint64_t()> lease_renewals;
  };

  explicit CoordinatorCollector(Sources sources);
  std::vector<prometheus::MetricFamily> Collect() const override;

 private:
  const Sources sources_;
  mutable absl::Mutex mu_;
  mutable uint64_t journal_seq_ ABSL_GUARDED_BY(mu_);
  mutable JournalCounters journal_ ABSL_GUARDED_BY(mu_);
  mutable TaskProgressCounter tasks_ ABSL_GUARDED_BY(mu_);
};

// Everything slotmgrd exposes, made once in main: the registry the RPC
// metrics record into, the collector, the process figures.
struct CoordinatorMetrics {
  explicit CoordinatorMetrics(CoordinatorCollector::Sources sources);
  // For SlotmgrServerOptions::rpc_metrics.
  RpcMetrics* rpc() { return &rpc_; }
  // For the /metrics handler (http_handlers.h).
  std::vector<std::shared_ptr<const prometheus::Collectable>> sources() const;

 private:
  std::shared_ptr<prometheus::Registry> registry_ = std::make_shared<prometheus::Registry>();
  RpcMetrics rpc_{*registry_};
  std::shared_ptr<CoordinatorCollector> collector_;
};

}  // namespace slotkeeper::slotmgr

#endif  // SLOTKEEPER_SLOTMGR_COORDINATOR_METRICS_H_
