// Txn: the changes of one coordinator decision, committed together.
//
// Every state-changing Coordinator method makes one Txn, lets the code that
// changes the in-memory model note in it what changed (records by key, new
// and retired commands, events, routing changes), and ends with
// Coordinator::CommitLocked, which writes the noted records and the events
// as one StateBatch and then publishes the events and routing changes. A Txn
// carries names, not copies: the records are read from the model at commit.
// Plain value; used under the coordinator's lock only.
#ifndef SLOTKEEPER_SLOTMGR_TXN_H_
#define SLOTKEEPER_SLOTMGR_TXN_H_

#include <set>
#include <string>
#include <vector>

#include "proto/automation.pb.h"
#include "proto/model.pb.h"
#include "slotmgr/state.pb.h"

namespace slotkeeper::slotmgr {

struct Txn {
  std::set<std::string> hosts, stores, tasks, users;  // changed records, by key
  std::set<std::string> erased_hosts;                 // hosts forgotten (records deleted)
  std::vector<OutboxEntry> commands;                  // queued for agents
  std::vector<std::string> erased_commands;           // retired command ids
  std::vector<v1::Event> events;                      // with seq and time set
  std::vector<v1::RoutingChange> routing;             // published after the commit
  bool automation = false;                            // the AutomationRecord changed
  bool meta = false;                                  // a counter changed without an event
};

}  // namespace slotkeeper::slotmgr

#endif  // SLOTKEEPER_SLOTMGR_TXN_H_
