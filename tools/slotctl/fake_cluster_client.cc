#include "tools/slotctl/fake_cluster_client.h"

#include "absl/strings/str_cat.h"

namespace slotkeeper::slotctl {

v1::HostInfo* FakeCluster::FindHost(const std::string& name) {
  for (v1::HostInfo& h : hosts) {
    if (h.name() == name) return &h;
  }
  return nullptr;
}

v1::StoreInfo* FakeCluster::FindStore(const std::string& name) {
  for (v1::StoreInfo& s : stores) {
    if (s.name() == name) return &s;
  }
  return nullptr;
}

absl::Status FakeClusterClient::Enter(const std::string& method) {
  c_->calls.push_back(method);
  return c_->fail_all;
}

absl::StatusOr<v1::ClusterStatus> FakeClusterClient::GetClusterStatus(
    const v1::GetClusterStatusRequest&) {
  if (absl::Status s = Enter("GetClusterStatus"); !s.ok()) return s;
  return c_->status;
}

absl::StatusOr<v1::ListHostsResponse> FakeClusterClient::ListHosts(const v1::ListHostsRequest&) {
  if (absl::Status s = Enter("ListHosts"); !s.ok()) return s;
  v1::ListHostsResponse resp;
  for (const v1::HostInfo& h : c_->hosts) *resp.add_hosts() = h;
  return resp;
}

absl::StatusOr<v1::HostInfo> FakeClusterClient::GetHost(const v1::GetHostRequest& request) {
  if (absl::Status s = Enter("GetHost"); !s.ok()) return s;
  v1::HostInfo* h = c_->FindHost(request.host());
  if (h == nullptr) return absl::NotFoundError(absl::StrCat("no host named ", request.host()));
  return *h;
}

absl::StatusOr<v1::ListStoresResponse> FakeClusterClient::ListStores(
    const v1::ListStoresRequest& request) {
  if (absl::Status s = Enter("ListStores"); !s.ok()) return s;
  v1::ListStoresResponse resp;
  for (const v1::StoreInfo& st : c_->stores) {
    if (request.troubled_only() && st.state() == v1::STORE_HEALTHY) continue;
    *resp.add_stores() = st;
  }
  return resp;
}

absl::StatusOr<v1::StoreInfo> FakeClusterClient::GetStore(const v1::GetStoreRequest& request) {
  if (absl::Status s = Enter("GetStore"); !s.ok()) return s;
  v1::StoreInfo* st = c_->FindStore(request.store());
  if (st == nullptr) return absl::NotFoundError(absl::StrCat("no store named ", request.store()));
  return *st;
}

absl::StatusOr<v1::StoreInfo> FakeClusterClient::CreateStore(
    const v1::CreateStoreRequest& request) {
  if (absl::Status s = Enter("CreateStore"); !s.ok()) return s;
  c_->last_create_store = request;
  if (c_->FindStore(request.store()) != nullptr) {
    return absl::AlreadyExistsError(absl::StrCat("store ", request.store(), " exists"));
  }
  if (c_->FindHost(request.master().host()) == nullptr) {
    return absl::NotFoundError(absl::StrCat("no host named ", request.master().host()));
  }
  v1::StoreInfo store;
  store.set_name(request.store());
  store.set_state(v1::STORE_DEGRADED);
  store.set_required_copies(request.copies() != 0 ? request.copies() : 1 + request.replicas_size());
  store.set_master_epoch(1);
  v1::Copy* master = store.add_copies();
  *master->mutable_slot() = request.master();
  master->set_role(v1::SLOT_MASTER);
  master->set_usable(true);
  for (const v1::SlotRef& r : request.replicas()) {
    v1::Copy* c = store.add_copies();
    *c->mutable_slot() = r;
    c->set_role(v1::SLOT_SEEDING);
    c->set_usable(true);
  }
  c_->stores.push_back(store);
  return store;
}

absl::StatusOr<v1::UserLocation> FakeClusterClient::LookupUser(
    const v1::LookupUserRequest& request) {
  if (absl::Status s = Enter("LookupUser"); !s.ok()) return s;
  auto it = c_->users.find(request.user());
  if (it == c_->users.end()) {
    return absl::NotFoundError(absl::StrCat("no user named ", request.user()));
  }
  return it->second;
}

absl::Status FakeClusterClient::WatchRouting(const v1::WatchRoutingRequest&,
                                             const StreamCallback<v1::RoutingChange>&) {
  if (absl::Status s = Enter("WatchRouting"); !s.ok()) return s;
  return absl::OkStatus();  // no routing changes in the fake
}

absl::StatusOr<v1::ListTasksResponse> FakeClusterClient::ListTasks(
    const v1::ListTasksRequest& request) {
  if (absl::Status s = Enter("ListTasks"); !s.ok()) return s;
  v1::ListTasksResponse resp;
  for (const v1::TaskInfo& t : c_->tasks) {
    const bool finished = t.state() == v1::TASK_DONE || t.state() == v1::TASK_FAILED ||
                          t.state() == v1::TASK_CANCELLED;
    if (finished && !request.include_finished()) continue;
    if (!request.store().empty() && t.store() != request.store()) continue;
    *resp.add_tasks() = t;
  }
  return resp;
}

absl::StatusOr<v1::ListEventsResponse> FakeClusterClient::ListEvents(
    const v1::ListEventsRequest& request) {
  if (absl::Status s = Enter("ListEvents"); !s.ok()) return s;
  c_->last_list_events = request;
  v1::ListEventsResponse resp;
  for (const v1::Event& e : c_->events) {
    if (e.time_ms() < request.since_ms()) continue;
    if (!request.store().empty() && e.store() != request.store()) continue;
    if (!request.host().empty() && e.host() != request.host()) continue;
    if (request.limit() != 0 && resp.events_size() >= static_cast<int>(request.limit())) break;
    *resp.add_events() = e;
  }
  return resp;
}

absl::Status FakeClusterClient::WatchEvents(const v1::WatchEventsRequest& request,
                                            const StreamCallback<v1::Event>& on_event) {
  if (absl::Status s = Enter("WatchEvents"); !s.ok()) return s;
  c_->last_watch_events = request;
  // The stream ends after the journal (a real server would keep it open).
  for (const v1::Event& e : c_->events) {
    if (e.time_ms() < request.since_ms() || e.seq() <= request.after_seq()) continue;
    if (!on_event(e)) break;
  }
  return absl::OkStatus();
}

v1::FailoverPlanItem FakeClusterClient::PlanStore(const v1::StoreInfo& store,
                                                  const v1::FailoverRequest& request) {
  v1::FailoverPlanItem item;
  item.set_store(store.name());
  const v1::Copy* target = nullptr;
  for (const v1::Copy& c : store.copies()) {
    if (c.role() == v1::SLOT_MASTER) *item.mutable_from() = c.slot();
    if (c.role() != v1::SLOT_REPLICA) continue;
    if (request.has_to()) {
      if (c.slot().host() == request.to().host() && c.slot().slot() == request.to().slot()) {
        target = &c;
      }
    } else if (target == nullptr || (c.usable() && c.in_sync() && !target->in_sync())) {
      target = &c;
    }
  }
  if (target == nullptr) {
    item.set_refused(request.has_to() ? "the --to slot is not a replica of this store"
                                      : "no replica to promote");
    return item;
  }
  *item.mutable_to() = target->slot();
  if (!request.force()) {
    if (!target->usable()) {
      item.set_refused(absl::StrCat("target ", target->slot().host(), "/", target->slot().slot(),
                                    " is unhealthy: ", target->unusable_reason()));
    } else if (!target->in_sync()) {
      item.set_refused(absl::StrCat("target ", target->slot().host(), "/", target->slot().slot(),
                                    " is behind by ", target->lag_ms() / 1000, "s"));
    }
  }
  item.set_done(!request.dry_run() && item.refused().empty());
  return item;
}

absl::StatusOr<v1::FailoverResponse> FakeClusterClient::Failover(
    const v1::FailoverRequest& request) {
  if (absl::Status s = Enter(request.dry_run() ? "Failover dry-run" : "Failover"); !s.ok()) {
    return s;
  }
  c_->last_failover = request;
  v1::FailoverResponse resp;
  if (!request.store().empty()) {
    v1::StoreInfo* store = c_->FindStore(request.store());
    if (store == nullptr) {
      return absl::NotFoundError(absl::StrCat("no store named ", request.store()));
    }
    *resp.add_items() = PlanStore(*store, request);
    return resp;
  }
  if (c_->FindHost(request.host()) == nullptr) {
    return absl::NotFoundError(absl::StrCat("no host named ", request.host()));
  }
  for (const v1::StoreInfo& store : c_->stores) {
    for (const v1::Copy& c : store.copies()) {
      if (c.role() == v1::SLOT_MASTER && c.slot().host() == request.host()) {
        *resp.add_items() = PlanStore(store, request);
      }
    }
  }
  return resp;
}

absl::StatusOr<v1::DrainResponse> FakeClusterClient::Drain(const v1::DrainRequest& request) {
  if (absl::Status s = Enter("Drain"); !s.ok()) return s;
  c_->last_drain = request;
  v1::HostInfo* h = c_->FindHost(request.host());
  if (h == nullptr) return absl::NotFoundError(absl::StrCat("no host named ", request.host()));
  h->set_draining(true);
  h->set_drain_reason(request.reason());
  v1::DrainResponse resp;
  for (const v1::SlotInfo& s : h->slots()) {
    if (s.role() == v1::SLOT_MASTER) resp.set_masters_to_move(resp.masters_to_move() + 1);
  }
  return resp;
}

absl::StatusOr<v1::DrainResponse> FakeClusterClient::Undrain(const v1::DrainRequest& request) {
  if (absl::Status s = Enter("Undrain"); !s.ok()) return s;
  c_->last_drain = request;
  v1::HostInfo* h = c_->FindHost(request.host());
  if (h == nullptr) return absl::NotFoundError(absl::StrCat("no host named ", request.host()));
  h->set_draining(false);
  return v1::DrainResponse();
}

absl::StatusOr<v1::MarkLostResponse> FakeClusterClient::MarkLost(
    const v1::MarkLostRequest& request) {
  if (absl::Status s = Enter("MarkLost"); !s.ok()) return s;
  c_->last_mark_lost = request;
  v1::HostInfo* h = c_->FindHost(request.host());
  if (h == nullptr) return absl::NotFoundError(absl::StrCat("no host named ", request.host()));
  v1::UnitInfo* unit = nullptr;
  for (v1::UnitInfo& u : *h->mutable_units()) {
    if (u.name() == request.unit()) unit = &u;
  }
  if (unit == nullptr) {
    return absl::NotFoundError(
        absl::StrCat("host ", request.host(), " has no drive unit ", request.unit()));
  }
  unit->set_state(v1::UNIT_LOST);
  v1::MarkLostResponse resp;
  for (const v1::SlotInfo& s : h->slots()) {
    bool on_unit = false;
    for (const v1::FilesystemInfo& f : h->filesystems()) {
      if (f.mount_point() == s.filesystem() && f.unit() == request.unit()) on_unit = true;
    }
    if (!on_unit || s.store().empty()) continue;
    resp.add_affected_stores(s.store());
    resp.add_tasks_created(absl::StrCat("t-", s.store()));
  }
  return resp;
}

absl::StatusOr<v1::AutomationState> FakeClusterClient::SetAutomation(
    const v1::SetAutomationRequest& request) {
  if (absl::Status s = Enter("SetAutomation"); !s.ok()) return s;
  c_->last_set_automation = request;
  c_->automation.set_mode(request.paused() ? v1::AUTOMATION_PAUSED : v1::AUTOMATION_RUNNING);
  c_->automation.set_reason(request.reason());
  c_->automation.set_set_by(request.set_by());
  return c_->automation;
}

absl::StatusOr<v1::AutomationState> FakeClusterClient::GetAutomation(
    const v1::GetAutomationRequest&) {
  if (absl::Status s = Enter("GetAutomation"); !s.ok()) return s;
  return c_->automation;
}

absl::StatusOr<v1::ConsistencyReport> FakeClusterClient::CheckConsistency(
    const v1::CheckConsistencyRequest& request) {
  std::string call = request.verify_data() ? "CheckConsistency verify-data" : "CheckConsistency";
  if (request.max_lag_ms() != 0) absl::StrAppend(&call, " max-lag=", request.max_lag_ms());
  if (absl::Status s = Enter(call); !s.ok()) {
    return s;
  }
  if (!c_->check_consistency_error.ok()) return c_->check_consistency_error;
  v1::ConsistencyReport report = c_->consistency;
  report.set_data_verified(request.verify_data());
  return report;
}

}  // namespace slotkeeper::slotctl
