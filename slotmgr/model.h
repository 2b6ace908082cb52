// The state machines of the model (proto/README.md), as plain functions.
//
// The coordinator changes a state only through these functions, so that what
// the README draws is what the code does; each transition is unit-tested in
// model_test.cc. All functions are pure and thread-safe.
#ifndef SLOTKEEPER_SLOTMGR_MODEL_H_
#define SLOTKEEPER_SLOTMGR_MODEL_H_

#include <map>
#include <string>

#include "absl/status/status.h"
#include "proto/model.pb.h"
#include "slotmgr/state.pb.h"

namespace slotkeeper::slotmgr {

// The coordinator's in-memory model. Keys are host names, store names, task ids.
struct ClusterModel {
  std::map<std::string, HostRecord> hosts;
  std::map<std::string, StoreRecord> stores;
  std::map<std::string, StoredTask> tasks;
};

// Lookups; null when absent.
const HostRecord* FindHost(const ClusterModel& model, const std::string& host);
const v1::SlotInfo* FindSlot(const ClusterModel& model, const v1::SlotRef& ref);
v1::SlotInfo* FindSlot(ClusterModel* model, const v1::SlotRef& ref);

// Drive unit: ONLINE --hard evidence--> FAILED --declared lost--> LOST;
// FAILED --evidence cleared--> ONLINE; LOST is final.
v1::UnitState NextUnitState(v1::UnitState current, bool hard_evidence, bool declared_lost);

// Slot role. Allowed:
//   SPARE -> SEEDING (placed as a new replica), SPARE -> MASTER (store created on it)
//   SEEDING -> REPLICA (task done and verified)
//   REPLICA -> MASTER (promoted), MASTER -> REPLICA (demoted / failed over)
//   any -> LOST (unit declared lost)
//   REPLICA/SEEDING -> SPARE (released; contents quarantined)
//   LOST -> SPARE only when the unit is back in the inventory as a new unit: not here.
// Returns FAILED_PRECONDITION naming both roles otherwise; a role to itself is OK.
absl::Status CheckSlotRoleTransition(v1::SlotRole from, v1::SlotRole to);

// Task: QUEUED -> RUNNING -> DONE | FAILED | BACKOFF; BACKOFF -> QUEUED;
// QUEUED/RUNNING/BACKOFF -> CANCELLED; QUEUED -> FAILED (refused by a guard).
// DONE, FAILED and CANCELLED are final (model::IsTaskFinished).
absl::Status CheckTaskTransition(v1::TaskState from, v1::TaskState to);

// Store state from its copies:
//   usable master and usable copies >= required -> HEALTHY
//   usable master, fewer                        -> DEGRADED
//   master unusable (or none), a replica could be promoted -> NO_MASTER
//   master unusable, nothing promotable         -> UNAVAILABLE
v1::StoreState DeriveStoreState(bool master_usable, int usable_copies, int required_copies,
                                bool promotable_replica);

// Host state after silence (the coordinator's clock): UP until
// `suspect_after_ms`, SUSPECT until `down_after_ms`, then DOWN. A report makes
// it UP again (the caller sets last_heard_ms).
v1::HostState HostStateAfterSilence(int64_t last_heard_ms, int64_t now_ms, int64_t suspect_after_ms,
                                    int64_t down_after_ms);

}  // namespace slotkeeper::slotmgr

#endif  // SLOTKEEPER_SLOTMGR_MODEL_H_
