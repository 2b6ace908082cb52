// slotctl's own consistency check, computed from the model the coordinator
// serves (ListStores + ListHosts), in the spirit of Kudu's ksck.
//
// The coordinator's CheckConsistency RPC is the authority; slotctl falls back
// to this when the server does not implement it. Content hashes
// (--verify-data) need the agents and are not checked here.
//
// A pure function: thread-safe, no I/O.
#ifndef SLOTKEEPER_TOOLS_SLOTCTL_KSCK_H_
#define SLOTKEEPER_TOOLS_SLOTCTL_KSCK_H_

#include <cstdint>
#include <vector>

#include "proto/automation.pb.h"

namespace slotkeeper::slotctl {

// Every store: its required copies usable, on distinct hosts; exactly one
// master, usable; no copy on a lost unit or a slot the hosts do not know;
// hosts' slot roles agreeing with the store; replicas' lag within
// `max_lag_ms` (a warning beyond it). Problems come out store by store, in
// the order of `stores`.
v1::ConsistencyReport CheckModel(const std::vector<v1::StoreInfo>& stores,
                                 const std::vector<v1::HostInfo>& hosts, int64_t max_lag_ms);

}  // namespace slotkeeper::slotctl

#endif  // SLOTKEEPER_TOOLS_SLOTCTL_KSCK_H_
