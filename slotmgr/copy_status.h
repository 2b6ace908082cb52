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

#include <string>
#include <vector>

#include "proto/agent.pb.h"
#include "proto/model.pb.h"

namespace slotkeeper::slotmgr {

// `is_master`: the slot is the store's master (its in_sync is true by
// definition). Returns the events to journal, in order.
std::vector<v1::Event> ApplyReplicationStatus(const std::string& store, bool is_master,
                                              const v1::ReplicationStatus& status, v1::Copy& copy);

}  // namespace slotkeeper::slotmgr

#endif  // SLOTKEEPER_SLOTMGR_COPY_STATUS_H_
