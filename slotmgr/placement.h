// Placement: where new replicas go, and which copy feeds each of them.
//
// Pure, deterministic functions of a finalized ClusterView (the same view
// gives the same plan). The caller persists the plan (slots become SEEDING,
// tasks are queued) and the scheduler runs it.
//
// A target is a SPARE slot that is usable, on a host that is UP, not
// draining and not clock-skewed (a replica there could never be promoted),
// on a usable filesystem and an ONLINE unit, on a host that holds no copy of
// the store (LOST copies included), with room for the store's bytes plus
// headroom both in the slot (capacity - used) and on its filesystem (free
// bytes, less what this plan already put there).
//
// A source is a usable, in-sync MASTER or REPLICA copy on an UP host.
//
// Spread: placement is greedy, most endangered store first, with per-host
// load counters (tasks in flight in the view count too). Each target is the
// eligible spare slot on the host with the fewest incoming copies planned
// (then fewest copies of any store, then most free room, then name); each
// source is the eligible copy on the host with the fewest outgoing copies
// (replicas before the master, whose disk serves the mail, then name). So a
// lost host's stores are rebuilt many-to-many, not one-to-one.
//
// Thread-safety: pure functions; safe to call concurrently on one const view.
#ifndef SLOTKEEPER_SLOTMGR_PLACEMENT_H_
#define SLOTKEEPER_SLOTMGR_PLACEMENT_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "slotmgr/cluster_view.h"

namespace slotkeeper::slotmgr {

// The coordinator derives these from CoordinatorConfig (config.h); the
// defaults here are the same as the config's.
struct PlacementOptions {
  // Room required beyond the store's bytes, as a fraction of them: mail
  // keeps arriving while the copy runs, and a full filesystem fails all
  // its slots. 0.2 = 20%.
  double headroom_fraction = 0.2;
  // Hosts whose |clock offset| exceeds this (or flagged clock_skewed) take
  // no new replicas; same default as PromotionOptions.
  int64_t max_clock_skew_ms = 5'000;
};

// One new replica: copy `store` from `source` to the spare slot `target`.
struct ReplicaPlacement {
  std::string store;
  SlotId source;  // empty for a new store's replica when seeded from master
  SlotId target;
};

struct UnplacedCopy {
  std::string store;
  int missing = 0;     // copies that could not be placed
  std::string reason;  // e.g. "no eligible spare slot (3 hosts hold a copy, ...)"
};

struct PlacementPlan {
  std::vector<ReplicaPlacement> placements;
  std::vector<UnplacedCopy> unplaced;
};

// Plans new replicas for the listed stores (e.g. those short of copies
// after a unit was lost): for each whose present copies (all roles but LOST;
// SEEDING counts, it is already being replaced) are fewer than
// required_copies. Stores are served in order of risk: fewest healthy
// copies, then most missing, then name. A store with no usable in-sync
// source is reported unplaced. NOT_FOUND for an unknown store;
// FAILED_PRECONDITION if the view is not finalized.
absl::StatusOr<PlacementPlan> PlanReReplicationFor(const ClusterView& view,
                                                   const std::vector<std::string>& stores,
                                                   const PlacementOptions& options);

// For `store create --copies N`: places N-1 replicas for a new store whose
// master is `master` (a SPARE or the store's own slot) and whose data is
// `store_bytes`. Every placement's source is `master`. The store need not be
// in the view. INVALID_ARGUMENT for copies < 1 or an empty name; NOT_FOUND
// for an unknown master slot; FAILED_PRECONDITION if the master slot holds
// another store. If fewer than N-1 replicas fit, the plan says so in
// `unplaced` (the caller decides whether to refuse).
absl::StatusOr<PlacementPlan> PlanNewStore(const ClusterView& view, absl::string_view store,
                                           const SlotId& master, uint32_t copies,
                                           uint64_t store_bytes, const PlacementOptions& options);

}  // namespace slotkeeper::slotmgr

#endif  // SLOTKEEPER_SLOTMGR_PLACEMENT_H_
