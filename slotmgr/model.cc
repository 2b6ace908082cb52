#include "slotmgr/model.h"

#include "absl/strings/str_cat.h"

namespace slotkeeper::slotmgr {

using v1::SlotRole;
using v1::TaskState;

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
      absl::StrCat("slot role cannot change from ", Name(from), " to ", Name(to)));
}

bool IsTaskFinished(TaskState state) {
  return state == v1::TASK_DONE || state == v1::TASK_FAILED || state == v1::TASK_CANCELLED;
}

absl::Status CheckTaskTransition(TaskState from, TaskState to) {
  bool ok = false;
  if (!IsTaskFinished(from) && from != v1::TASK_STATE_UNSPECIFIED) {
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
      absl::StrCat("task cannot change from ", Name(from), " to ", Name(to)));
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

const char* Name(SlotRole role) {
  switch (role) {
    case v1::SLOT_SPARE:
      return "spare";
    case v1::SLOT_MASTER:
      return "master";
    case v1::SLOT_REPLICA:
      return "replica";
    case v1::SLOT_SEEDING:
      return "seeding";
    case v1::SLOT_LOST:
      return "lost";
    default:
      return "unspecified";
  }
}
const char* Name(v1::HostState state) {
  switch (state) {
    case v1::HOST_UP:
      return "up";
    case v1::HOST_SUSPECT:
      return "suspect";
    case v1::HOST_DOWN:
      return "down";
    default:
      return "unspecified";
  }
}
const char* Name(v1::UnitState state) {
  switch (state) {
    case v1::UNIT_ONLINE:
      return "online";
    case v1::UNIT_FAILED:
      return "failed";
    case v1::UNIT_LOST:
      return "lost";
    default:
      return "unspecified";
  }
}
const char* Name(v1::FilesystemState state) {
  switch (state) {
    case v1::FS_OK:
      return "ok";
    case v1::FS_READ_ONLY:
      return "read-only";
    case v1::FS_IO_ERROR:
      return "I/O errors";
    case v1::FS_HUNG:
      return "hung I/O";
    case v1::FS_NOT_MOUNTED:
      return "not mounted";
    default:
      return "unspecified";
  }
}
const char* Name(v1::StoreState state) {
  switch (state) {
    case v1::STORE_HEALTHY:
      return "healthy";
    case v1::STORE_DEGRADED:
      return "degraded";
    case v1::STORE_NO_MASTER:
      return "no master";
    case v1::STORE_UNAVAILABLE:
      return "unavailable";
    default:
      return "unspecified";
  }
}
const char* Name(TaskState state) {
  switch (state) {
    case v1::TASK_QUEUED:
      return "queued";
    case v1::TASK_RUNNING:
      return "running";
    case v1::TASK_DONE:
      return "done";
    case v1::TASK_FAILED:
      return "failed";
    case v1::TASK_CANCELLED:
      return "cancelled";
    case v1::TASK_BACKOFF:
      return "backoff";
    default:
      return "unspecified";
  }
}

std::string SlotName(const v1::SlotRef& ref) { return absl::StrCat(ref.host(), "/", ref.slot()); }
bool SameSlot(const v1::SlotRef& a, const v1::SlotRef& b) {
  return a.host() == b.host() && a.slot() == b.slot();
}

}  // namespace slotkeeper::slotmgr
