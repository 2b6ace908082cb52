// Health derivation: what the coordinator concludes from the evidence.
//
// From the conditions agents report, the host states the coordinator
// measured (silence) and its lease table, DeriveHealth works out, in three
// steps:
//   1. host components: each filesystem's state (failure_detector.h), each
//      drive unit's (failed on its own hard evidence or when every
//      filesystem on it is), each slot's usability and the reason;
//   2. store copies: each copy's usability (its slot's), the store's used
//      bytes and since when its master has been unusable, and whether on
//      hard evidence (which shortens the failover grace);
//   3. store states: HEALTHY, DEGRADED, NO_MASTER or UNAVAILABLE
//      (model.h), with a note; a store without a usable master asks the
//      promotion planner whether a replica could take over.
//
// A function of its arguments only (no clock, no I/O, no locks): it updates
// the derived fields of `model` in place and returns which records changed
// and the events that say so, in the order the coordinator journals them.
// Thread-compatible; the coordinator calls it under its lock.
#ifndef SLOTKEEPER_SLOTMGR_HEALTH_H_
#define SLOTKEEPER_SLOTMGR_HEALTH_H_

#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "proto/model.pb.h"
#include "slotmgr/config.h"
#include "slotmgr/lease_table.h"
#include "slotmgr/model.h"

namespace slotkeeper::slotmgr {

struct HealthChanges {
  // Records whose persisted fields changed (host names, store names).
  std::set<std::string> hosts, stores;
  // What changed, for the journal, in order: kind, severity, text and
  // subject set; seq and time are the journal's.
  std::vector<v1::Event> events;
  // Not OK when the model could not be turned into the planners' snapshot
  // (an inconsistency): stores without a usable master were then judged
  // UNAVAILABLE without asking the promotion planner.
  absl::Status view_status;
};

// The coordinator's clocks at one moment: wall time stamps what is
// persisted and shown; monotonic time measures silence and leases.
struct CoordinatorNow {
  int64_t wall_ms = 0;
  int64_t mono_ms = 0;
};

// `last_heard_ms` (coordinator monotonic clock, by host) feeds the promotion
// planner's snapshot (view_builder.h); `now.wall_ms` stamps failures (units
// failed since, masters unusable since). Also sets every slot's
// lease_valid_until_ms from `leases`, converted to wall time (shown to
// clients, not a change).
HealthChanges DeriveHealth(ClusterModel& model, const LeaseTable& leases,
                           const std::map<std::string, int64_t>& last_heard_ms, CoordinatorNow now,
                           const CoordinatorConfig& config);

}  // namespace slotkeeper::slotmgr

#endif  // SLOTKEEPER_SLOTMGR_HEALTH_H_
