// The bridge between the coordinator's model and the pure planners
// (promotion.h, placement.h, scheduler.h, guardrails.h): the only code that
// builds their ClusterView snapshot from the model (ClusterModel: the
// persisted records), calls their decisions with the options derived from
// the config, and translates the answers back into the model's terms. (The
// task manager also reads the scheduler's BackoffMs, a formula.)
//
// Every function is pure over its arguments and thread-compatible; the
// coordinator calls them under its lock.
#ifndef SLOTKEEPER_SLOTMGR_VIEW_BUILDER_H_
#define SLOTKEEPER_SLOTMGR_VIEW_BUILDER_H_

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "proto/model.pb.h"
#include "slotmgr/cluster_view.h"
#include "slotmgr/config.h"
#include "slotmgr/model.h"
#include "slotmgr/state.pb.h"

namespace slotkeeper::slotmgr {

// The planners' snapshot of `model`. `last_heard_ms` (coordinator clock, by
// host) overrides the persisted HostInfo.last_heard_ms. INVALID_ARGUMENT when
// the model is inconsistent (the message names the offender).
absl::StatusOr<ClusterView> BuildView(const ClusterModel& model,
                                      const std::map<std::string, int64_t>& last_heard_ms);

v1::SlotRef ToRef(const SlotId& id);
SlotId ToId(const v1::SlotRef& ref);

struct PromotionChoice {
  std::optional<v1::SlotRef> target;
  std::string refused;  // why none, when target is empty
  // No target because the old master may still serve on failsafe grants:
  // a wait, not a verdict on the store.
  bool waiting = false;
};

// The best replica of `store` to promote (promotion.h: usable, host up, not
// draining, clock sane, in sync or least lag within max_failover_lag, fewest
// masters on its host). With `wanted`, checks that slot instead; `force`
// overrides "behind" and "unhealthy target", never a non-replica, a down
// host or a skewed clock.
PromotionChoice ChoosePromotion(const ClusterView& view, const std::string& store,
                                const CoordinatorConfig& config, bool force,
                                const v1::SlotRef* wanted);

struct PlacementResult {
  std::string store;
  v1::SlotRef target;
  v1::SlotRef source;
};
struct PlacementOutcome {
  std::vector<PlacementResult> placed;
  std::map<std::string, std::string> refused;  // store -> why some copies found no place
};

// New replicas for the listed stores, each short of required copies
// (placement.h: other hosts, healthy, room enough, spread many-to-many).
absl::StatusOr<PlacementOutcome> PlaceReplicas(const ClusterView& view,
                                               const std::vector<std::string>& stores,
                                               const CoordinatorConfig& config);
// Replicas for a new store mastered on `master`.
absl::StatusOr<PlacementOutcome> PlaceNewStore(const ClusterView& view, const std::string& store,
                                               const v1::SlotRef& master, uint32_t copies,
                                               uint64_t store_bytes,
                                               const CoordinatorConfig& config);

// Priority of a task of `store` (scheduler.h): higher when fewer usable copies remain.
int TaskPriority(const StoreRecord& store);

// Queued tasks to start now, in order, within the per-host (incoming,
// outgoing) and global limits; only tasks whose target host is up.
std::vector<std::string> TasksToStart(const ClusterModel& model, const CoordinatorConfig& config,
                                      int64_t now_ms);

// Guardrails (guardrails.h).
struct RateDecision {
  bool allowed = true;
  std::string reason;
};
RateDecision FailoverRateAllows(const AutomationRecord& automation, const std::string& store,
                                int64_t now_ms, const CoordinatorConfig& config);
// Mass-failure brake: true when too many hosts went silent at once.
bool MassFailure(const ClusterView& view, int64_t now_ms, const CoordinatorConfig& config,
                 std::string* why);

}  // namespace slotkeeper::slotmgr

#endif  // SLOTKEEPER_SLOTMGR_VIEW_BUILDER_H_
