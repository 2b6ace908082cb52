#include "slotmgr/model.h"

#include "absl/strings/str_cat.h"
#include "proto/model_util.h"

namespace slotkeeper::slotmgr {

using v1::SlotRole;
using v1::TaskState;

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

v1::UnitState NextUnitState(v1::UnitState current, bool hard_evidence, bool declared_lost) {
  if (current == v1::UNIT_LOST || declared_lost) return v1::UNIT_LOST;
  return hard_evidence ? v1::UNIT_FAILED : v1::UNIT_ONLINE;
}

absl::Status CheckSlotRoleTransition(SlotRole from, SlotRole to) {
  if (from == to) return absl::OkStatus();
  bool ok = false;
  switch (to) {
    case v1::SLOT_LOST:
      ok = true;
      break;
    case v1::SLOT_SEEDING:
      ok = from == v1::SLOT_SPARE;
      break;
    case v1::SLOT_REPLICA:
      ok = from == v1::SLOT_SEEDING || from == v1::SLOT_MASTER;
      break;
    case v1::SLOT_MASTER:
      ok = from == v1::SLOT_REPLICA || from == v1::SLOT_SPARE;
      break;
    case v1::SLOT_SPARE:
      ok = from == v1::SLOT_REPLICA || from == v1::SLOT_SEEDING;
      break;
    default:
      ok = false;
  }
  if (ok) return absl::OkStatus();
  return absl::FailedPreconditionError(
      absl::StrCat("slot role cannot change from ", model::Name(from), " to ", model::Name(to)));
}

absl::Status CheckTaskTransition(TaskState from, TaskState to) {
  bool ok = false;
  if (!model::IsTaskFinished(from) && from != v1::TASK_STATE_UNSPECIFIED) {
    switch (to) {
      case v1::TASK_RUNNING:
        ok = from == v1::TASK_QUEUED || from == v1::TASK_RUNNING;
        break;
      case v1::TASK_DONE:
      case v1::TASK_BACKOFF:
        ok = from == v1::TASK_RUNNING;
        break;
      case v1::TASK_FAILED:
        ok = from == v1::TASK_RUNNING || from == v1::TASK_QUEUED;
        break;
      case v1::TASK_QUEUED:
        ok = from == v1::TASK_BACKOFF;
        break;
      case v1::TASK_CANCELLED:
        ok = true;
        break;
      default:
        ok = false;
    }
  }
  if (ok) return absl::OkStatus();
  return absl::FailedPreconditionError(
      absl::StrCat("task cannot change from ", model::Name(from), " to ", model::Name(to)));
}

v1::StoreState DeriveStoreState(bool master_usable, int usable_copies, int required_copies,
                                bool promotable_replica) {
  if (master_usable) {
    return usable_copies >= required_copies ? v1::STORE_HEALTHY : v1::STORE_DEGRADED;
  }
  return promotable_replica ? v1::STORE_NO_MASTER : v1::STORE_UNAVAILABLE;
}

v1::HostState HostStateAfterSilence(int64_t last_heard_ms, int64_t now_ms, int64_t suspect_after_ms,
                                    int64_t down_after_ms) {
  const int64_t silent = now_ms - last_heard_ms;
  if (silent > down_after_ms) return v1::HOST_DOWN;
  if (silent > suspect_after_ms) return v1::HOST_SUSPECT;
  return v1::HOST_UP;
}

}  // namespace slotkeeper::slotmgr
