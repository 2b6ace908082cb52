// The coordinator's model: the records it keeps in memory and persists
// (ClusterModel, UserIndex), lookups into them, and the state machines of
// proto/README.md.
//
// The state machines are enforced: a slot's role changes only through
// SetSlotRole and a task's state only through SetTaskState, which refuse a
// transition the machine does not allow (FAILED_PRECONDITION, nothing
// changed), log it, and abort debug builds, where a refused transition is a
// bug to find. Creating a record in its first state (a new slot is SPARE, a
// new task QUEUED) and recording what an agent found on disk (a copy
// recognised in a spare slot becomes a REPLICA) are not transitions.
//
// Plain data and functions; thread-compatible. The coordinator holds the one
// model under its mutex.
#ifndef SLOTKEEPER_SLOTMGR_MODEL_H_
#define SLOTKEEPER_SLOTMGR_MODEL_H_

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "proto/agent.pb.h"
#include "proto/automation.pb.h"
#include "proto/model.pb.h"
#include "slotmgr/state.pb.h"
#include "slotmgr/txn.h"

namespace slotkeeper::slotmgr {

// The coordinator's in-memory model. Keys are host names, store names, task ids.
struct ClusterModel {
  std::map<std::string, HostRecord> hosts;
  std::map<std::string, StoreRecord> stores;
  std::map<std::string, StoredTask> tasks;
};

// ---- Lookups (null when absent) ------------------------------------------

const HostRecord* FindHost(const ClusterModel& model, const std::string& host);
const v1::SlotInfo* FindSlot(const ClusterModel& model, const v1::SlotRef& ref);
v1::SlotInfo* FindSlot(ClusterModel* model, const v1::SlotRef& ref);
v1::Copy* FindCopy(StoreRecord& store, const v1::SlotRef& ref);
// The copy with role MASTER.
const v1::Copy* MasterCopy(const StoreRecord& store);
// The host an operator request names: INVALID_ARGUMENT for an empty name,
// NOT_FOUND for an unknown one.
absl::StatusOr<HostRecord*> FindOperatorHost(ClusterModel& model, const std::string& host);
// Where `ref` serves mail, as LookupUser and the routing feed publish it.
v1::Endpoint EndpointOf(const ClusterModel& model, const v1::SlotRef& ref);
// The store's replicas other than `master`, with their agents' peer
// addresses: the failsafe witnesses a master must all hear from
// (proto/README.md, "Failsafe").
std::vector<v1::CopyPeer> OtherCopies(const ClusterModel& model, const StoreRecord& store,
                                      const v1::SlotRef& master);

// Which store each user belongs to (as agents found it on disk), and how
// many users each store has.
class UserIndex {
 public:
  void Restore(std::map<std::string, std::string> users);
  // Records that `user` belongs to `store`; false if it already did.
  bool Assign(const std::string& user, const std::string& store);
  // Null for an unknown user.
  const std::string* StoreOf(const std::string& user) const;
  uint64_t CountOf(const std::string& store) const;

 private:
  std::map<std::string, std::string> store_of_;  // user -> store
  std::map<std::string, uint64_t> count_;        // store -> users
};

// The store as shown to clients: its record with its user count (the most
// any usable copy holds, or the users indexed to it, whichever is larger;
// model.proto StoreInfo.user_count).
v1::StoreInfo StoreInfoWithUsers(const StoreRecord& store, const UserIndex& users);

// For the report hot path: per host, by slot index, the slot's name and the
// store record and copy it holds, so that a report is applied without
// searching. An entry is valid until Invalidate(), which the coordinator
// calls on every commit that touches a host or a store (copies are added
// and removed only in such commits; std::map nodes and RepeatedPtrField
// elements do not move otherwise).
class SlotCopyIndex {
 public:
  struct HostSlots {
    uint64_t generation = 0;
    std::vector<std::string> name;  // "HOST/SLOT"
    std::vector<StoreRecord*> store;
    std::vector<v1::Copy*> copy;
  };

  const HostSlots& For(const std::string& host, const v1::HostInfo& info, ClusterModel& model);
  void Invalidate() { ++generation_; }

 private:
  uint64_t generation_ = 1;
  std::map<std::string, HostSlots> hosts_;
};

// ---- State machines ---------------------------------------------------------

// Drive unit: ONLINE --hard evidence--> FAILED --declared lost--> LOST;
// FAILED --evidence cleared--> ONLINE; LOST is final for the evidence. (An
// operator's reinstatement returns a held or lost unit to ONLINE after its
// copies verified: reinstate.h, not this machine.)
v1::UnitState NextUnitState(v1::UnitState current, bool hard_evidence, bool declared_lost);

// Slot role. Allowed:
//   SPARE -> SEEDING (placed as a new replica), SPARE -> MASTER (store created on it)
//   SEEDING -> REPLICA (task done and verified)
//   REPLICA -> MASTER (promoted), MASTER -> REPLICA (demoted / failed over)
//   any -> LOST (unit declared lost)
//   REPLICA/SEEDING -> SPARE (released; contents quarantined)
//   LOST/REPLICA -> SEEDING (reinstated: the copy catches up and is verified
//     before it counts as a replica again)
//   LOST -> SPARE (reinstated unit, copy already replaced and dropped: its
//     old data stays on disk, kept out of placement until emptied)
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

// ---- Enforced changes -------------------------------------------------------

// Gives the slot `ref` the role `role` in `store` ("" for none) and the
// store's copy there the same role; a slot that is not MASTER holds no
// lease. Notes the host and the store in `txn`. A slot no inventory lists
// any more only has its copy changed. A transition CheckSlotRoleTransition
// refuses changes nothing and returns its error (logged; debug builds
// abort), so callers that can carry on may ignore it.
absl::Status SetSlotRole(ClusterModel& model, Txn& txn, const v1::SlotRef& ref, v1::SlotRole role,
                         const std::string& store);

// Moves `task` to `state` and notes it in `txn`; a transition
// CheckTaskTransition refuses changes nothing and returns its error (logged;
// debug builds abort).
absl::Status SetTaskState(Txn& txn, StoredTask& task, v1::TaskState state);

}  // namespace slotkeeper::slotmgr

#endif  // SLOTKEEPER_SLOTMGR_MODEL_H_
