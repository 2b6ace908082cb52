// LeaseTable: the coordinator's upper bound on every master lease an agent
// may hold, by slot.
//
// A master accepts mail only while its lease runs. The coordinator grants
// leases (a Promote command, a renewal after a report) and must never
// promote another copy of a store while a lease of that store may still be
// valid (fencing). The table keeps, per "HOST/SLOT", the latest time until
// which the agent may believe its lease valid; the agent counts from when it
// received the grant, which is before the coordinator's "now" when it
// records the bound, so the agent's view always ends first.
//
// Bounds are on the coordinator's monotonic clock (Clock::MonotonicMs): a
// step of the wall clock (NTP, an operator setting the date) must never make
// a lease look expired while the agent, which counts on its own monotonic
// clock, still holds it.
//
// Not persisted. The restart rule: a restarted coordinator cannot know
// which renewals were sent just before it stopped, so it takes every master
// it loads as holding a lease for a full lease duration from its own start
// (RestartedWithMasters).
//
// Thread-compatible: the coordinator calls it under its mutex.
#ifndef SLOTKEEPER_SLOTMGR_LEASE_TABLE_H_
#define SLOTKEEPER_SLOTMGR_LEASE_TABLE_H_

#include <cstdint>
#include <string>

#include "absl/container/flat_hash_map.h"
#include "proto/model.pb.h"

namespace slotkeeper::slotmgr {

class LeaseTable {
 public:
  // The restart rule, for a master slot found at load time.
  void RestartedWithMaster(const v1::SlotRef& slot, int64_t now_ms, int64_t lease_ms);

  // A lease granted or renewed for `slot` (name "HOST/SLOT"), valid at most
  // until `until_ms`; replaces the previous bound.
  void Grant(const std::string& slot, int64_t until_ms);
  // An acknowledged grant: the bound becomes at least `until_ms`.
  void Extend(const v1::SlotRef& slot, int64_t until_ms);
  // The slot holds no lease any more (demoted and acknowledged, or moved).
  void Release(const v1::SlotRef& slot);

  // The bound for `slot` (monotonic; 0 when none).
  int64_t ValidUntil(const v1::SlotRef& slot) const;
  // True when any copy of `store` may still hold a valid lease at `now_ms`:
  // the master, or a former master whose unit was declared lost while its
  // agent still ran.
  bool MayBeValid(const v1::StoreInfo& store, int64_t now_ms) const;

 private:
  absl::flat_hash_map<std::string, int64_t> until_ms_;  // by "HOST/SLOT"
};

}  // namespace slotkeeper::slotmgr

#endif  // SLOTKEEPER_SLOTMGR_LEASE_TABLE_H_
