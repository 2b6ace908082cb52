// The coordinator's decisions, gathered in one place: whom to promote, where
// to place new replicas, which tasks to start, what the guardrails allow.
//
// These are the calls into the planning code (branch coord-plan: promotion,
// placement, scheduler, guardrails). Until that code is merged, simple
// implementations here keep the coordinator whole; swapping in the planners
// changes only decisions.cc. Every function is pure over a `ClusterModel`
// snapshot and thread-compatible.
#ifndef SLOTKEEPER_SLOTMGR_DECISIONS_H_
#define SLOTKEEPER_SLOTMGR_DECISIONS_H_

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "proto/model.pb.h"
#include "slotmgr/config.h"
#include "slotmgr/state.pb.h"

namespace slotkeeper::slotmgr {

// The coordinator's in-memory model. Keys are host names, store names, task ids.
struct ClusterModel {
  std::map<std::string, HostRecord> hosts;
  std::map<std::string, StoreRecord> stores;
  std::map<std::string, StoredTask> tasks;
};

// Lookups; null when absent.
const v1::SlotInfo* FindSlot(const ClusterModel& model, const v1::SlotRef& ref);
v1::SlotInfo* FindSlot(ClusterModel* model, const v1::SlotRef& ref);
const HostRecord* FindHost(const ClusterModel& model, const std::string& host);

struct PromotionChoice {
  std::optional<v1::SlotRef> target;
  std::string refused;  // why none, when target is empty
};

// The best replica of `store` to promote: usable, host up, not draining, clock
// sane, in sync or least lag (not beyond max_failover_lag unless `force`),
// fewest masters on its host. With `wanted`, checks that slot instead (force
// overrides "behind" and "unhealthy target").
PromotionChoice ChoosePromotion(const ClusterModel& model, const StoreRecord& store,
                                const CoordinatorConfig& config, bool force,
                                const v1::SlotRef* wanted);

struct PlacementRequest {
  std::string store;
  v1::SlotRef replaces;  // the lost copy, if any
};
struct PlacementResult {
  std::string store;
  v1::SlotRef target;
  v1::SlotRef source;
  v1::SlotRef replaces;
  std::string refused;  // set when no target could be found
};

// Spare slots for new replicas: never on a host holding a copy of the store,
// never on an unhealthy, draining or skewed host or unusable filesystem, with
// room for the store's data plus headroom; targets and sources spread over as
// many hosts as possible.
std::vector<PlacementResult> PlaceReplicas(const ClusterModel& model,
                                           const std::vector<PlacementRequest>& requests,
                                           const CoordinatorConfig& config);

// Priority of a new re-replication task: higher when fewer healthy copies remain.
int TaskPriority(const ClusterModel& model, const StoreRecord& store);

// Queued tasks to start now, in order, within the per-host (incoming,
// outgoing) and global limits.
std::vector<std::string> TasksToStart(const ClusterModel& model, const CoordinatorConfig& config);

// Guardrails.
bool FailoverRateAllows(const AutomationRecord& automation, int64_t now_ms,
                        const CoordinatorConfig& config);
// Mass-failure brake: true when too many hosts are silent at once.
bool MassFailure(const ClusterModel& model, const CoordinatorConfig& config, std::string* why);

}  // namespace slotkeeper::slotmgr

#endif  // SLOTKEEPER_SLOTMGR_DECISIONS_H_
