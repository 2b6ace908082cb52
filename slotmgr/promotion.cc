#include "slotmgr/promotion.h"

#include <algorithm>
#include <cstdlib>
#include <tuple>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace slotkeeper::slotmgr {
namespace {

// Number of MASTER slots per host, indexed like view.hosts.
std::vector<int> CountMasters(const ClusterView& view) {
  std::vector<int> masters(view.hosts.size(), 0);
  for (const StoreView& store : view.stores) {
    for (const CopyView& c : store.copies) {
      if (c.role != v1::SLOT_MASTER) continue;
      int h = view.HostIndex(c.slot.host);
      if (h >= 0) ++masters[h];
    }
  }
  return masters;
}

struct Verdict {
  bool eligible = true;
  bool overridable = true;
  std::vector<std::string> reasons;

  void Hard(std::string why) {
    eligible = false;
    overridable = false;
    reasons.push_back(std::move(why));
  }
  void Soft(std::string why) {
    eligible = false;
    reasons.push_back(std::move(why));
  }
};

// Judges one copy as a promotion target. `explicit_target` makes "not in
// sync" and a changed slot identity (soft) refusals; automatically, an
// out-of-sync replica is merely ranked after the in-sync ones, and one
// whose content is unknown after every other.
Verdict Judge(const ClusterView& view, const CopyView& copy, const PromotionOptions& options,
              bool explicit_target) {
  Verdict v;
  switch (copy.role) {
    case v1::SLOT_REPLICA:
      break;
    case v1::SLOT_SEEDING:
      v.Hard("still seeding (not a complete replica)");
      break;
    case v1::SLOT_LOST:
      v.Hard("copy is lost");
      break;
    default:
      v.Hard(absl::StrCat("role ", v1::SlotRole_Name(copy.role), " is not a replica"));
  }
  const HostView* host = view.FindHost(copy.slot.host);
  if (host == nullptr) {
    v.Hard("host unknown");
    return v;
  }
  if (host->state == v1::HOST_DOWN) {
    v.Hard("host is down");
  } else if (host->state == v1::HOST_SUSPECT) {
    v.Soft("host is suspect (silent)");
  } else if (host->state != v1::HOST_UP) {
    v.Hard(absl::StrCat("host state is ", v1::HostState_Name(host->state)));
  }
  const SlotView* slot = view.FindSlot(copy.slot);
  if (!copy.usable || (slot != nullptr && !slot->usable)) v.Hard("slot is unusable");
  if (std::llabs(host->clock_offset_ms) > options.max_clock_skew_ms) {
    v.Hard(absl::StrCat("clock offset ", FormatMs(host->clock_offset_ms), " exceeds ",
                        FormatMs(options.max_clock_skew_ms)));
  } else if (host->clock_skewed) {
    v.Hard("host clock flagged as skewed");
  }
  if (host->draining) v.Soft("host is draining");
  if (options.max_lag_ms >= 0 && copy.lag_ms > options.max_lag_ms) {
    v.Soft(absl::StrCat("lag ", FormatMs(copy.lag_ms), " exceeds ", FormatMs(options.max_lag_ms)));
  } else if (explicit_target && copy.identity_changed) {
    v.Soft("its slot's identity changed (emptied or replaced): content unknown until verified");
  } else if (explicit_target && !copy.in_sync) {
    v.Soft(absl::StrCat("not in sync (lag ", FormatMs(copy.lag_ms), ")"));
  }
  return v;
}

std::string RejectionLine(const SlotId& slot, const Verdict& v) {
  return absl::StrCat(slot.ToString(), ": ", absl::StrJoin(v.reasons, "; "));
}

// The body of ChoosePromotion; `masters` counts MASTER copies per host.
PromotionDecision Choose(const ClusterView& view, const StoreView& store,
                         const std::vector<int>& masters, const PromotionOptions& options) {
  PromotionDecision d;
  d.store = store.name;
  if (const CopyView* m = store.master()) d.from = m->slot;

  const CopyView* best = nullptr;
  auto rank = [&](const CopyView& c) {
    int h = view.HostIndex(c.slot.host);
    // A copy whose content is unknown comes after every other, however
    // small its lag: the lag counts from its last catch-up, not from the
    // content that is there now.
    return std::make_tuple(c.identity_changed, !c.in_sync, c.lag_ms, h < 0 ? 0 : masters[h],
                           c.slot);
  };
  std::vector<const CopyView*> sorted;
  for (const CopyView& c : store.copies) {
    if (c.role != v1::SLOT_MASTER) sorted.push_back(&c);
  }
  std::sort(sorted.begin(), sorted.end(),
            [](const CopyView* a, const CopyView* b) { return a->slot < b->slot; });
  for (const CopyView* c : sorted) {
    Verdict v = Judge(view, *c, options, /*explicit_target=*/false);
    if (!v.eligible) {
      d.rejections.push_back({c->slot, RejectionLine(c->slot, v), v.overridable});
      continue;
    }
    if (best == nullptr || rank(*c) < rank(*best)) best = c;
  }
  if (best != nullptr) {
    d.promote = true;
    d.target = best->slot;
    d.summary = absl::StrCat("promote ", best->slot.ToString(), " for ", store.name,
                             best->identity_changed ? " (content unknown: identity changed"
                             : best->in_sync        ? " (in sync"
                                                    : " (NOT in sync",
                             ", lag ", FormatMs(best->lag_ms), ")");
  } else {
    d.summary = absl::StrCat("no replica of ", store.name, " can be promoted");
    if (!d.rejections.empty()) {
      std::vector<std::string> lines;
      for (const CandidateRejection& r : d.rejections) lines.push_back(r.reason);
      absl::StrAppend(&d.summary, ": ", absl::StrJoin(lines, "; "));
    }
  }
  return d;
}

}  // namespace

absl::StatusOr<PromotionDecision> ChoosePromotion(const ClusterView& view, absl::string_view store,
                                                  const PromotionOptions& options) {
  if (!view.finalized()) return absl::FailedPreconditionError("cluster view not finalized");
  const StoreView* st = view.FindStore(store);
  if (st == nullptr) return absl::NotFoundError(absl::StrCat("unknown store '", store, "'"));
  return Choose(view, *st, CountMasters(view), options);
}

absl::StatusOr<PromotionDecision> CheckPromotionTarget(const ClusterView& view,
                                                       absl::string_view store,
                                                       const SlotId& target, bool force,
                                                       const PromotionOptions& options) {
  if (!view.finalized()) return absl::FailedPreconditionError("cluster view not finalized");
  const StoreView* st = view.FindStore(store);
  if (st == nullptr) return absl::NotFoundError(absl::StrCat("unknown store '", store, "'"));
  if (view.FindSlot(target) == nullptr) {
    return absl::NotFoundError(absl::StrCat("unknown slot '", target.ToString(), "'"));
  }
  const CopyView* copy = nullptr;
  for (const CopyView& c : st->copies) {
    if (c.slot == target) copy = &c;
  }
  if (copy == nullptr) {
    return absl::InvalidArgumentError(
        absl::StrCat("slot ", target.ToString(), " holds no copy of store ", store));
  }
  PromotionDecision d;
  d.store = st->name;
  if (const CopyView* m = st->master()) d.from = m->slot;
  if (copy->role == v1::SLOT_MASTER) {
    d.rejections.push_back(
        {target, absl::StrCat(target.ToString(), ": is already the master"), false});
    d.summary = d.rejections.back().reason;
    return d;
  }
  Verdict v = Judge(view, *copy, options, /*explicit_target=*/true);
  if (v.eligible || (force && v.overridable)) {
    d.promote = true;
    d.target = target;
    if (!v.eligible) d.overridden = v.reasons;
    d.summary = absl::StrCat("promote ", target.ToString(), " for ", st->name);
    if (!d.overridden.empty()) {
      absl::StrAppend(&d.summary, " (forced over: ", absl::StrJoin(d.overridden, "; "), ")");
    }
    return d;
  }
  d.rejections.push_back({target, RejectionLine(target, v), v.overridable});
  d.summary = absl::StrCat("refused ", d.rejections.back().reason,
                           v.overridable ? " (use force to override)" : "");
  return d;
}

}  // namespace slotkeeper::slotmgr
