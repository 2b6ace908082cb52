#include "slotmgr/model.h"

#include <algorithm>
#include <cstdlib>
#include <utility>

#include "absl/strings/str_cat.h"
#include "base/log.h"
#include "proto/model_util.h"

namespace slotkeeper::slotmgr {
namespace {

// A transition the state machine refuses: a bug in the coordinator. Logged;
// in debug builds (tests), the process stops here so the bug is found.
absl::Status Refused(absl::Status status) {
  LogError("coordinator", absl::StrCat("refused state change: ", status.message()));
#ifndef NDEBUG
  std::abort();
#endif
  return status;
}

}  // namespace

const HostRecord* FindHost(const ClusterModel& model, const std::string& host) {
  auto it = model.hosts.find(host);
  return it == model.hosts.end() ? nullptr : &it->second;
}

const v1::SlotInfo* FindSlot(const ClusterModel& model, const v1::SlotRef& ref) {
  const HostRecord* h = FindHost(model, ref.host());
  if (h == nullptr) return nullptr;
  for (const v1::SlotInfo& s : h->info().slots()) {
    if (s.ref().slot() == ref.slot()) return &s;
  }
  return nullptr;
}

v1::SlotInfo* FindSlot(ClusterModel* model, const v1::SlotRef& ref) {
  return const_cast<v1::SlotInfo*>(FindSlot(*static_cast<const ClusterModel*>(model), ref));
}

v1::Copy* FindCopy(StoreRecord& store, const v1::SlotRef& ref) {
  for (auto& c : *store.mutable_info()->mutable_copies()) {
    if (model::SameSlot(c.slot(), ref)) return &c;
  }
  return nullptr;
}

const v1::Copy* MasterCopy(const StoreRecord& store) {
  for (const auto& c : store.info().copies()) {
    if (c.role() == v1::SLOT_MASTER) return &c;
  }
  return nullptr;
}

absl::StatusOr<HostRecord*> FindOperatorHost(ClusterModel& model, const std::string& host) {
  if (host.empty()) return absl::InvalidArgumentError("host is empty");
  auto it = model.hosts.find(host);
  if (it == model.hosts.end()) return absl::NotFoundError(absl::StrCat("no host '", host, "'"));
  return &it->second;
}

v1::Endpoint EndpointOf(const ClusterModel& model, const v1::SlotRef& ref) {
  v1::Endpoint ep;
  *ep.mutable_slot() = ref;
  if (const v1::SlotInfo* s = FindSlot(model, ref)) {
    ep.set_service_address(s->service_address());
    ep.set_usable(s->usable());
  }
  return ep;
}

std::vector<v1::CopyPeer> OtherCopies(const ClusterModel& model, const StoreRecord& store,
                                      const v1::SlotRef& master) {
  std::vector<v1::CopyPeer> out;
  for (const v1::Copy& c : store.info().copies()) {
    if (c.role() != v1::SLOT_REPLICA || model::SameSlot(c.slot(), master)) continue;
    v1::CopyPeer& p = out.emplace_back();
    *p.mutable_slot() = c.slot();
    if (const HostRecord* h = FindHost(model, c.slot().host())) {
      p.set_peer_address(h->info().peer_address());
    }
  }
  return out;
}

void UserIndex::Restore(std::map<std::string, std::string> users) {
  store_of_ = std::move(users);
  count_.clear();
  for (const auto& [user, store] : store_of_) ++count_[store];
}

bool UserIndex::Assign(const std::string& user, const std::string& store) {
  auto it = store_of_.find(user);
  if (it != store_of_.end() && it->second == store) return false;
  if (it != store_of_.end()) --count_[it->second];
  ++count_[store];
  store_of_[user] = store;
  return true;
}

const std::string* UserIndex::StoreOf(const std::string& user) const {
  auto it = store_of_.find(user);
  return it == store_of_.end() ? nullptr : &it->second;
}

uint64_t UserIndex::CountOf(const std::string& store) const {
  auto it = count_.find(store);
  return it == count_.end() ? 0 : it->second;
}

v1::StoreInfo StoreInfoWithUsers(const StoreRecord& store, const UserIndex& users) {
  v1::StoreInfo info = store.info();
  uint64_t count = users.CountOf(info.name());
  for (const v1::Copy& c : info.copies()) {
    if (c.usable()) count = std::max(count, c.user_count());
  }
  info.set_user_count(count);
  return info;
}

const SlotCopyIndex::HostSlots& SlotCopyIndex::For(const std::string& host,
                                                   const v1::HostInfo& info, ClusterModel& model) {
  HostSlots& cache = hosts_[host];
  if (cache.generation == generation_ &&
      cache.name.size() == static_cast<size_t>(info.slots_size())) {
    return cache;
  }
  cache.generation = generation_;
  cache.store.assign(info.slots_size(), nullptr);
  cache.copy.assign(info.slots_size(), nullptr);
  cache.name.clear();
  for (int i = 0; i < info.slots_size(); ++i) {
    const v1::SlotInfo& si = info.slots(i);
    cache.name.push_back(model::SlotName(si.ref()));
    auto sit = model.stores.find(si.store());
    if (si.store().empty() || sit == model.stores.end()) continue;
    cache.store[i] = &sit->second;
    cache.copy[i] = FindCopy(sit->second, si.ref());
  }
  return cache;
}

v1::UnitState NextUnitState(v1::UnitState current, bool hard_evidence, bool declared_lost) {
  if (current == v1::UNIT_LOST || declared_lost) return v1::UNIT_LOST;
  return hard_evidence ? v1::UNIT_FAILED : v1::UNIT_ONLINE;
}

absl::Status CheckSlotRoleTransition(v1::SlotRole from, v1::SlotRole to) {
  if (from == to) return absl::OkStatus();
  bool ok = false;
  switch (to) {
    case v1::SLOT_LOST:
      ok = true;
      break;
    case v1::SLOT_SEEDING:
      ok = from == v1::SLOT_SPARE || from == v1::SLOT_LOST || from == v1::SLOT_REPLICA;
      break;
    case v1::SLOT_REPLICA:
      ok = from == v1::SLOT_SEEDING || from == v1::SLOT_MASTER;
      break;
    case v1::SLOT_MASTER:
      ok = from == v1::SLOT_REPLICA || from == v1::SLOT_SPARE;
      break;
    case v1::SLOT_SPARE:
      ok = from == v1::SLOT_REPLICA || from == v1::SLOT_SEEDING || from == v1::SLOT_LOST;
      break;
    default:
      ok = false;
  }
  if (ok) return absl::OkStatus();
  return absl::FailedPreconditionError(
      absl::StrCat("slot role cannot change from ", model::Name(from), " to ", model::Name(to)));
}

absl::Status CheckTaskTransition(v1::TaskState from, v1::TaskState to) {
  bool ok = false;
  if (!model::IsTaskFinished(from) && from != v1::TASK_STATE_UNSPECIFIED) {
    switch (to) {
      case v1::TASK_RUNNING:
        ok = from == v1::TASK_QUEUED || from == v1::TASK_RUNNING;
        break;
      case v1::TASK_DONE:
      case v1::TASK_BACKOFF:
        ok = from == v1::TASK_RUNNING;
        break;
      case v1::TASK_FAILED:
        ok = from == v1::TASK_RUNNING || from == v1::TASK_QUEUED;
        break;
      case v1::TASK_QUEUED:
        ok = from == v1::TASK_BACKOFF;
        break;
      case v1::TASK_CANCELLED:
        ok = true;
        break;
      default:
        ok = false;
    }
  }
  if (ok) return absl::OkStatus();
  return absl::FailedPreconditionError(
      absl::StrCat("task cannot change from ", model::Name(from), " to ", model::Name(to)));
}

v1::StoreState DeriveStoreState(bool master_usable, int usable_copies, int required_copies,
                                bool promotable_replica) {
  if (master_usable) {
    return usable_copies >= required_copies ? v1::STORE_HEALTHY : v1::STORE_DEGRADED;
  }
  return promotable_replica ? v1::STORE_NO_MASTER : v1::STORE_UNAVAILABLE;
}

v1::HostState HostStateAfterSilence(int64_t last_heard_ms, int64_t now_ms, int64_t suspect_after_ms,
                                    int64_t down_after_ms) {
  const int64_t silent = now_ms - last_heard_ms;
  if (silent > down_after_ms) return v1::HOST_DOWN;
  if (silent > suspect_after_ms) return v1::HOST_SUSPECT;
  return v1::HOST_UP;
}

absl::Status SetSlotRole(ClusterModel& model, Txn& txn, const v1::SlotRef& ref, v1::SlotRole role,
                         const std::string& store) {
  v1::SlotInfo* slot = FindSlot(&model, ref);
  if (slot != nullptr) {
    absl::Status st = CheckSlotRoleTransition(slot->role(), role);
    if (!st.ok()) {
      return Refused(
          absl::FailedPreconditionError(absl::StrCat(model::SlotName(ref), ": ", st.message())));
    }
    slot->set_role(role);
    slot->set_store(store);
    if (role != v1::SLOT_MASTER) slot->set_lease_valid_until_ms(0);
    txn.hosts.insert(ref.host());
  }
  auto it = model.stores.find(store);
  if (it != model.stores.end()) {
    if (v1::Copy* c = FindCopy(it->second, ref)) c->set_role(role);
    txn.stores.insert(store);
  }
  return absl::OkStatus();
}

absl::Status SetTaskState(Txn& txn, StoredTask& task, v1::TaskState state) {
  absl::Status st = CheckTaskTransition(task.info().state(), state);
  if (!st.ok()) {
    return Refused(
        absl::FailedPreconditionError(absl::StrCat("task ", task.info().id(), ": ", st.message())));
  }
  task.mutable_info()->set_state(state);
  txn.tasks.insert(task.info().id());
  return absl::OkStatus();
}

}  // namespace slotkeeper::slotmgr
