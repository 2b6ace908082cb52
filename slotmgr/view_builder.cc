#include "slotmgr/view_builder.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "proto/model_util.h"
#include "slotmgr/guardrails.h"
#include "slotmgr/placement.h"
#include "slotmgr/promotion.h"
#include "slotmgr/scheduler.h"

namespace slotkeeper::slotmgr {

v1::SlotRef ToRef(const SlotId& id) {
  v1::SlotRef r;
  r.set_host(id.host);
  r.set_slot(id.slot);
  return r;
}

SlotId ToId(const v1::SlotRef& ref) { return SlotId{ref.host(), ref.slot()}; }

namespace {

PlacementOutcome ToOutcome(const PlacementPlan& plan) {
  PlacementOutcome out;
  for (const ReplicaPlacement& p : plan.placements) {
    out.placed.push_back({p.store, ToRef(p.target), ToRef(p.source)});
  }
  for (const UnplacedCopy& u : plan.unplaced) {
    out.refused[u.store] = absl::StrCat(u.missing, " copies unplaced: ", u.reason);
  }
  return out;
}

// The host `h` (named `name`) and its units, filesystems and slots.
void AddHost(ClusterView& view, const std::string& name, const v1::HostInfo& h,
             const std::map<std::string, int64_t>& last_heard_ms) {
  HostView hv;
  hv.name = name;
  hv.state = h.state();
  // A host where automation is paused takes no promotion and no new
  // replica, like a draining one.
  hv.draining = h.draining() || h.has_automation_pause();
  hv.clock_offset_ms = h.clock_offset_ms();
  hv.clock_skewed = h.clock_skewed();
  auto lh = last_heard_ms.find(name);
  hv.last_heard_ms = lh != last_heard_ms.end() ? lh->second : h.last_heard_ms();
  view.hosts.push_back(hv);
  std::map<std::string, std::string> unit_of_fs;
  // A draining unit, or one that flap damping suppresses, takes no new
  // replica.
  std::map<std::string, bool> unit_closed;
  for (const auto& u : h.units()) {
    view.units.push_back({name, u.name(), u.state(), u.failed_since_ms()});
    unit_closed[u.name()] = u.draining() || u.flap_suppressed();
  }
  for (const auto& f : h.filesystems()) {
    FilesystemView fv;
    fv.host = name;
    fv.mount_point = f.mount_point();
    fv.unit = f.unit();
    fv.usable = f.state() == v1::FS_OK || f.state() == v1::FILESYSTEM_STATE_UNSPECIFIED;
    // Unknown free space (no report yet) must not block placement.
    fv.free_bytes = f.total_bytes() == 0 ? UINT64_MAX / 4 : f.free_bytes();
    view.filesystems.push_back(fv);
    unit_of_fs[f.mount_point()] = f.unit();
  }
  for (const auto& s : h.slots()) {
    SlotView sv;
    sv.host = name;
    sv.name = s.ref().slot();
    sv.filesystem = s.filesystem();
    sv.unit = unit_of_fs[s.filesystem()];
    sv.capacity_bytes = s.capacity_bytes();
    sv.used_bytes = s.used_bytes();
    sv.role = s.role();
    // A spare holding un-adopted data counts as taken: never a target.
    sv.store = s.store().empty() ? s.unadopted_store() : s.store();
    sv.usable = s.usable() && !(s.role() == v1::SLOT_SPARE && unit_closed[sv.unit]);
    view.slots.push_back(sv);
  }
}

// The store `st` (named `name`) and its copies.
void AddStore(ClusterView& view, const std::string& name, const v1::StoreInfo& st) {
  StoreView sv;
  sv.name = name;
  sv.required_copies = std::max<uint32_t>(1, st.required_copies());
  sv.used_bytes = st.used_bytes();
  sv.master_epoch = st.master_epoch();
  for (const auto& c : st.copies()) {
    CopyView cv;
    cv.slot = ToId(c.slot());
    cv.role = c.role();
    cv.usable = c.usable();
    cv.in_sync = c.role() == v1::SLOT_MASTER || c.in_sync();
    cv.lag_ms = c.lag_ms();
    cv.identity_changed = c.role() != v1::SLOT_MASTER && c.identity_changed();
    sv.copies.push_back(cv);
  }
  view.stores.push_back(std::move(sv));
}

}  // namespace

absl::StatusOr<ClusterView> BuildView(const ClusterModel& model,
                                      const std::map<std::string, int64_t>& last_heard_ms) {
  ClusterView view;
  for (const auto& [name, rec] : model.hosts) AddHost(view, name, rec.info(), last_heard_ms);
  for (const auto& [name, rec] : model.stores) AddStore(view, name, rec.info());
  for (const auto& [id, t] : model.tasks) {
    if (model::IsTaskFinished(t.info().state())) continue;
    TaskView tv;
    tv.id = id;
    tv.store = t.info().store();
    tv.source = ToId(t.info().source());
    tv.target = ToId(t.info().target());
    tv.running = t.info().state() == v1::TASK_RUNNING;
    view.tasks.push_back(tv);
  }
  absl::Status st = view.Finalize();
  if (!st.ok()) return st;
  return view;
}

PromotionChoice ChoosePromotion(const ClusterView& view, const std::string& store,
                                const CoordinatorConfig& config, bool force,
                                const v1::SlotRef* wanted) {
  PromotionChoice out;
  absl::StatusOr<PromotionDecision> d =
      wanted != nullptr
          ? CheckPromotionTarget(view, store, ToId(*wanted), force, PromotionOptionsFrom(config))
          : slotmgr::ChoosePromotion(view, store, PromotionOptionsFrom(config));
  if (!d.ok()) {
    out.refused = std::string(d.status().message());
    return out;
  }
  if (d->promote) {
    out.target = ToRef(d->target);
  } else {
    out.refused = d->summary;
  }
  return out;
}

absl::StatusOr<PlacementOutcome> PlaceReplicas(const ClusterView& view,
                                               const std::vector<std::string>& stores,
                                               const CoordinatorConfig& config) {
  absl::StatusOr<PlacementPlan> plan =
      PlanReReplicationFor(view, stores, PlacementOptionsFrom(config));
  if (!plan.ok()) return plan.status();
  return ToOutcome(*plan);
}

absl::StatusOr<PlacementOutcome> PlaceNewStore(const ClusterView& view, const std::string& store,
                                               const v1::SlotRef& master, uint32_t copies,
                                               uint64_t store_bytes,
                                               const CoordinatorConfig& config) {
  absl::StatusOr<PlacementPlan> plan =
      PlanNewStore(view, store, ToId(master), copies, store_bytes, PlacementOptionsFrom(config));
  if (!plan.ok()) return plan.status();
  PlacementOutcome out = ToOutcome(*plan);
  for (auto& p : out.placed) p.source = master;
  return out;
}

int TaskPriority(const StoreRecord& store) {
  return slotmgr::TaskPriority(v1::TASK_RE_REPLICATE, model::CountUsableCopies(store.info()),
                               static_cast<int>(store.info().required_copies()));
}

std::vector<std::string> TasksToStart(const ClusterModel& model, const CoordinatorConfig& config,
                                      int64_t now_ms) {
  std::vector<TaskRecord> records;
  records.reserve(model.tasks.size());
  for (const auto& [id, t] : model.tasks) {
    const v1::TaskInfo& ti = t.info();
    if (ti.state() != v1::TASK_RUNNING && ti.state() != v1::TASK_QUEUED &&
        ti.state() != v1::TASK_BACKOFF) {
      continue;
    }
    if (ti.state() != v1::TASK_RUNNING) {
      // Only hand the scheduler tasks whose target host can take them now.
      const HostRecord* th = FindHost(model, ti.target().host());
      if (th == nullptr || th->info().state() != v1::HOST_UP) continue;
    }
    TaskRecord r;
    r.id = id;
    r.state = ti.state();
    r.source = ToId(ti.source());
    r.target = ToId(ti.target());
    r.priority = ti.priority();
    r.created_ms = ti.created_ms();
    r.next_attempt_ms = ti.next_attempt_ms();
    records.push_back(std::move(r));
  }
  std::vector<const TaskRecord*> ptrs;
  for (const auto& r : records) ptrs.push_back(&r);
  return SelectTasksToStart(ptrs, SchedulerOptionsFrom(config), now_ms);
}

RateDecision FailoverRateAllows(const AutomationRecord& automation, const std::string& store,
                                int64_t now_ms, const CoordinatorConfig& config) {
  std::vector<FailoverRecord> history;
  for (const auto& f : automation.failovers()) history.push_back({f.store(), f.time_ms()});
  RateLimitDecision d = CheckFailoverRate(history, store, now_ms, GuardrailOptionsFrom(config));
  return {d.allowed, d.reason};
}

bool MassFailure(const ClusterView& view, int64_t now_ms, const CoordinatorConfig& config,
                 std::string* why) {
  BrakeDecision d = CheckMassFailure(view, now_ms, GuardrailOptionsFrom(config));
  if (d.engage) *why = d.reason;
  return d.engage;
}

}  // namespace slotkeeper::slotmgr
