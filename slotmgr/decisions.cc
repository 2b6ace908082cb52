#include "slotmgr/decisions.h"

#include <algorithm>
#include <set>
#include <tuple>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "slotmgr/model.h"

namespace slotkeeper::slotmgr {

const HostRecord* FindHost(const ClusterModel& model, const std::string& host) {
  auto it = model.hosts.find(host);
  return it == model.hosts.end() ? nullptr : &it->second;
}

const v1::SlotInfo* FindSlot(const ClusterModel& model, const v1::SlotRef& ref) {
  const HostRecord* h = FindHost(model, ref.host());
  if (h == nullptr) return nullptr;
  for (const v1::SlotInfo& s : h->info().slots()) {
    if (s.ref().slot() == ref.slot()) return &s;
  }
  return nullptr;
}

v1::SlotInfo* FindSlot(ClusterModel* model, const v1::SlotRef& ref) {
  return const_cast<v1::SlotInfo*>(FindSlot(*static_cast<const ClusterModel*>(model), ref));
}

namespace {

int MastersOnHost(const ClusterModel& model, const std::string& host) {
  const HostRecord* h = FindHost(model, host);
  if (h == nullptr) return 0;
  int n = 0;
  for (const v1::SlotInfo& s : h->info().slots()) n += s.role() == v1::SLOT_MASTER;
  return n;
}

// Why `copy` cannot be promoted ("" when it can). `behind` is reported apart
// because force overrides it.
std::string PromotionRefusal(const ClusterModel& model, const v1::Copy& copy,
                             const CoordinatorConfig& config, bool* behind) {
  *behind = false;
  if (copy.role() != v1::SLOT_REPLICA) {
    return absl::StrCat(SlotName(copy.slot()), " is ", Name(copy.role()), ", not a replica");
  }
  const HostRecord* h = FindHost(model, copy.slot().host());
  if (h == nullptr) return absl::StrCat("host ", copy.slot().host(), " unknown");
  if (h->info().state() != v1::HOST_UP) {
    return absl::StrCat("host ", h->info().name(), " is ", Name(h->info().state()));
  }
  if (h->info().clock_skewed()) {
    return absl::StrCat("host ", h->info().name(), " clock skewed by ", h->info().clock_offset_ms(),
                        " ms");
  }
  if (h->info().draining()) return absl::StrCat("host ", h->info().name(), " is draining");
  if (!copy.usable()) return absl::StrCat(SlotName(copy.slot()), ": ", copy.unusable_reason());
  if (!copy.in_sync() && copy.lag_ms() > config.max_failover_lag_ms) {
    *behind = true;
    return absl::StrCat(SlotName(copy.slot()), " is behind by ", copy.lag_ms(), " ms");
  }
  return "";
}

}  // namespace

PromotionChoice ChoosePromotion(const ClusterModel& model, const StoreRecord& store,
                                const CoordinatorConfig& config, bool force,
                                const v1::SlotRef* wanted) {
  PromotionChoice out;
  if (wanted != nullptr) {
    for (const v1::Copy& c : store.info().copies()) {
      if (!SameSlot(c.slot(), *wanted)) continue;
      bool behind = false;
      std::string why = PromotionRefusal(model, c, config, &behind);
      // Force overrides "behind" and an unhealthy target, never a non-replica.
      if (why.empty() || (force && c.role() == v1::SLOT_REPLICA)) {
        out.target = c.slot();
      } else {
        out.refused = why;
      }
      return out;
    }
    out.refused = absl::StrCat(SlotName(*wanted), " holds no copy of ", store.info().name());
    return out;
  }
  using Key = std::tuple<int, int64_t, int, std::string>;
  std::optional<Key> best;
  std::vector<std::string> refusals;
  for (const v1::Copy& c : store.info().copies()) {
    if (c.role() == v1::SLOT_MASTER) continue;
    bool behind = false;
    std::string why = PromotionRefusal(model, c, config, &behind);
    if (!why.empty() && !(force && behind)) {
      refusals.push_back(why);
      continue;
    }
    Key key{c.in_sync() ? 0 : 1, c.in_sync() ? 0 : c.lag_ms(),
            MastersOnHost(model, c.slot().host()), SlotName(c.slot())};
    if (!best || key < *best) {
      best = key;
      out.target = c.slot();
    }
  }
  if (!out.target) {
    out.refused = refusals.empty() ? "no replica" : absl::StrJoin(refusals, "; ");
  }
  return out;
}

std::vector<PlacementResult> PlaceReplicas(const ClusterModel& model,
                                           const std::vector<PlacementRequest>& requests,
                                           const CoordinatorConfig& config) {
  std::map<std::string, int> incoming, outgoing;  // planned per host
  std::set<std::string> taken;                    // slots chosen in this plan
  for (const auto& [id, t] : model.tasks) {
    if (IsTaskFinished(t.info().state())) continue;
    ++incoming[t.info().target().host()];
    ++outgoing[t.info().source().host()];
  }
  std::vector<PlacementResult> out;
  for (const PlacementRequest& req : requests) {
    PlacementResult r;
    r.store = req.store;
    r.replaces = req.replaces;
    auto sit = model.stores.find(req.store);
    if (sit == model.stores.end()) {
      r.refused = "unknown store";
      out.push_back(r);
      continue;
    }
    const v1::StoreInfo& store = sit->second.info();
    std::set<std::string> holders;
    for (const v1::Copy& c : store.copies()) holders.insert(c.slot().host());
    const uint64_t need =
        static_cast<uint64_t>(store.used_bytes() * (1 + config.placement_headroom));
    using Key = std::tuple<int, size_t, std::string>;
    std::optional<Key> best;
    for (const auto& [name, h] : model.hosts) {
      const v1::HostInfo& hi = h.info();
      if (holders.count(name) || hi.state() != v1::HOST_UP || hi.draining() || hi.clock_skewed()) {
        continue;
      }
      for (const v1::SlotInfo& s : hi.slots()) {
        if (s.role() != v1::SLOT_SPARE || !s.usable() || s.capacity_bytes() < need ||
            taken.count(SlotName(s.ref()))) {
          continue;
        }
        Key key{incoming[name], holders.size(), SlotName(s.ref())};
        // Prefer the least loaded host (spread), then the fewest stores on it.
        int copies_on_host = 0;
        for (const v1::SlotInfo& o : hi.slots()) copies_on_host += !o.store().empty();
        std::get<1>(key) = static_cast<size_t>(copies_on_host);
        if (!best || key < *best) {
          best = key;
          r.target = s.ref();
        }
      }
    }
    // Source: any usable in-sync copy on a live host, least loaded first.
    std::optional<std::pair<int, std::string>> best_source;
    for (const v1::Copy& c : store.copies()) {
      if (!c.usable() ||
          (c.role() != v1::SLOT_MASTER && !(c.role() == v1::SLOT_REPLICA && c.in_sync()))) {
        continue;
      }
      const HostRecord* h = FindHost(model, c.slot().host());
      if (h == nullptr || h->info().state() != v1::HOST_UP) continue;
      std::pair<int, std::string> key{outgoing[c.slot().host()], SlotName(c.slot())};
      if (!best_source || key < *best_source) {
        best_source = key;
        r.source = c.slot();
      }
    }
    if (!best) {
      r.refused = "no spare slot fits (other host, healthy, not draining, room enough)";
    } else if (!best_source) {
      r.refused = "no usable in-sync copy to copy from";
    } else {
      taken.insert(SlotName(r.target));
      ++incoming[r.target.host()];
      ++outgoing[r.source.host()];
    }
    out.push_back(r);
  }
  return out;
}

int TaskPriority(const ClusterModel& model, const StoreRecord& store) {
  (void)model;
  int healthy = 0;
  for (const v1::Copy& c : store.info().copies()) {
    healthy += c.usable() && (c.role() == v1::SLOT_MASTER || c.role() == v1::SLOT_REPLICA);
  }
  return std::max(0, 1000 - 100 * healthy);
}

std::vector<std::string> TasksToStart(const ClusterModel& model, const CoordinatorConfig& config) {
  std::map<std::string, int> incoming, outgoing;
  int running = 0;
  std::vector<const StoredTask*> queued;
  for (const auto& [id, t] : model.tasks) {
    if (t.info().state() == v1::TASK_RUNNING) {
      ++running;
      ++incoming[t.info().target().host()];
      ++outgoing[t.info().source().host()];
    } else if (t.info().state() == v1::TASK_QUEUED) {
      queued.push_back(&t);
    }
  }
  std::sort(queued.begin(), queued.end(), [](const StoredTask* a, const StoredTask* b) {
    return std::make_tuple(-a->info().priority(), a->info().created_ms(), a->info().id()) <
           std::make_tuple(-b->info().priority(), b->info().created_ms(), b->info().id());
  });
  std::vector<std::string> out;
  for (const StoredTask* t : queued) {
    if (running >= config.max_tasks_global) break;
    const std::string& in = t->info().target().host();
    const std::string& src = t->info().source().host();
    if (incoming[in] >= config.max_incoming_per_host) continue;
    if (outgoing[src] >= config.max_outgoing_per_host) continue;
    const HostRecord* th = FindHost(model, in);
    if (th == nullptr || th->info().state() != v1::HOST_UP) continue;
    ++incoming[in];
    ++outgoing[src];
    ++running;
    out.push_back(t->info().id());
  }
  return out;
}

bool FailoverRateAllows(const AutomationRecord& automation, int64_t now_ms,
                        const CoordinatorConfig& config) {
  int recent = 0;
  for (int64_t t : automation.failover_times_ms()) {
    recent += now_ms - t < config.failover_rate_window_ms;
  }
  return recent < config.failover_rate_limit;
}

bool MassFailure(const ClusterModel& model, const CoordinatorConfig& config, std::string* why) {
  if (model.hosts.empty()) return false;
  int silent = 0;
  for (const auto& [name, h] : model.hosts) silent += h.info().state() != v1::HOST_UP;
  const double fraction = static_cast<double>(silent) / model.hosts.size();
  if (silent >= config.mass_failure_min_hosts && fraction > config.max_down_fraction) {
    *why = absl::StrCat(silent, " of ", model.hosts.size(),
                        " hosts are silent (more than the max_down_fraction of ",
                        config.max_down_fraction, "): the coordinator may be the one cut off");
    return true;
  }
  return false;
}

}  // namespace slotkeeper::slotmgr
