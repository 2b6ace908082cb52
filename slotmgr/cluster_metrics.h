// The coordinator's state metrics: pure functions from one consistent
// snapshot of the model (Queries::Snapshot) to Prometheus metric families,
// computed when scraped rather than updated at every change, so they can
// never disagree with what `slotctl status` shows. Every name and label is
// listed in docs/metrics.md.
//
// Label values come from enums and the operator's own names (hosts, stores),
// never from what a caller sent: per-host series (clock offset) are a few
// hundred per cluster at most, per-store series (replication lag) one per
// store, also a few hundred.
#ifndef SLOTKEEPER_SLOTMGR_CLUSTER_METRICS_H_
#define SLOTKEEPER_SLOTMGR_CLUSTER_METRICS_H_

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "prometheus/metric_family.h"
#include "proto/model.pb.h"
#include "slotmgr/queries.h"

namespace slotkeeper::slotmgr {

// How well a store's mail is protected, for slotkeeper_stores_by_replication:
//   kNoMaster         no usable master (failover pending, or impossible)
//   kAtRisk           a usable master, but no usable replica in sync: new
//                     mail exists on one copy only
//   kDegraded         in sync on at least two copies, fewer than required
//   kFullyReplicated  usable, in-sync copies >= required_copies
enum class StoreReplication { kNoMaster, kAtRisk, kDegraded, kFullyReplicated };
StoreReplication ReplicationOf(const v1::StoreInfo& store);
const char* ReplicationLabel(StoreReplication r);

// The state families of `snapshot` (hosts, units, filesystems, slots,
// masters, stores, copies, lag, scrub, data safety, tasks, recovery,
// automation).
std::vector<prometheus::MetricFamily> ClusterFamilies(const ClusterSnapshot& snapshot);

// Bytes received and files done by tasks, as counters: the increase of each
// task's progress between observations. A task already finished when first
// observed (the history a restarted coordinator loads) is not counted;
// progress made before the first observation of an unfinished task is.
// Not thread-safe (the collector serializes its scrapes).
class TaskProgressCounter {
 public:
  void Observe(const std::vector<v1::TaskInfo>& tasks);
  uint64_t bytes_received() const { return bytes_received_; }
  uint64_t files_done() const { return files_done_; }
  std::vector<prometheus::MetricFamily> Families() const;

 private:
  struct Seen {
    uint64_t bytes_received = 0;
    uint64_t files_done = 0;
  };
  std::map<std::string, Seen> seen_;  // by task id, the tasks of the last observation
  uint64_t bytes_received_ = 0;
  uint64_t files_done_ = 0;
  bool observed_ = false;
};

}  // namespace slotkeeper::slotmgr

#endif  // SLOTKEEPER_SLOTMGR_CLUSTER_METRICS_H_
