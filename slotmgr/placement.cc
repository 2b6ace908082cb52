#include "slotmgr/placement.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <tuple>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"

namespace slotkeeper::slotmgr {
namespace {

// Greedy placement state over one view: load counters and what this plan
// has already consumed. Lives for one planning call.
class Planner {
 public:
  Planner(const ClusterView& view, const PlacementOptions& options)
      : view_(view),
        options_(options),
        incoming_(view.hosts.size(), 0),
        outgoing_(view.hosts.size(), 0),
        copies_(view.hosts.size(), 0),
        host_ok_(view.hosts.size(), false),
        spares_(view.hosts.size()),
        slot_taken_(view.slots.size(), false),
        fs_free_(view.filesystems.size(), 0) {
    for (size_t h = 0; h < view.hosts.size(); ++h) {
      const HostView& host = view.hosts[h];
      host_ok_[h] = host.state == v1::HOST_UP && !host.draining && !host.clock_skewed &&
                    std::llabs(host.clock_offset_ms) <= options.max_clock_skew_ms;
    }
    for (size_t f = 0; f < view.filesystems.size(); ++f) {
      fs_free_[f] = view.filesystems[f].free_bytes;
    }
    fs_index_.resize(view.slots.size(), -1);
    for (size_t s = 0; s < view.slots.size(); ++s) {
      const SlotView& slot = view.slots[s];
      int h = view.HostIndex(slot.host);
      if (slot.role != v1::SLOT_SPARE) {
        if (slot.role != v1::SLOT_LOST && !slot.store.empty()) ++copies_[h];
        continue;
      }
      if (!slot.store.empty() || !slot.usable) continue;
      std::string unit_name = slot.unit;
      if (!slot.filesystem.empty()) {
        const FilesystemView* fs = view.FindFilesystem(slot.host, slot.filesystem);
        if (fs == nullptr || !fs->usable) continue;
        fs_index_[s] = static_cast<int>(fs - view.filesystems.data());
        if (unit_name.empty()) unit_name = fs->unit;  // the slot's unit is its filesystem's
      }
      if (!unit_name.empty()) {
        const UnitView* unit = view.FindUnit(slot.host, unit_name);
        if (unit == nullptr || unit->state != v1::UNIT_ONLINE) continue;
      }
      spares_[h].push_back(static_cast<int>(s));
    }
    for (const TaskView& t : view.tasks) {
      int src = view.HostIndex(t.source.host);
      int dst = view.HostIndex(t.target.host);
      if (src >= 0) ++outgoing_[src];
      if (dst >= 0) ++incoming_[dst];
    }
  }

  // Places `missing` new copies of `store` (which may be absent from the
  // view for a new store: `bytes`, `excluded_hosts` and `fixed_source` then
  // describe it).
  void Place(const std::string& store, uint64_t bytes, int missing,
             absl::flat_hash_set<int> excluded_hosts, const std::vector<CopyView>& copies,
             const SlotId* fixed_source, PlacementPlan* plan) {
    const uint64_t need = Need(bytes);
    for (int placed = 0; placed < missing; ++placed) {
      SlotId source;
      int source_host = -1;
      if (fixed_source != nullptr) {
        source = *fixed_source;
        source_host = view_.HostIndex(source.host);
      } else if (!ChooseSource(copies, &source, &source_host)) {
        plan->unplaced.push_back({store, missing - placed, "no usable in-sync copy to copy from"});
        return;
      }
      int target = ChooseTarget(excluded_hosts, need);
      if (target < 0) {
        plan->unplaced.push_back({store, missing - placed, NoTargetReason(excluded_hosts, need)});
        return;
      }
      const SlotView& slot = view_.slots[target];
      int h = view_.HostIndex(slot.host);
      slot_taken_[target] = true;
      // The copy consumes its bytes; the headroom is only required room.
      if (fs_index_[target] >= 0) fs_free_[fs_index_[target]] -= bytes;
      ++incoming_[h];
      ++copies_[h];
      if (source_host >= 0) ++outgoing_[source_host];
      excluded_hosts.insert(h);
      plan->placements.push_back({store, std::move(source), slot.id()});
      if (fixed_source == nullptr) {
        alternatives_.push_back({plan->placements.size() - 1, &copies});
      }
    }
  }

  // The greedy pass chooses each source with only the placements so far in
  // view; this pass moves a placement to another source copy while that
  // lowers the busiest of the two hosts (each move strictly lowers the sum
  // of squared loads, so it ends), so sources spread as well as targets.
  void BalanceSources(PlacementPlan* plan) {
    for (bool moved = true; moved;) {
      moved = false;
      for (const Alternative& alt : alternatives_) {
        ReplicaPlacement& p = plan->placements[alt.placement];
        int current = view_.HostIndex(p.source.host);
        for (const CopyView& c : *alt.copies) {
          if (c.slot == p.source || !IsSource(c)) continue;
          int h = view_.HostIndex(c.slot.host);
          if (h == view_.HostIndex(p.target.host)) continue;
          if (outgoing_[h] + 1 < outgoing_[current]) {
            --outgoing_[current];
            ++outgoing_[h];
            p.source = c.slot;
            current = h;
            moved = true;
          }
        }
      }
    }
  }

 private:
  uint64_t Need(uint64_t bytes) const {
    double headroom = std::max(0.0, options_.headroom_fraction);
    return bytes + static_cast<uint64_t>(std::ceil(static_cast<double>(bytes) * headroom));
  }

  bool Fits(int s, uint64_t need) const {
    const SlotView& slot = view_.slots[s];
    if (slot_taken_[s]) return false;
    uint64_t room =
        slot.capacity_bytes > slot.used_bytes ? slot.capacity_bytes - slot.used_bytes : 0;
    if (room < need) return false;
    return fs_index_[s] < 0 || fs_free_[fs_index_[s]] >= need;
  }

  uint64_t Room(int s) const { return view_.slots[s].capacity_bytes - view_.slots[s].used_bytes; }

  // The spare slot to fill, or -1.
  int ChooseTarget(const absl::flat_hash_set<int>& excluded_hosts, uint64_t need) const {
    int best = -1;
    int best_host = -1;
    for (int h = 0; h < static_cast<int>(view_.hosts.size()); ++h) {
      if (!host_ok_[h] || excluded_hosts.contains(h)) continue;
      // The roomiest fitting slot on this host.
      int slot = -1;
      for (int s : spares_[h]) {
        if (!Fits(s, need)) continue;
        if (slot < 0 || Room(s) > Room(slot) ||
            (Room(s) == Room(slot) && view_.slots[s].name < view_.slots[slot].name)) {
          slot = s;
        }
      }
      if (slot < 0) continue;
      if (best < 0 || Better(h, slot, best_host, best)) {
        best = slot;
        best_host = h;
      }
    }
    return best;
  }

  bool Better(int h, int s, int bh, int bs) const {
    auto key = [&](int host, int slot) {
      // Room is negated so that more room sorts first.
      return std::make_tuple(incoming_[host], copies_[host], -static_cast<double>(Room(slot)),
                             view_.hosts[host].name);
    };
    return key(h, s) < key(bh, bs);
  }

  bool IsSource(const CopyView& c) const {
    if ((c.role != v1::SLOT_MASTER && c.role != v1::SLOT_REPLICA) || !c.usable || !c.in_sync) {
      return false;
    }
    int h = view_.HostIndex(c.slot.host);
    if (h < 0 || view_.hosts[h].state != v1::HOST_UP) return false;
    const SlotView* slot = view_.FindSlot(c.slot);
    return slot == nullptr || slot->usable;
  }

  bool ChooseSource(const std::vector<CopyView>& copies, SlotId* source, int* source_host) const {
    const CopyView* best = nullptr;
    int best_host = -1;
    for (const CopyView& c : copies) {
      if (!IsSource(c)) continue;
      int h = view_.HostIndex(c.slot.host);
      auto key = [&](const CopyView& copy, int host) {
        return std::make_tuple(outgoing_[host], copy.role == v1::SLOT_MASTER, copy.slot);
      };
      if (best == nullptr || key(c, h) < key(*best, best_host)) {
        best = &c;
        best_host = h;
      }
    }
    if (best == nullptr) return false;
    *source = best->slot;
    *source_host = best_host;
    return true;
  }

  std::string NoTargetReason(const absl::flat_hash_set<int>& excluded_hosts, uint64_t need) const {
    int unhealthy = 0;
    int no_room = 0;
    for (int h = 0; h < static_cast<int>(view_.hosts.size()); ++h) {
      if (excluded_hosts.contains(h)) continue;
      if (!host_ok_[h]) {
        ++unhealthy;
      } else {
        ++no_room;
      }
    }
    return absl::StrCat("no eligible spare slot with ", need,
                        " bytes of room: ", excluded_hosts.size(), " host(s) hold a copy, ",
                        unhealthy, " host(s) down, suspect, draining or clock-skewed, ", no_room,
                        " host(s) without a fitting usable spare slot");
  }

  struct Alternative {
    size_t placement;                     // index in the plan
    const std::vector<CopyView>* copies;  // the store's copies, from the view
  };

  const ClusterView& view_;
  const PlacementOptions& options_;
  std::vector<Alternative> alternatives_;
  std::vector<int> incoming_;             // per host: copies planned or in flight towards it
  std::vector<int> outgoing_;             // per host: copies planned or in flight from it
  std::vector<int> copies_;               // per host: slots holding a copy (not LOST)
  std::vector<bool> host_ok_;             // per host: may take new replicas
  std::vector<std::vector<int>> spares_;  // per host: candidate spare slots
  std::vector<bool> slot_taken_;          // per slot: used by this plan
  std::vector<int> fs_index_;             // per slot: its filesystem, or -1
  std::vector<uint64_t> fs_free_;         // per filesystem: free bytes left
};

absl::flat_hash_set<int> HostsWithCopies(const ClusterView& view, const StoreView& store) {
  absl::flat_hash_set<int> hosts;
  for (const CopyView& c : store.copies) {
    int h = view.HostIndex(c.slot.host);
    if (h >= 0) hosts.insert(h);
  }
  return hosts;
}

PlacementPlan PlanStores(const ClusterView& view, std::vector<const StoreView*> stores,
                         const PlacementOptions& options) {
  // Most endangered first: fewest healthy copies, then most missing, then name.
  std::vector<std::tuple<int, int, const StoreView*>> order;
  for (const StoreView* st : stores) {
    int missing = static_cast<int>(st->required_copies) - st->PresentCopies();
    if (missing > 0) order.emplace_back(st->HealthyCopies(), -missing, st);
  }
  std::sort(order.begin(), order.end(), [](const auto& a, const auto& b) {
    if (std::get<0>(a) != std::get<0>(b)) return std::get<0>(a) < std::get<0>(b);
    if (std::get<1>(a) != std::get<1>(b)) return std::get<1>(a) < std::get<1>(b);
    return std::get<2>(a)->name < std::get<2>(b)->name;
  });
  Planner planner(view, options);
  PlacementPlan plan;
  for (const auto& [healthy, neg_missing, st] : order) {
    planner.Place(st->name, st->used_bytes, -neg_missing, HostsWithCopies(view, *st), st->copies,
                  /*fixed_source=*/nullptr, &plan);
  }
  planner.BalanceSources(&plan);
  return plan;
}

}  // namespace

absl::StatusOr<PlacementPlan> PlanReReplicationFor(const ClusterView& view,
                                                   const std::vector<std::string>& stores,
                                                   const PlacementOptions& options) {
  if (!view.finalized()) return absl::FailedPreconditionError("cluster view not finalized");
  std::vector<const StoreView*> selected;
  absl::flat_hash_set<const StoreView*> seen;
  for (const std::string& name : stores) {
    const StoreView* st = view.FindStore(name);
    if (st == nullptr) return absl::NotFoundError(absl::StrCat("unknown store '", name, "'"));
    if (seen.insert(st).second) selected.push_back(st);
  }
  return PlanStores(view, std::move(selected), options);
}

absl::StatusOr<PlacementPlan> PlanNewStore(const ClusterView& view, absl::string_view store,
                                           const SlotId& master, uint32_t copies,
                                           uint64_t store_bytes, const PlacementOptions& options) {
  if (!view.finalized()) return absl::FailedPreconditionError("cluster view not finalized");
  if (store.empty()) return absl::InvalidArgumentError("store name is empty");
  if (copies < 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("copies must be at least 1 (the master), got ", copies));
  }
  const SlotView* slot = view.FindSlot(master);
  if (slot == nullptr) {
    return absl::NotFoundError(absl::StrCat("unknown master slot '", master.ToString(), "'"));
  }
  if (!slot->store.empty() && slot->store != store) {
    return absl::FailedPreconditionError(absl::StrCat("master slot ", master.ToString(),
                                                      " already holds store '", slot->store, "'"));
  }
  if (view.FindStore(store) != nullptr) {
    return absl::FailedPreconditionError(absl::StrCat("store '", store, "' already exists"));
  }
  Planner planner(view, options);
  PlacementPlan plan;
  absl::flat_hash_set<int> excluded = {view.HostIndex(master.host)};
  planner.Place(std::string(store), store_bytes, static_cast<int>(copies) - 1, std::move(excluded),
                /*copies=*/{}, &master, &plan);
  return plan;
}

}  // namespace slotkeeper::slotmgr
