// Queries: status, lists, lookups, the model checks of ksck, journal reads.
#include "slotmgr/queries.h"

#include <algorithm>
#include <map>
#include <set>
#include <utility>

#include "absl/strings/str_cat.h"
#include "proto/model_util.h"
#include "slotmgr/automation_guard.h"
#include "slotmgr/ksck.h"
#include "slotmgr/peer_grants.h"

namespace slotkeeper::slotmgr {
namespace {

bool Troubled(const v1::HostInfo& h) {
  if (h.state() != v1::HOST_UP || h.draining() || h.clock_skewed() || h.conditions_size() > 0 ||
      h.has_automation_pause()) {
    return true;
  }
  for (const v1::UnitInfo& u : h.units()) {
    if (u.state() != v1::UNIT_ONLINE || u.flap_suppressed() || !u.held_reason().empty())
      return true;
  }
  return false;
}

void CountSlotRole(v1::SlotRole role, v1::ClusterStatus& out) {
  switch (role) {
    case v1::SLOT_MASTER:
      out.set_slots_master(out.slots_master() + 1);
      break;
    case v1::SLOT_REPLICA:
      out.set_slots_replica(out.slots_replica() + 1);
      break;
    case v1::SLOT_SEEDING:
      out.set_slots_seeding(out.slots_seeding() + 1);
      break;
    case v1::SLOT_SPARE:
      out.set_slots_spare(out.slots_spare() + 1);
      break;
    case v1::SLOT_LOST:
      out.set_slots_lost(out.slots_lost() + 1);
      break;
    default:
      break;
  }
}

// The unfinished tasks' progress, summed, with an estimate of the time left.
// A total is unknown (0) when any unfinished task's is.
v1::RecoveryProgress Recovery(const ClusterModel& model) {
  v1::RecoveryProgress rp;
  std::set<std::string> recovering;
  bool users_unknown = false, bytes_unknown = false;
  for (const auto& [id, t] : model.tasks) {
    const v1::TaskInfo& ti = t.info();
    if (model::IsTaskFinished(ti.state())) continue;
    recovering.insert(ti.store());
    if (ti.state() == v1::TASK_RUNNING) {
      rp.set_tasks_running(rp.tasks_running() + 1);
      rp.set_bytes_per_second(rp.bytes_per_second() + ti.progress().bytes_per_second());
    } else {
      rp.set_tasks_queued(rp.tasks_queued() + 1);
    }
    rp.set_users_done(rp.users_done() + ti.progress().users_done());
    rp.set_users_total(rp.users_total() + ti.progress().users_total());
    rp.set_bytes_done(rp.bytes_done() + ti.progress().bytes_done());
    rp.set_bytes_total(rp.bytes_total() + ti.progress().bytes_total());
    users_unknown |= ti.progress().users_total() == 0;
    bytes_unknown |= ti.progress().bytes_total() == 0;
  }
  if (users_unknown) rp.set_users_total(0);
  if (bytes_unknown) rp.set_bytes_total(0);
  rp.set_stores_recovering(recovering.size());
  rp.set_eta_ms(-1);
  if (rp.bytes_per_second() > 0 && rp.bytes_total() > 0 && rp.bytes_total() >= rp.bytes_done()) {
    rp.set_eta_ms(static_cast<int64_t>((rp.bytes_total() - rp.bytes_done()) * 1000.0 /
                                       rp.bytes_per_second()));
  }
  return rp;
}

}  // namespace

v1::ClusterStatus Queries::GetClusterStatus() const {
  absl::MutexLock lock(mu_);
  const ClusterModel& model = *state_.model;
  v1::ClusterStatus out;
  out.set_coordinator_time_ms(clock_->NowMs());
  std::map<v1::HostState, uint32_t> by_state;
  for (const auto& [name, rec] : model.hosts) {
    const v1::HostInfo& h = rec.info();
    ++by_state[h.state()];
    out.set_hosts_draining(out.hosts_draining() + h.draining());
    if (Troubled(h)) *out.add_troubled_hosts() = h;
    for (const auto& s : h.slots()) CountSlotRole(s.role(), out);
  }
  for (const auto& [state, n] : by_state) {
    v1::HostStateCount* c = out.add_hosts_by_state();
    c->set_state(state);
    c->set_count(n);
  }
  out.set_stores_total(model.stores.size());
  for (const auto& [name, rec] : model.stores) {
    if (rec.info().state() == v1::STORE_HEALTHY) {
      out.set_stores_healthy(out.stores_healthy() + 1);
    } else {
      *out.add_troubled_stores() = StoreInfoWithUsers(rec, *state_.users);
    }
  }
  *out.mutable_recovery() = Recovery(model);
  *out.mutable_automation() =
      AutomationStateForClients(*state_.automation, model, out.coordinator_time_ms(), *config_);
  return out;
}

v1::ListHostsResponse Queries::ListHosts() const {
  absl::MutexLock lock(mu_);
  v1::ListHostsResponse out;
  for (const auto& [name, rec] : state_.model->hosts) *out.add_hosts() = rec.info();
  return out;
}

absl::StatusOr<v1::HostInfo> Queries::GetHost(const std::string& host) const {
  if (host.empty()) return absl::InvalidArgumentError("host is empty");
  absl::MutexLock lock(mu_);
  const HostRecord* h = FindHost(*state_.model, host);
  if (h == nullptr) return absl::NotFoundError(absl::StrCat("no host '", host, "'"));
  return h->info();
}

v1::ListStoresResponse Queries::ListStores(bool troubled_only) const {
  absl::MutexLock lock(mu_);
  v1::ListStoresResponse out;
  for (const auto& [name, rec] : state_.model->stores) {
    if (troubled_only && rec.info().state() == v1::STORE_HEALTHY) continue;
    *out.add_stores() = StoreInfoWithUsers(rec, *state_.users);
  }
  return out;
}

absl::StatusOr<v1::StoreInfo> Queries::GetStore(const std::string& store) const {
  if (store.empty()) return absl::InvalidArgumentError("store is empty");
  absl::MutexLock lock(mu_);
  auto it = state_.model->stores.find(store);
  if (it == state_.model->stores.end()) {
    return absl::NotFoundError(absl::StrCat("no store '", store, "'"));
  }
  return StoreInfoWithUsers(it->second, *state_.users);
}

absl::StatusOr<v1::UserLocation> Queries::LookupUser(const std::string& user) const {
  if (user.empty()) return absl::InvalidArgumentError("user is empty");
  absl::MutexLock lock(mu_);
  const std::string* store = state_.users->StoreOf(user);
  if (store == nullptr) return absl::NotFoundError(absl::StrCat("no user '", user, "'"));
  const ClusterModel& model = *state_.model;
  auto sit = model.stores.find(*store);
  if (sit == model.stores.end()) {
    return absl::NotFoundError(absl::StrCat("user '", user, "' belongs to unknown store ", *store));
  }
  v1::UserLocation out;
  out.set_user(user);
  out.set_store(*store);
  out.set_master_epoch(sit->second.info().master_epoch());
  for (const auto& c : sit->second.info().copies()) {
    if (c.role() == v1::SLOT_MASTER) {
      *out.mutable_master() = EndpointOf(model, c.slot());
    } else if (c.role() == v1::SLOT_REPLICA) {
      *out.add_replicas() = EndpointOf(model, c.slot());
    }
  }
  return out;
}

v1::ListTasksResponse Queries::ListTasks(const v1::ListTasksRequest& req) const {
  absl::MutexLock lock(mu_);
  v1::ListTasksResponse out;
  for (const auto& [id, t] : state_.model->tasks) {
    if (!req.include_finished() && model::IsTaskFinished(t.info().state())) continue;
    if (!req.store().empty() && t.info().store() != req.store()) continue;
    *out.add_tasks() = t.info();
  }
  return out;
}

v1::AutomationState Queries::GetAutomation() const {
  absl::MutexLock lock(mu_);
  return AutomationStateForClients(*state_.automation, *state_.model, clock_->NowMs(), *config_);
}

ClusterSnapshot Queries::Snapshot() const {
  absl::MutexLock lock(mu_);
  const ClusterModel& model = *state_.model;
  ClusterSnapshot out;
  out.now_ms = clock_->NowMs();
  out.hosts.reserve(model.hosts.size());
  for (const auto& [name, rec] : model.hosts) out.hosts.push_back(rec.info());
  out.stores.reserve(model.stores.size());
  for (const auto& [name, rec] : model.stores) out.stores.push_back(rec.info());
  out.tasks.reserve(model.tasks.size());
  for (const auto& [id, t] : model.tasks) out.tasks.push_back(t.info());
  out.automation = AutomationStateForClients(*state_.automation, model, out.now_ms, *config_);
  return out;
}

v1::ConsistencyReport Queries::CheckModel(int64_t max_lag_ms) const {
  std::vector<v1::StoreInfo> stores;
  std::vector<v1::HostInfo> hosts;
  {
    absl::MutexLock lock(mu_);
    for (const auto& [name, rec] : state_.model->stores) {
      stores.push_back(StoreInfoWithUsers(rec, *state_.users));
    }
    for (const auto& [name, rec] : state_.model->hosts) hosts.push_back(rec.info());
  }
  // The rules live in ksck.h; they run outside the lock on a copy.
  return CheckConsistency(stores, hosts,
                          max_lag_ms > 0 ? max_lag_ms : config_->max_failover_lag_ms);
}

absl::StatusOr<std::vector<CopyToVerify>> Queries::CopiesOf(const std::string& store,
                                                            const v1::SlotRef* slot) const {
  absl::MutexLock lock(mu_);
  const ClusterModel& model = *state_.model;
  std::vector<CopyToVerify> out;
  auto peer_of = [&](const std::string& host) {
    const HostRecord* h = FindHost(model, host);
    return h != nullptr ? h->info().peer_address() : std::string();
  };
  if (slot != nullptr) {
    const v1::SlotInfo* s = FindSlot(model, *slot);
    if (s == nullptr) return absl::NotFoundError(absl::StrCat("no slot ", model::SlotName(*slot)));
    out.push_back({s->store(), *slot, peer_of(slot->host()), s->role() == v1::SLOT_MASTER});
    return out;
  }
  auto it = model.stores.find(store);
  if (it == model.stores.end()) return absl::NotFoundError(absl::StrCat("no store '", store, "'"));
  for (const v1::Copy& c : it->second.info().copies()) {
    if (c.role() == v1::SLOT_LOST) continue;
    out.push_back({store, c.slot(), peer_of(c.slot().host()), c.role() == v1::SLOT_MASTER});
  }
  return out;
}

std::vector<CopyToVerify> Queries::CopiesToVerify() const {
  absl::MutexLock lock(mu_);
  std::vector<CopyToVerify> out;
  for (const auto& [name, rec] : state_.model->stores) {
    for (const auto& c : rec.info().copies()) {
      if (!model::IsUsableCopy(c)) continue;
      const HostRecord* h = FindHost(*state_.model, c.slot().host());
      out.push_back({name, c.slot(), h != nullptr ? h->info().peer_address() : "",
                     c.role() == v1::SLOT_MASTER});
    }
  }
  return out;
}

absl::StatusOr<v1::ListEventsResponse> Queries::ListEvents(const v1::ListEventsRequest& req) const {
  if (req.until_ms() != 0 && req.until_ms() < req.since_ms()) {
    return absl::InvalidArgumentError("until_ms is before since_ms");
  }
  v1::ListEventsResponse out;
  if (req.before_seq() != 0 && req.before_seq() <= req.after_seq() + 1) return out;  // none between
  EventQuery q;
  q.since_ms = req.since_ms();
  q.until_ms = req.until_ms();
  q.after_seq = req.after_seq();
  q.before_seq = req.before_seq();
  q.newest_first = req.newest_first();
  q.limit = req.limit() == 0 ? 1000 : std::min<uint32_t>(req.limit(), 100000);
  q.store = req.store();
  q.host = req.host();
  q.kind = req.kind();
  absl::StatusOr<EventPage> page = store_->ReadEventPage(q);
  if (!page.ok()) return page.status();
  for (auto& e : page->events) *out.add_events() = std::move(e);
  out.set_remaining(page->remaining);
  return out;
}

absl::StatusOr<std::vector<v1::Event>> Queries::EventsAfter(uint64_t after_seq,
                                                            size_t limit) const {
  {
    absl::MutexLock lock(mu_);
    std::optional<std::vector<v1::Event>> recent = state_.journal->RecentAfter(after_seq, limit);
    if (recent) return *std::move(recent);
  }
  EventQuery q;
  q.after_seq = after_seq;
  q.limit = limit;
  return store_->ReadEvents(q);
}

bool Queries::WaitForEventAfter(uint64_t after_seq, absl::Duration timeout) const {
  absl::MutexLock lock(mu_);
  return state_.journal->AwaitEventAfter(*mu_, after_seq, timeout);
}

uint64_t Queries::LastEventSeq() const {
  absl::MutexLock lock(mu_);
  return state_.journal->LastSeq();
}

std::vector<v1::RoutingChange> Queries::RoutingAfter(uint64_t after, uint64_t* next) const {
  absl::MutexLock lock(mu_);
  return state_.journal->RoutingAfter(after, next);
}

uint64_t Queries::RoutingCursor() const {
  absl::MutexLock lock(mu_);
  return state_.journal->RoutingCursor();
}

bool Queries::WaitForRoutingAfter(uint64_t after, absl::Duration timeout) const {
  absl::MutexLock lock(mu_);
  return state_.journal->AwaitRoutingAfter(*mu_, after, timeout);
}

v1::PeerGrants Queries::PeerGrantsOf(const std::string& host) const {
  absl::MutexLock lock(mu_);
  return PeerGrantsFor(*state_.model, host);
}

ClusterModel Queries::TEST_Model() const {
  absl::MutexLock lock(mu_);
  return *state_.model;
}

}  // namespace slotkeeper::slotmgr
