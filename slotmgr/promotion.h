// Promotion: which replica becomes a store's master.
//
// Pure functions of a finalized ClusterView. They decide only; the caller
// (the coordinator's failover logic) checks the failover grace and the old
// master's lease, persists the decision and commands the agents.
//
// A candidate must be a REPLICA copy of the store that is usable, on a host
// that is UP, not draining, and whose clock offset is within max_clock_skew
// (and not flagged clock_skewed), with lag <= max_lag_ms when a limit is set.
// Among candidates: in sync first, then lowest lag, then fewest masters on
// its host, then slot name (so the choice is deterministic).
//
// Every rejected copy gets one reason line, "HOST/SLOT: why", which slotctl
// prints as is, e.g. "imap2/s03: clock offset -6h exceeds 5s".
//
// Thread-safety: pure functions; safe to call concurrently on one const view.
#ifndef SLOTKEEPER_SLOTMGR_PROMOTION_H_
#define SLOTKEEPER_SLOTMGR_PROMOTION_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "slotmgr/cluster_view.h"

namespace slotkeeper::slotmgr {

struct PromotionOptions {
  // A host whose |clock offset| exceeds this is never promoted: mail
  // delivered there would get wrong received times (a real outage began with
  // a clock set back 6 hours).
  int64_t max_clock_skew_ms = 5'000;
  // Replicas lagging more than this are not promoted automatically. Negative:
  // no limit (default). For mail, a lagging replica's missing changes are
  // still on the old master's disk and can be synced later, while a store
  // with no master takes no mail at all; so by default we prefer the least
  // lagging replica rather than refuse. Set a limit to trade availability
  // for fewer late messages (like Patroni's maximum_lag_on_failover).
  int64_t max_lag_ms = -1;
};

struct CandidateRejection {
  SlotId slot;
  std::string reason;  // "HOST/SLOT: why"
  // True when an operator's force may override it (behind, host suspect,
  // draining); false for what force cannot fix (not a replica, unusable
  // slot, host down, skewed clock).
  bool overridable = false;
};

struct PromotionDecision {
  std::string store;
  bool promote = false;
  SlotId from;    // the current master, empty if the store has none
  SlotId target;  // set when promote
  // Copies that were rejected, in slot order (the chosen one never appears).
  std::vector<CandidateRejection> rejections;
  // Refusals that force overrode for an explicit target (for the event).
  std::vector<std::string> overridden;
  // One line for events and slotctl: the choice and why, or the refusal.
  std::string summary;
};

// Chooses the best replica of `store` to promote. The current master (if
// any) is never a candidate; the function does not require it to be
// unusable, so it serves planned switchovers as well. NOT_FOUND for an
// unknown store; FAILED_PRECONDITION if the view is not finalized. A refusal
// (no candidate) is a decision with promote == false, not an error.
absl::StatusOr<PromotionDecision> ChoosePromotion(const ClusterView& view, absl::string_view store,
                                                  const PromotionOptions& options);

// For operator failover `--to`: checks that `target` may become the master
// of `store`. Refuses a behind (lag over the limit, or not in sync) or
// unhealthy (host suspect, draining) target unless `force`; never promotes a
// copy that is not a usable REPLICA, on a DOWN host, or on a clock-skewed
// host, whatever `force` says. NOT_FOUND for an unknown store or slot;
// INVALID_ARGUMENT if `target` holds no copy of the store.
absl::StatusOr<PromotionDecision> CheckPromotionTarget(const ClusterView& view,
                                                       absl::string_view store,
                                                       const SlotId& target, bool force,
                                                       const PromotionOptions& options);

}  // namespace slotkeeper::slotmgr

#endif  // SLOTKEEPER_SLOTMGR_PROMOTION_H_
