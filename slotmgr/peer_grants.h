// Who may read each slot of a host through its agent's ReplicaPeer service:
// the hosts holding a copy of the slot's store, and the targets of the
// store's unfinished tasks (copies being made). The agent refuses every
// other host (replicator/sync/peer_authorizer.h).
//
// What it stops: a host of the cluster, with a valid certificate, reading a
// store it has no business with (a compromised host copying every user's
// mail). What it does not stop: a host with a copy reading every user of
// that store, which it already holds.
//
// Pure function of a snapshot of the model; thread-compatible.
#ifndef SLOTKEEPER_SLOTMGR_PEER_GRANTS_H_
#define SLOTKEEPER_SLOTMGR_PEER_GRANTS_H_

#include <string>

#include "proto/agent.pb.h"
#include "slotmgr/model.h"

namespace slotkeeper::slotmgr {

// The grants of every slot of `host` that holds a copy of a store, by slot
// name, each with its hosts sorted.
v1::PeerGrants PeerGrantsFor(const ClusterModel& model, const std::string& host);

}  // namespace slotkeeper::slotmgr

#endif  // SLOTKEEPER_SLOTMGR_PEER_GRANTS_H_
