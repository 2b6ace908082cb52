// Where each user's mail is served: the user's store (which never changes
// once the coordinator has indexed the user) and each store's master, as
// the coordinator last said through LookupUser or WatchRouting.
//
// Everything learned is validated first (the cluster's name rule for users
// and stores, HOST:PORT for the master's service address); an answer older
// than what the table holds (a lower master epoch) is ignored, so a slow
// LookupUser reply cannot undo a promotion the watch already delivered.
// Thread-safe: one mutex, no calls out while it is held.
#ifndef SLOTKEEPER_TOOLS_SLOTROUTE_ROUTE_TABLE_H_
#define SLOTKEEPER_TOOLS_SLOTROUTE_ROUTE_TABLE_H_

#include <cstdint>
#include <map>
#include <optional>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "proto/automation.pb.h"

namespace slotkeeper::slotroute {

// A store's master as last heard of.
struct MasterRoute {
  std::string store;
  uint64_t epoch = 0;
  std::string address;        // the master slot's service address; empty: none
  bool usable = false;        // the coordinator's word on whether it can serve
  absl::Duration learned_at;  // monotonic; -infinity: unconfirmed
};

class RouteTable {
 public:
  // The route for `user`, or nothing when the user or its store's master is
  // not known.
  std::optional<MasterRoute> Find(const std::string& user) const;

  // A LookupUser answer received at `now`. INVALID_ARGUMENT names what was
  // wrong with it (nothing is learned then).
  absl::Status Learn(const v1::UserLocation& location, absl::Duration now);

  // A routing change from WatchRouting, received at `now`.
  absl::Status Apply(const v1::RoutingChange& change, absl::Duration now);

  // Marks every known master as unconfirmed (a watch stream opened, so
  // changes may have been missed before it): the Router asks again before
  // using one, and still uses it when the coordinator cannot answer.
  void MarkAllUnconfirmed();

 private:
  // Stores `route` unless a newer epoch is known.
  void PutLocked(MasterRoute route) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  mutable absl::Mutex mu_;
  std::map<std::string, std::string> store_of_ ABSL_GUARDED_BY(mu_);  // user -> store
  std::map<std::string, MasterRoute> masters_ ABSL_GUARDED_BY(mu_);   // store -> master
};

// The endpoint Dovecot's proxy should use for `service` ("imap": the service
// address's port; "lmtp": that port plus `lmtp_port_offset`), as passdb
// fields, or why there is none: UNAVAILABLE when the store has no usable
// master (a failover: the client retries, the MTA queues), INVALID_ARGUMENT
// for an address that is not HOST:PORT or a port out of range.
absl::StatusOr<std::map<std::string, std::string>> ProxyFields(const MasterRoute& route,
                                                               const std::string& service,
                                                               int lmtp_port_offset);

}  // namespace slotkeeper::slotroute

#endif  // SLOTKEEPER_TOOLS_SLOTROUTE_ROUTE_TABLE_H_
