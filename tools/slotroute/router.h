// The answer to one passdb lookup of the front proxy: which backend serves
// the user now, from the RouteTable, asking the coordinator (UserLocator)
// on a miss, and again when the cached route says the store has no usable
// master or is older than `refresh_after` (WatchRouting reports promotions
// only, so that is how a cached route learns about the rest).
//
// When the coordinator cannot be asked, a cached route is used as it is:
// losing the control plane must not stop mail (a stale route at worst
// reaches a master that is fenced, and the proxy's connection fails
// temporarily). Thread-safe (the table is; the locator must be).
#ifndef SLOTKEEPER_TOOLS_SLOTROUTE_ROUTER_H_
#define SLOTKEEPER_TOOLS_SLOTROUTE_ROUTER_H_

#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "base/clock.h"
#include "proto/automation.pb.h"
#include "tools/slotroute/route_table.h"

namespace slotkeeper::slotroute {

// Asks the coordinator where a user lives (LookupUser). NOT_FOUND: no such
// user; any other error: the coordinator could not answer.
class UserLocator {
 public:
  virtual ~UserLocator() = default;
  virtual absl::StatusOr<v1::UserLocation> Locate(const std::string& user) = 0;
};

struct RouterOptions {
  int lmtp_port_offset = 1;
  absl::Duration refresh_after = absl::Seconds(10);
};

class Router {
 public:
  // None owned; all must outlive the router.
  Router(RouteTable* table, UserLocator* locator, Clock* clock, RouterOptions options)
      : table_(table), locator_(locator), clock_(clock), options_(options) {}

  // The dict reply line for a lookup of `key` (dict_protocol.h): the proxy
  // fields, "not found" (a malformed key, a user the cluster does not know)
  // or a failure (no usable master, the coordinator unreachable on a miss),
  // which Dovecot turns into a temporary error.
  std::string Answer(const std::string& key);

 private:
  RouteTable* const table_;
  UserLocator* const locator_;
  Clock* const clock_;
  const RouterOptions options_;
};

}  // namespace slotkeeper::slotroute

#endif  // SLOTKEEPER_TOOLS_SLOTROUTE_ROUTER_H_
