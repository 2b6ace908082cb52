// The consistency check of the cluster model (ksck, after Kudu's): the one
// place its rules live. The coordinator runs it over the stores and hosts it
// serves (CheckConsistency RPC); content hashes (--verify-data) are compared
// separately by asking the agents.
//
// A pure function: thread-safe, no I/O.
#ifndef SLOTKEEPER_SLOTMGR_KSCK_H_
#define SLOTKEEPER_SLOTMGR_KSCK_H_

#include <cstdint>
#include <vector>

#include "proto/automation.pb.h"

namespace slotkeeper::slotmgr {

// Every store: exactly one master, and it usable; its required copies
// usable, on distinct hosts; no copy on a lost unit or on a slot no host
// reports; hosts' slot roles agreeing with the store; replicas' lag within
// `max_lag_ms` (a warning beyond it). Problems come out store by store, in
// the order of `stores`.
v1::ConsistencyReport CheckConsistency(const std::vector<v1::StoreInfo>& stores,
                                       const std::vector<v1::HostInfo>& hosts, int64_t max_lag_ms);

}  // namespace slotkeeper::slotmgr

#endif  // SLOTKEEPER_SLOTMGR_KSCK_H_
