#include "tools/slotroute/route_table.h"

#include <utility>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "base/grpc_util.h"
#include "proto/model_util.h"

namespace slotkeeper::slotroute {
namespace {

absl::Status CheckEndpoint(const v1::Endpoint& e, absl::string_view what) {
  if (e.service_address().empty()) return absl::OkStatus();  // no master now
  if (absl::Status st = ValidateHostPort(e.service_address()); !st.ok()) {
    return absl::InvalidArgumentError(absl::StrCat(what, ": ", st.message()));
  }
  return absl::OkStatus();
}

MasterRoute RouteOf(const std::string& store, uint64_t epoch, const v1::Endpoint& master,
                    absl::Duration now) {
  return MasterRoute{store, epoch, master.service_address(),
                     master.usable() && !master.service_address().empty(), now};
}

}  // namespace

std::optional<MasterRoute> RouteTable::Find(const std::string& user) const {
  absl::MutexLock lock(&mu_);
  auto store = store_of_.find(user);
  if (store == store_of_.end()) return std::nullopt;
  auto master = masters_.find(store->second);
  if (master == masters_.end()) return std::nullopt;
  return master->second;
}

absl::Status RouteTable::Learn(const v1::UserLocation& location, absl::Duration now) {
  if (absl::Status st = model::ValidateName(model::NameKind::kUser, location.user()); !st.ok()) {
    return st;
  }
  if (absl::Status st = model::ValidateName(model::NameKind::kStore, location.store()); !st.ok()) {
    return st;
  }
  if (absl::Status st = CheckEndpoint(location.master(), "the master's service address");
      !st.ok()) {
    return st;
  }
  absl::MutexLock lock(&mu_);
  auto [it, inserted] = store_of_.emplace(location.user(), location.store());
  if (!inserted && it->second != location.store()) {
    return absl::InvalidArgumentError(absl::StrCat("user ", location.user(), " moved from store ",
                                                   it->second, " to ", location.store(),
                                                   " (users never change stores)"));
  }
  PutLocked(RouteOf(location.store(), location.master_epoch(), location.master(), now));
  return absl::OkStatus();
}

absl::Status RouteTable::Apply(const v1::RoutingChange& change, absl::Duration now) {
  if (absl::Status st = model::ValidateName(model::NameKind::kStore, change.store()); !st.ok()) {
    return st;
  }
  if (absl::Status st = CheckEndpoint(change.new_master(), "the new master's service address");
      !st.ok()) {
    return st;
  }
  absl::MutexLock lock(&mu_);
  PutLocked(RouteOf(change.store(), change.master_epoch(), change.new_master(), now));
  return absl::OkStatus();
}

void RouteTable::MarkAllUnconfirmed() {
  absl::MutexLock lock(&mu_);
  for (auto& [store, route] : masters_) route.learned_at = -absl::InfiniteDuration();
}

void RouteTable::PutLocked(MasterRoute route) {
  auto it = masters_.find(route.store);
  if (it != masters_.end() && it->second.epoch > route.epoch) return;
  masters_[route.store] = std::move(route);
}

absl::StatusOr<std::map<std::string, std::string>> ProxyFields(const MasterRoute& route,
                                                               const std::string& service,
                                                               int lmtp_port_offset) {
  if (!route.usable) {
    return absl::UnavailableError(
        absl::StrCat("store ", route.store, " has no usable master (epoch ", route.epoch, ")"));
  }
  if (absl::Status st = ValidateHostPort(route.address); !st.ok()) return st;
  const size_t colon = route.address.rfind(':');
  int port = 0;
  if (!absl::SimpleAtoi(route.address.substr(colon + 1), &port)) {
    return absl::InvalidArgumentError(absl::StrCat("bad port in ", route.address));
  }
  if (service == "lmtp") port += lmtp_port_offset;
  if (port < 1 || port > 65535) {
    return absl::InvalidArgumentError(
        absl::StrCat(service, " port ", port, " of ", route.address, " is out of range"));
  }
  std::string host = route.address.substr(0, colon);
  if (host.size() > 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  return std::map<std::string, std::string>{
      {"proxy", "y"},
      {"host", host},
      {"port", absl::StrCat(port)},
      // The backend checks the password; the front only routes.
      {"nopassword", "y"},
  };
}

}  // namespace slotkeeper::slotroute
