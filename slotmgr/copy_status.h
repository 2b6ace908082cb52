// What an agent's replication status says about one copy of a store, and
// what of it is news for the journal.
//
// ApplyReplicationStatus copies a slot's ReplicationStatus into the store's
// Copy (lag, in sync, scrub, quarantine, stranded mail, identity, blocked
// users) and returns the events its changes deserve: corrupt files a scrub
// found (the files named), a slot whose identity changed behind its agent's
// back, mail stranded on an old master (and when none is left). Blocked
// users are journaled by BlockedUsers (blocked_users.h).
//
// A pure function; thread-compatible.
#ifndef SLOTKEEPER_SLOTMGR_COPY_STATUS_H_
#define SLOTKEEPER_SLOTMGR_COPY_STATUS_H_

#include <cstdint>
#include <string>
#include <vector>

#include "proto/agent.pb.h"
#include "proto/model.pb.h"

namespace slotkeeper::slotmgr {

// The reporting agent's clock against the coordinator's: the measured
// offset (agent minus coordinator, HostInfo.clock_offset_ms) and the
// coordinator's time now.
struct AgentClock {
  int64_t offset_ms = 0;
  int64_t now_ms = INT64_MAX;
  // An agent's stamp in the coordinator's clock: corrected by the offset and
  // never later than now (the offset is measured, not exact); 0 stays 0.
  int64_t ToCoordinator(int64_t agent_ms) const;
};

// `is_master`: the slot is the store's master (its in_sync is true by
// definition). The agent's times are kept as reported and, corrected by
// `clock`, as shown. Returns the events to journal, in order.
std::vector<v1::Event> ApplyReplicationStatus(const std::string& store, bool is_master,
                                              const v1::ReplicationStatus& status,
                                              const AgentClock& clock, v1::Copy& copy);

}  // namespace slotkeeper::slotmgr

#endif  // SLOTKEEPER_SLOTMGR_COPY_STATUS_H_
