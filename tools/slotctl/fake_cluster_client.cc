#include "tools/slotctl/fake_cluster_client.h"

#include <algorithm>

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

v1::SlotInfo* FakeCluster::FindSlot(const v1::SlotRef& ref) {
  v1::HostInfo* h = FindHost(ref.host());
  if (h == nullptr) return nullptr;
  for (v1::SlotInfo& s : *h->mutable_slots()) {
    if (s.ref().slot() == ref.slot()) return &s;
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
  c_->automation.set_units_lost_last_hour(c_->automation.units_lost_last_hour() + 1);
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
  if (!request.host().empty()) {
    if (c_->FindHost(request.host()) == nullptr) {
      return absl::NotFoundError(absl::StrCat("no host '", request.host(), "'"));
    }
    auto* paused = c_->automation.mutable_paused_hosts();
    for (int i = paused->size() - 1; i >= 0; --i) {
      if (paused->Get(i).host() == request.host()) paused->DeleteSubrange(i, 1);
    }
    if (request.paused()) {
      v1::PausedHost* p = paused->Add();
      p->set_host(request.host());
      p->mutable_pause()->set_reason(request.reason());
      p->mutable_pause()->set_set_by(request.set_by());
    }
    return c_->automation;
  }
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

absl::StatusOr<v1::AutomationState> FakeClusterClient::AckAutomation(
    const v1::AckAutomationRequest& request) {
  if (absl::Status s = Enter("AckAutomation"); !s.ok()) return s;
  c_->last_ack = request;
  if (!c_->automation.brake_engaged()) {
    return absl::FailedPreconditionError(
        "the evidence brake is not engaged: nothing to acknowledge");
  }
  c_->automation.set_brake_engaged(false);
  c_->automation.clear_brake_reason();
  return c_->automation;
}

absl::StatusOr<v1::ReinstateUnitResponse> FakeClusterClient::ReinstateUnit(
    const v1::ReinstateUnitRequest& request) {
  if (absl::Status s = Enter(request.dry_run() ? "ReinstateUnit dry-run" : "ReinstateUnit");
      !s.ok()) {
    return s;
  }
  c_->last_reinstate = request;
  v1::HostInfo* h = c_->FindHost(request.host());
  if (h == nullptr) return absl::NotFoundError(absl::StrCat("no host '", request.host(), "'"));
  // The coordinator's first checks (slotmgr/reinstate.cc), dry run or not.
  const std::string name = absl::StrCat(request.host(), "/", request.unit());
  const v1::UnitInfo* unit = nullptr;
  for (const v1::UnitInfo& u : h->units()) {
    if (u.name() == request.unit()) unit = &u;
  }
  if (unit == nullptr) return absl::NotFoundError(absl::StrCat("no drive unit ", name));
  if (unit->state() == v1::UNIT_ONLINE) {
    return absl::FailedPreconditionError(absl::StrCat(name, " is online: nothing to reinstate"));
  }
  if (!c_->reinstate_error.ok()) return c_->reinstate_error;
  v1::ReinstateUnitResponse resp = c_->reinstate;
  resp.set_done(!request.dry_run());
  return resp;
}

absl::StatusOr<v1::ConsistencyReport> FakeClusterClient::CheckConsistency(
    const v1::CheckConsistencyRequest& request) {
  std::string call = request.verify_data() ? "CheckConsistency verify-data" : "CheckConsistency";
  if (request.deep()) absl::StrAppend(&call, " deep");
  if (request.max_lag_ms() != 0) absl::StrAppend(&call, " max-lag=", request.max_lag_ms());
  if (absl::Status s = Enter(call); !s.ok()) {
    return s;
  }
  if (!c_->check_consistency_error.ok()) return c_->check_consistency_error;
  v1::ConsistencyReport report = c_->consistency;
  report.set_data_verified(request.verify_data() && !c_->agent_unanswered);
  return report;
}

// ---- Data safety: the checks of slotmgr/data_safety.cc and
// automation_service.cc, over the literal agents' data.

namespace {

std::string SlotKey(const v1::SlotRef& ref) { return absl::StrCat(ref.host(), "/", ref.slot()); }

const v1::Copy* MasterOf(const v1::StoreInfo& store) {
  for (const v1::Copy& c : store.copies()) {
    if (c.role() == v1::SLOT_MASTER) return &c;
  }
  return nullptr;
}

}  // namespace

v1::SlotQuarantine FakeClusterClient::ListSlot(const v1::SlotRef& slot, const std::string& store,
                                               const v1::ListQuarantineItemsRequest& request) {
  v1::SlotQuarantine sq;
  *sq.mutable_slot() = slot;
  sq.set_store(store);
  const std::string key = SlotKey(slot);
  if (auto err = c_->agent_errors.find(key); err != c_->agent_errors.end()) {
    sq.set_error(err->second);
    return sq;
  }
  for (const v1::QuarantineItem& item : c_->quarantine[key]) {
    if (!request.user().empty() && item.user() != request.user()) continue;
    sq.set_total_items(sq.total_items() + 1);
    sq.set_total_bytes(sq.total_bytes() + item.size());
    if (request.limit() == 0 || sq.items_size() < static_cast<int>(request.limit())) {
      *sq.add_items() = item;
    }
  }
  return sq;
}

absl::StatusOr<v1::ListQuarantineItemsResponse> FakeClusterClient::ListQuarantine(
    const v1::ListQuarantineItemsRequest& request) {
  if (absl::Status s = Enter("ListQuarantine"); !s.ok()) return s;
  c_->last_list_quarantine = request;
  v1::ListQuarantineItemsResponse resp;
  if (!request.host().empty() || !request.slot().empty()) {
    v1::SlotRef ref;
    ref.set_host(request.host());
    ref.set_slot(request.slot());
    v1::SlotInfo* slot = c_->FindSlot(ref);
    if (slot == nullptr) return absl::NotFoundError(absl::StrCat("no slot ", SlotKey(ref)));
    *resp.add_slots() = ListSlot(ref, slot->store(), request);
    return resp;
  }
  if (request.store().empty()) {
    return absl::InvalidArgumentError("name a store, or a host and a slot");
  }
  v1::StoreInfo* store = c_->FindStore(request.store());
  if (store == nullptr)
    return absl::NotFoundError(absl::StrCat("no store '", request.store(), "'"));
  for (const v1::Copy& c : store->copies()) {
    if (c.role() != v1::SLOT_LOST) *resp.add_slots() = ListSlot(c.slot(), store->name(), request);
  }
  return resp;
}

absl::StatusOr<v1::RestoreQuarantinedResponse> FakeClusterClient::RestoreQuarantined(
    const v1::RestoreQuarantinedRequest& request) {
  if (absl::Status s = Enter("RestoreQuarantined"); !s.ok()) return s;
  c_->last_restore = request;
  if (request.item_id().empty()) return absl::InvalidArgumentError("item_id is empty");
  v1::SlotInfo* slot = c_->FindSlot(request.slot());
  if (slot == nullptr)
    return absl::NotFoundError(absl::StrCat("no slot ", SlotKey(request.slot())));
  v1::StoreInfo* store = c_->FindStore(slot->store());
  if (store == nullptr) {
    return absl::FailedPreconditionError(
        absl::StrCat(SlotKey(request.slot()), " holds no copy of a store now"));
  }
  const v1::Copy* master = MasterOf(*store);
  if (master == nullptr || !master->usable()) {
    return absl::FailedPreconditionError(
        absl::StrCat("store ", store->name(), " has no usable master to restore into; try later"));
  }
  v1::RestoreQuarantinedResponse resp;
  resp.set_store(store->name());
  *resp.mutable_into() = master->slot();
  resp.set_command_id(absl::StrCat("cmd-", c_->calls.size()));
  return resp;
}

absl::StatusOr<v1::PurgeQuarantineItemsResponse> FakeClusterClient::PurgeQuarantine(
    const v1::PurgeQuarantineItemsRequest& request) {
  if (absl::Status s = Enter("PurgeQuarantine"); !s.ok()) return s;
  c_->purges.push_back(request);
  if (request.older_than_ms() <= 0 && request.item_ids().empty()) {
    return absl::InvalidArgumentError("say what to purge: older_than_ms or item_ids");
  }
  if (c_->FindSlot(request.slot()) == nullptr) {
    return absl::NotFoundError(absl::StrCat("no slot ", SlotKey(request.slot())));
  }
  std::vector<v1::QuarantineItem>& items = c_->quarantine[SlotKey(request.slot())];
  items.erase(std::remove_if(items.begin(), items.end(),
                             [&](const v1::QuarantineItem& item) {
                               if (item.quarantined_ms() < request.older_than_ms()) return true;
                               return std::find(request.item_ids().begin(),
                                                request.item_ids().end(),
                                                item.id()) != request.item_ids().end();
                             }),
              items.end());
  v1::PurgeQuarantineItemsResponse resp;
  resp.set_command_id(absl::StrCat("cmd-", c_->calls.size()));
  return resp;
}

absl::StatusOr<v1::UnblockUserResponse> FakeClusterClient::UnblockUser(
    const v1::UnblockUserRequest& request) {
  if (absl::Status s = Enter("UnblockUser"); !s.ok()) return s;
  c_->last_unblock = request;
  v1::StoreInfo* store = c_->FindStore(request.store());
  if (store == nullptr)
    return absl::NotFoundError(absl::StrCat("no store '", request.store(), "'"));
  v1::UnblockUserResponse resp;
  for (const v1::Copy& c : store->copies()) {
    const auto& blocked = c.blocked_users();
    if (std::find(blocked.begin(), blocked.end(), request.user()) != blocked.end()) {
      *resp.add_slots() = c.slot();
    }
  }
  if (resp.slots().empty()) {
    return absl::FailedPreconditionError(
        absl::StrCat("no copy of ", request.store(), " reports user ", request.user(), " blocked"));
  }
  return resp;
}

absl::StatusOr<v1::ReconcileStoreResponse> FakeClusterClient::ReconcileStore(
    const v1::ReconcileStoreRequest& request) {
  if (absl::Status s = Enter(request.dry_run() ? "ReconcileStore dry-run" : "ReconcileStore");
      !s.ok()) {
    return s;
  }
  c_->last_reconcile = request;
  v1::StoreInfo* store = c_->FindStore(request.store());
  if (store == nullptr)
    return absl::NotFoundError(absl::StrCat("no store named ", request.store()));
  v1::ReconcileStoreResponse resp;
  std::vector<v1::SlotRef> sources;
  for (const v1::SlotRef& f : request.from()) {
    const bool copy = std::any_of(store->copies().begin(), store->copies().end(), [&](auto& c) {
      return c.role() != v1::SLOT_MASTER && SlotKey(c.slot()) == SlotKey(f);
    });
    if (!copy) {
      return absl::InvalidArgumentError(
          absl::StrCat("from: ", SlotKey(f), " is not an old copy of store ", store->name()));
    }
  }
  auto wanted = [&](const v1::SlotRef& slot) {
    return request.from().empty() ||
           std::any_of(request.from().begin(), request.from().end(),
                       [&](const v1::SlotRef& f) { return SlotKey(f) == SlotKey(slot); });
  };
  for (const v1::Copy& c : store->copies()) {
    if (c.stranded_messages() == 0 || c.role() == v1::SLOT_MASTER || !wanted(c.slot())) continue;
    v1::StrandedOn* on = resp.add_stranded();
    *on->mutable_slot() = c.slot();
    const std::string key = SlotKey(c.slot());
    if (auto err = c_->agent_errors.find(key); err != c_->agent_errors.end()) {
      on->set_error(err->second);
      continue;
    }
    for (const v1::StrandedMessage& m : c_->stranded[key]) *on->add_messages() = m;
    if (on->messages_size() > 0) sources.push_back(c.slot());
  }
  if (request.dry_run() || sources.empty()) return resp;
  const v1::Copy* master = MasterOf(*store);
  if (master == nullptr || !master->usable()) {
    return absl::FailedPreconditionError(
        absl::StrCat("store ", store->name(), " has no usable master to copy stranded mail into"));
  }
  *resp.mutable_master() = master->slot();
  for (size_t i = 0; i < sources.size(); ++i) {
    resp.add_command_ids(absl::StrCat("cmd-", c_->calls.size(), "-", i));
  }
  return resp;
}

}  // namespace slotkeeper::slotctl
