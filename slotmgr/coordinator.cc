// Coordinator: loading, committing, the agent side, and the timers (Tick).
// Operator actions and queries are in coordinator_ops.cc.
#include "slotmgr/coordinator.h"

#include <algorithm>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "slotmgr/failure_detector.h"
#include "slotmgr/log.h"
#include "slotmgr/model.h"

namespace slotkeeper::slotmgr {
namespace {

constexpr size_t kRecentEvents = 10000;

std::string ConditionKey(const v1::Condition& c) {
  return absl::StrCat(c.type(), "|", c.subject_kind(), "|", c.subject());
}

bool SameConditions(const Conditions& a, const Conditions& b) {
  if (a.size() != b.size()) return false;
  std::set<std::string> ka, kb;
  for (const auto& c : a) ka.insert(ConditionKey(c));
  for (const auto& c : b) kb.insert(ConditionKey(c));
  return ka == kb;
}

absl::Status ValidateName(absl::string_view what, absl::string_view name) {
  if (name.empty()) return absl::InvalidArgumentError(absl::StrCat(what, " is empty"));
  if (name.find('/') != absl::string_view::npos || name.size() > 200) {
    return absl::InvalidArgumentError(
        absl::StrCat(what, " '", name, "' must be at most 200 characters without '/'"));
  }
  return absl::OkStatus();
}

absl::Status ValidateInventory(const v1::HostInventory& inv) {
  absl::Status st = ValidateName("inventory.host", inv.host());
  if (!st.ok()) return st;
  std::set<std::string> units, mounts, slots;
  for (const auto& u : inv.units()) {
    if (!(st = ValidateName("drive unit name", u.name())).ok()) return st;
    if (!units.insert(u.name()).second) {
      return absl::InvalidArgumentError(absl::StrCat("drive unit '", u.name(), "' listed twice"));
    }
  }
  for (const auto& f : inv.filesystems()) {
    if (f.mount_point().empty() || f.mount_point()[0] != '/') {
      return absl::InvalidArgumentError(
          absl::StrCat("filesystem mount point '", f.mount_point(), "' is not an absolute path"));
    }
    if (!units.count(f.unit())) {
      return absl::InvalidArgumentError(absl::StrCat(
          "filesystem ", f.mount_point(), " names drive unit '", f.unit(), "', not in inventory"));
    }
    if (!mounts.insert(f.mount_point()).second) {
      return absl::InvalidArgumentError(
          absl::StrCat("filesystem ", f.mount_point(), " listed twice"));
    }
  }
  for (const auto& s : inv.slots()) {
    if (!(st = ValidateName("slot name", s.name())).ok()) return st;
    if (!mounts.count(s.filesystem())) {
      return absl::InvalidArgumentError(absl::StrCat("slot ", s.name(), " names filesystem '",
                                                     s.filesystem(), "', not in inventory"));
    }
    if (!slots.insert(s.name()).second) {
      return absl::InvalidArgumentError(absl::StrCat("slot ", s.name(), " listed twice"));
    }
  }
  for (const auto& c : inv.contents()) {
    if (!slots.count(c.slot())) {
      return absl::InvalidArgumentError(
          absl::StrCat("contents name slot '", c.slot(), "', not in inventory"));
    }
  }
  return absl::OkStatus();
}

}  // namespace

Coordinator::Coordinator(StateStore* store, Clock* clock, CoordinatorConfig config)
    : store_(store), clock_(clock), config_(config) {}

absl::StatusOr<std::unique_ptr<Coordinator>> Coordinator::Create(StateStore* store, Clock* clock,
                                                                 CoordinatorConfig config) {
  std::unique_ptr<Coordinator> c(new Coordinator(store, clock, config));
  absl::MutexLock lock(&c->mu_);
  absl::Status st = c->LoadLocked();
  if (!st.ok()) return st;
  return c;
}

absl::Status Coordinator::LoadLocked() {
  absl::StatusOr<StateSnapshot> snap = store_->Load();
  if (!snap.ok()) return snap.status();
  const int64_t now = clock_->NowMs();
  for (auto& h : snap->hosts) {
    last_heard_ms_[h.info().name()] = now;
    for (const auto& s : h.info().slots()) {
      if (s.role() == v1::SLOT_MASTER) lease_until_ms_[SlotName(s.ref())] = now + config_.lease_ms;
    }
    model_.hosts[h.info().name()] = std::move(h);
  }
  for (auto& s : snap->stores) model_.stores[s.info().name()] = std::move(s);
  for (auto& t : snap->tasks) model_.tasks[t.info().id()] = std::move(t);
  for (auto& o : snap->outbox) outbox_[o.command().id()] = std::move(o);
  users_ = std::move(snap->users);
  meta_ = snap->meta;
  if (meta_.next_event_seq() == 0) meta_.set_next_event_seq(1);
  if (snap->automation) {
    automation_ = *snap->automation;
  } else {
    automation_.mutable_state()->set_mode(v1::AUTOMATION_RUNNING);
    automation_.mutable_state()->set_since_ms(now);
  }
  automation_.mutable_state()->set_failover_limit(config_.failover_rate_limit);
  Txn txn;
  EventLocked(txn, "coordinator.start", v1::INFO,
              absl::StrCat("coordinator started with ", model_.hosts.size(), " hosts, ",
                           model_.stores.size(), " stores, ", model_.tasks.size(), " tasks, ",
                           outbox_.size(), " unacknowledged commands"));
  return CommitLocked(txn);
}

absl::Status Coordinator::CommitLocked(Txn& txn) {
  // Any change to hosts or stores may have moved copies: drop the caches,
  // whether or not the write below succeeds.
  if (!txn.hosts.empty() || !txn.stores.empty()) ++generation_;
  StateBatch batch;
  for (const auto& h : txn.hosts) {
    auto it = model_.hosts.find(h);
    if (it != model_.hosts.end()) batch.PutHost(it->second);
  }
  for (const auto& s : txn.stores) {
    auto it = model_.stores.find(s);
    if (it != model_.stores.end()) batch.PutStore(it->second);
  }
  for (const auto& t : txn.tasks) {
    auto it = model_.tasks.find(t);
    if (it != model_.tasks.end()) batch.PutTask(it->second);
  }
  for (const auto& u : txn.users) batch.PutUser(u, users_[u]);
  for (const auto& c : txn.commands) batch.PutCommand(c);
  for (const auto& id : txn.erased_commands) batch.EraseCommand(id);
  for (const auto& e : txn.events) batch.AppendEvent(e);
  if (txn.automation) batch.PutAutomation(automation_);
  if (txn.meta || !txn.events.empty() || !txn.commands.empty() || !txn.tasks.empty()) {
    batch.PutMeta(meta_);
  }
  if (batch.empty()) return absl::OkStatus();
  absl::Status st = store_->Commit(batch);
  if (!st.ok()) {
    // The in-memory model is ahead of the disk now; the caller sees the error.
    LogError(absl::StrCat("commit failed: ", st.ToString()));
    return st;
  }
  for (auto& e : txn.events) {
    LogInfo(absl::StrCat("event ", e.seq(), " ", e.kind(), ": ", e.text()));
    recent_events_.push_back(std::move(e));
    if (recent_events_.size() > kRecentEvents) recent_events_.pop_front();
  }
  for (auto& r : txn.routing) routing_.push_back(std::move(r));
  txn = Txn();
  return absl::OkStatus();
}

void Coordinator::EventLocked(Txn& txn, const std::string& kind, v1::EventSeverity severity,
                              const std::string& text, const std::string& host,
                              const std::string& slot, const std::string& store,
                              const std::string& task, const std::string& unit) {
  v1::Event e;
  e.set_seq(meta_.next_event_seq());
  meta_.set_next_event_seq(meta_.next_event_seq() + 1);
  e.set_time_ms(clock_->NowMs());
  e.set_kind(kind);
  e.set_severity(severity);
  e.set_host(host);
  e.set_slot(slot);
  e.set_store(store);
  e.set_task(task);
  e.set_unit(unit);
  e.set_text(text);
  txn.events.push_back(std::move(e));
}

void Coordinator::CommandLocked(Txn& txn, const std::string& host, v1::Command command) {
  command.set_id(absl::StrCat("c", meta_.next_command_seq() + 1));
  meta_.set_next_command_seq(meta_.next_command_seq() + 1);
  command.set_issued_ms(clock_->NowMs());
  OutboxEntry entry;
  entry.set_host(host);
  *entry.mutable_command() = command;
  std::string what;
  switch (command.action_case()) {
    case v1::Command::kPromote:
      what = "promote " + command.promote().slot();
      break;
    case v1::Command::kDemote:
      what = "demote " + command.demote().slot();
      break;
    case v1::Command::kAssignReplica:
      what = "assign-replica " + command.assign_replica().slot();
      break;
    case v1::Command::kStartTask:
      what = "start-task " + command.start_task().task_id();
      break;
    case v1::Command::kCancelTask:
      what = "cancel-task " + command.cancel_task().task_id();
      break;
    case v1::Command::kReleaseSlot:
      what = "release " + command.release_slot().slot();
      break;
    default:
      what = "unknown";
      break;
  }
  EventLocked(txn, "command.queued", v1::INFO, absl::StrCat("command ", command.id(), ": ", what),
              host);
  outbox_[command.id()] = entry;
  txn.commands.push_back(std::move(entry));
}

bool Coordinator::AutomationRunningLocked() const {
  return automation_.state().mode() == v1::AUTOMATION_RUNNING;
}

v1::Copy* Coordinator::FindCopyLocked(StoreRecord& store, const v1::SlotRef& ref) {
  for (auto& c : *store.mutable_info()->mutable_copies()) {
    if (SameSlot(c.slot(), ref)) return &c;
  }
  return nullptr;
}

const v1::Copy* Coordinator::MasterCopyLocked(const StoreRecord& store) {
  for (const auto& c : store.info().copies()) {
    if (c.role() == v1::SLOT_MASTER) return &c;
  }
  return nullptr;
}

bool Coordinator::LeaseMayBeValidLocked(const StoreRecord& store, int64_t now) {
  // Any copy may hold a lease: the master, or a former master whose unit was
  // declared lost while its agent still ran.
  for (const auto& c : store.info().copies()) {
    auto it = lease_until_ms_.find(SlotName(c.slot()));
    if (it != lease_until_ms_.end() && it->second > now) return true;
  }
  return false;
}

void Coordinator::SetSlotRoleLocked(Txn& txn, const v1::SlotRef& ref, v1::SlotRole role,
                                    const std::string& store) {
  v1::SlotInfo* slot = FindSlot(&model_, ref);
  if (slot != nullptr) {
    absl::Status st = CheckSlotRoleTransition(slot->role(), role);
    if (!st.ok()) LogWarning(absl::StrCat(SlotName(ref), ": ", st.message()));
    slot->set_role(role);
    slot->set_store(store);
    if (role != v1::SLOT_MASTER) {
      slot->set_lease_valid_until_ms(0);
    }
    txn.hosts.insert(ref.host());
  }
  auto it = model_.stores.find(store);
  if (it != model_.stores.end()) {
    v1::Copy* c = FindCopyLocked(it->second, ref);
    if (c != nullptr) c->set_role(role);
    txn.stores.insert(store);
  }
}

// ---------------------------------------------------------------------------
// Registration and sessions.
// ---------------------------------------------------------------------------

absl::StatusOr<v1::RegisterResponse> Coordinator::Register(const v1::RegisterRequest& request) {
  const v1::HostInventory& inv = request.inventory();
  absl::Status st = ValidateInventory(inv);
  if (!st.ok()) return st;
  absl::MutexLock lock(&mu_);
  const int64_t now = clock_->NowMs();
  Txn txn;
  const bool is_new = !model_.hosts.count(inv.host());
  HostRecord& rec = model_.hosts[inv.host()];
  v1::HostInfo* h = rec.mutable_info();
  std::vector<std::string> changes;
  if (is_new) {
    h->set_name(inv.host());
    h->set_state(v1::HOST_UP);
    h->set_state_since_ms(now);
  }
  h->set_peer_address(inv.peer_address());
  h->set_agent_version(inv.agent_version());
  h->set_last_heard_ms(now);
  if (!is_new && h->state() != v1::HOST_UP) {
    h->set_state(v1::HOST_UP);
    h->set_state_since_ms(now);
  }
  last_heard_ms_[inv.host()] = now;

  // Units: keep the state of known ones, add new ones; a unit gone from the
  // inventory is dropped only if nothing refers to it.
  std::map<std::string, v1::UnitInfo> units;
  for (const auto& u : h->units()) units[u.name()] = u;
  google::protobuf::RepeatedPtrField<v1::UnitInfo> new_units;
  for (const auto& u : inv.units()) {
    v1::UnitInfo ui;
    auto it = units.find(u.name());
    if (it != units.end()) {
      ui = it->second;
    } else {
      ui.set_name(u.name());
      ui.set_state(v1::UNIT_ONLINE);
      if (!is_new) changes.push_back(absl::StrCat("unit ", u.name(), " added"));
    }
    ui.mutable_devices()->CopyFrom(u.devices());
    *new_units.Add() = ui;
    units.erase(u.name());
  }
  std::map<std::string, v1::FilesystemInfo> fss;
  for (const auto& f : h->filesystems()) fss[f.mount_point()] = f;
  google::protobuf::RepeatedPtrField<v1::FilesystemInfo> new_fss;
  for (const auto& f : inv.filesystems()) {
    v1::FilesystemInfo fi;
    auto it = fss.find(f.mount_point());
    if (it != fss.end()) {
      fi = it->second;
    } else {
      fi.set_state(v1::FS_OK);
      if (!is_new) changes.push_back(absl::StrCat("filesystem ", f.mount_point(), " added"));
    }
    fi.set_mount_point(f.mount_point());
    fi.set_unit(f.unit());
    *new_fss.Add() = fi;
  }
  std::map<std::string, v1::SlotInfo> slots;
  for (const auto& s : h->slots()) slots[s.ref().slot()] = s;
  google::protobuf::RepeatedPtrField<v1::SlotInfo> new_slots;
  for (const auto& s : inv.slots()) {
    v1::SlotInfo si;
    auto it = slots.find(s.name());
    if (it != slots.end()) {
      si = it->second;
      slots.erase(it);
    } else {
      si.mutable_ref()->set_host(inv.host());
      si.mutable_ref()->set_slot(s.name());
      si.set_role(v1::SLOT_SPARE);
      si.set_usable(true);
      if (!is_new) changes.push_back(absl::StrCat("slot ", s.name(), " added"));
    }
    si.set_path(s.path());
    si.set_filesystem(s.filesystem());
    si.set_capacity_bytes(s.capacity_bytes());
    si.set_service_address(s.service_address());
    *new_slots.Add() = si;
  }
  // A slot that vanished but still holds a copy is kept (unusable) so the
  // store keeps referring to it until it is replaced; spares just go.
  for (auto& [name, si] : slots) {
    if (si.store().empty()) {
      changes.push_back(absl::StrCat("slot ", name, " removed"));
      continue;
    }
    changes.push_back(absl::StrCat("slot ", name, " (", si.store(), ") missing from inventory"));
    si.set_usable(false);
    si.set_unusable_reason("missing from the agent's inventory");
    *new_slots.Add() = si;
  }
  for (auto& [name, ui] : units) {
    changes.push_back(absl::StrCat("unit ", name, " missing from inventory"));
    *new_units.Add() = ui;
  }
  h->mutable_units()->Swap(&new_units);
  h->mutable_filesystems()->Swap(&new_fss);
  h->mutable_slots()->Swap(&new_slots);

  meta_.set_next_session_seq(meta_.next_session_seq() + 1);
  rec.set_session_id(absl::StrCat(inv.host(), "-", meta_.next_session_seq()));
  sent_[inv.host()].clear();
  txn.hosts.insert(inv.host());
  txn.meta = true;
  if (is_new) {
    EventLocked(txn, "host.registered", v1::INFO,
                absl::StrCat("host ", inv.host(), " registered: ", inv.units_size(), " units, ",
                             inv.filesystems_size(), " filesystems, ", inv.slots_size(), " slots"),
                inv.host());
  } else {
    EventLocked(txn, "host.reregistered", v1::INFO,
                absl::StrCat("host ", inv.host(), " registered again",
                             changes.empty() ? std::string(", inventory unchanged")
                                             : ": " + absl::StrJoin(changes, "; ")),
                inv.host());
  }
  for (const auto& c : inv.contents()) RecognizeContentsLocked(txn, inv.host(), c);
  RecomputeLocked(txn);
  st = CommitLocked(txn);
  if (!st.ok()) return st;

  v1::RegisterResponse resp;
  resp.set_session_id(rec.session_id());
  resp.set_heartbeat_ms(config_.heartbeat_ms);
  resp.set_coordinator_time_ms(now);
  for (const auto& s : h->slots()) {
    if (s.store().empty()) continue;
    v1::SlotAssignment* a = resp.add_assignments();
    a->set_slot(s.ref().slot());
    a->set_store(s.store());
    a->set_role(s.role());
    auto it = model_.stores.find(s.store());
    if (it == model_.stores.end()) continue;
    a->set_epoch(it->second.info().master_epoch());
    if (const v1::Copy* m = MasterCopyLocked(it->second)) {
      a->set_master_slot(m->slot().slot());
      if (const HostRecord* mh = FindHost(model_, m->slot().host())) {
        a->set_master_peer_address(mh->info().peer_address());
      }
    }
  }
  return resp;
}

void Coordinator::RecognizeContentsLocked(Txn& txn, const std::string& host,
                                          const v1::SlotContents& contents) {
  v1::SlotRef ref;
  ref.set_host(host);
  ref.set_slot(contents.slot());
  v1::SlotInfo* slot = FindSlot(&model_, ref);
  if (slot == nullptr) return;
  slot->set_used_bytes(contents.used_bytes());
  if (contents.store().empty()) return;
  for (const auto& u : contents.users()) {
    auto it = users_.find(u);
    if (it == users_.end() || it->second != contents.store()) {
      users_[u] = contents.store();
      txn.users.insert(u);
    }
  }
  if (slot->store() == contents.store()) return;
  auto sit = model_.stores.find(contents.store());
  if (!slot->store().empty()) {
    const std::string key = absl::StrCat("contents-mismatch/", SlotName(ref));
    if (reported_.insert(key).second) {
      EventLocked(txn, "slot.contents_mismatch", v1::WARNING,
                  absl::StrCat(SlotName(ref), " holds store ", contents.store(),
                               " on disk but the coordinator assigned it ", slot->store()),
                  host, ref.slot(), slot->store());
    }
    return;
  }
  // A copy the coordinator does not know: adopt it as a replica (a
  // coordinator rebuilt from nothing recognizes existing copies this way).
  StoreRecord& store = model_.stores[contents.store()];
  if (sit == model_.stores.end()) {
    store.mutable_info()->set_name(contents.store());
    store.mutable_info()->set_required_copies(config_.default_copies);
    store.mutable_info()->set_master_epoch(0);
  }
  v1::Copy* c = store.mutable_info()->add_copies();
  *c->mutable_slot() = ref;
  c->set_role(v1::SLOT_REPLICA);
  slot->set_role(v1::SLOT_REPLICA);
  slot->set_store(contents.store());
  txn.stores.insert(contents.store());
  txn.hosts.insert(host);
  EventLocked(txn, "store.copy_recognized", v1::INFO,
              absl::StrCat("found a copy of store ", contents.store(), " in ", SlotName(ref), " (",
                           contents.users_size(), " users); recorded as a replica"),
              host, ref.slot(), contents.store());
}

absl::Status Coordinator::Hello(const v1::SessionHello& hello) {
  if (hello.host().empty() || hello.session_id().empty()) {
    return absl::InvalidArgumentError("SessionHello needs host and session_id");
  }
  absl::MutexLock lock(&mu_);
  auto it = model_.hosts.find(hello.host());
  if (it == model_.hosts.end()) {
    return absl::NotFoundError(absl::StrCat("host '", hello.host(), "' is not registered"));
  }
  if (it->second.session_id() != hello.session_id()) {
    return absl::FailedPreconditionError(absl::StrCat("session '", hello.session_id(),
                                                      "' is not the current session of host ",
                                                      hello.host(), "; register again"));
  }
  sent_[hello.host()].clear();  // everything unacknowledged goes out again
  return absl::OkStatus();
}

std::vector<v1::Command> Coordinator::TakeCommandsToSend(const std::string& host) {
  absl::MutexLock lock(&mu_);
  std::vector<v1::Command> out;
  std::set<std::string>& sent = sent_[host];
  for (const auto& [id, entry] : outbox_) {
    if (entry.host() == host && sent.insert(id).second) out.push_back(entry.command());
  }
  return out;
}

const Coordinator::SlotCache& Coordinator::SlotCacheLocked(const std::string& host,
                                                           const v1::HostInfo& info) {
  SlotCache& cache = slot_cache_[host];
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
    cache.name.push_back(SlotName(si.ref()));
    auto sit = model_.stores.find(si.store());
    if (si.store().empty() || sit == model_.stores.end()) continue;
    cache.store[i] = &sit->second;
    cache.copy[i] = FindCopyLocked(sit->second, si.ref());
  }
  return cache;
}

// ---------------------------------------------------------------------------
// Reports, acknowledgements, task updates.
// ---------------------------------------------------------------------------

absl::StatusOr<std::optional<v1::LeaseRenewal>> Coordinator::ApplyReport(
    const std::string& host, const std::string& session_id, const v1::HealthReport& report) {
  absl::MutexLock lock(&mu_);
  auto hit = model_.hosts.find(host);
  if (hit == model_.hosts.end()) {
    return absl::NotFoundError(absl::StrCat("host '", host, "' is not registered"));
  }
  HostRecord& rec = hit->second;
  if (rec.session_id() != session_id) {
    return absl::FailedPreconditionError(
        absl::StrCat("session '", session_id, "' of host ", host, " is stale; register again"));
  }
  v1::HostInfo* h = rec.mutable_info();
  // Validate everything before changing anything.
  if (report.agent_time_ms() <= 0) {
    return absl::InvalidArgumentError("HealthReport.agent_time_ms is missing");
  }
  // Slot index by name; agents list slots in inventory order, so the
  // position in the report is tried first (the hot path stays linear).
  auto slot_index = [h](const std::string& name, int hint) {
    if (hint >= 0 && hint < h->slots_size() && h->slots(hint).ref().slot() == name) return hint;
    for (int i = 0; i < h->slots_size(); ++i) {
      if (h->slots(i).ref().slot() == name) return i;
    }
    return -1;
  };
  auto has_slot = [&](const std::string& name) { return slot_index(name, -1) >= 0; };
  for (const auto& c : report.conditions()) {
    bool known = true;
    switch (c.subject_kind()) {
      case v1::SUBJECT_HOST:
        break;
      case v1::SUBJECT_UNIT:
        known = std::any_of(h->units().begin(), h->units().end(),
                            [&](const v1::UnitInfo& u) { return u.name() == c.subject(); });
        break;
      case v1::SUBJECT_FILESYSTEM:
        known = std::any_of(
            h->filesystems().begin(), h->filesystems().end(),
            [&](const v1::FilesystemInfo& f) { return f.mount_point() == c.subject(); });
        break;
      case v1::SUBJECT_SLOT:
        known = has_slot(c.subject());
        break;
      default:
        return absl::InvalidArgumentError(
            absl::StrCat("condition ", c.type(), " has no subject kind"));
    }
    if (c.type() == v1::CONDITION_TYPE_UNSPECIFIED) {
      return absl::InvalidArgumentError("a condition has no type");
    }
    if (!known) {
      return absl::NotFoundError(absl::StrCat("condition names '", c.subject(), "', which host ",
                                              host, " did not register"));
    }
  }
  std::vector<int> usage_slot(report.slots_size()), replication_slot(report.replication_size());
  for (int i = 0, hint = 0; i < report.replication_size(); ++i) {
    const auto& r = report.replication(i);
    replication_slot[i] = slot_index(r.slot(), hint);
    hint = replication_slot[i] + 1;
    if (replication_slot[i] < 0) {
      return absl::NotFoundError(
          absl::StrCat("replication status for slot '", r.slot(), "', not on host ", host));
    }
  }
  for (int i = 0; i < report.slots_size(); ++i) {
    const auto& u = report.slots(i);
    usage_slot[i] = slot_index(u.slot(), i);
    if (usage_slot[i] < 0) {
      return absl::NotFoundError(
          absl::StrCat("usage for slot '", u.slot(), "', not on host ", host));
    }
  }
  for (const auto& c : report.contents()) {
    if (!has_slot(c.slot())) {
      return absl::NotFoundError(
          absl::StrCat("contents for slot '", c.slot(), "', not on host ", host));
    }
  }

  const int64_t now = clock_->NowMs();
  Txn txn;
  bool recompute = false;
  last_heard_ms_[host] = now;
  h->set_last_heard_ms(now);
  if (h->state() != v1::HOST_UP) {
    EventLocked(txn, "host.up", v1::INFO,
                absl::StrCat("host ", host, " reports again (was ", Name(h->state()), ")"), host);
    h->set_state(v1::HOST_UP);
    h->set_state_since_ms(now);
    txn.hosts.insert(host);
    recompute = true;
  }
  const int64_t offset = EstimateClockOffsetMs(report, now);
  h->set_clock_offset_ms(offset);
  const bool skewed = IsClockSkewed(offset, config_.max_clock_skew_ms);
  if (skewed != h->clock_skewed()) {
    h->set_clock_skewed(skewed);
    txn.hosts.insert(host);
    recompute = true;
    if (skewed) {
      EventLocked(txn, "host.clock_skewed", v1::CRITICAL,
                  absl::StrCat("host ", host, " clock is off by ", offset, " ms (max ",
                               config_.max_clock_skew_ms, "); it will not be promoted"),
                  host);
    } else {
      EventLocked(txn, "host.clock_ok", v1::INFO,
                  absl::StrCat("host ", host, " clock offset back to ", offset, " ms"), host);
    }
  }
  if (!SameConditions(h->conditions(), report.conditions())) {
    std::vector<std::string> list;
    for (const auto& c : report.conditions()) {
      list.push_back(absl::StrCat(v1::ConditionType_Name(c.type()), " on ", c.subject(),
                                  c.reason().empty() ? "" : " (" + c.reason() + ")"));
    }
    EventLocked(txn, "host.conditions", report.conditions().empty() ? v1::INFO : v1::WARNING,
                absl::StrCat("host ", host, " conditions: ",
                             list.empty() ? std::string("none") : absl::StrJoin(list, ", ")),
                host);
    *h->mutable_conditions() = report.conditions();
    txn.hosts.insert(host);
    recompute = true;
  }
  for (const auto& f : report.filesystems()) {
    for (auto& fi : *h->mutable_filesystems()) {
      if (fi.mount_point() != f.mount_point()) continue;
      fi.set_total_bytes(f.total_bytes());
      fi.set_free_bytes(f.free_bytes());
      fi.set_free_inodes(f.free_inodes());
    }
  }
  for (int i = 0; i < report.slots_size(); ++i) {
    h->mutable_slots(usage_slot[i])->set_used_bytes(report.slots(i).used_bytes());
  }
  const SlotCache& cache = SlotCacheLocked(host, *h);
  for (int i = 0; i < report.replication_size(); ++i) {
    const v1::ReplicationStatus& r = report.replication(i);
    v1::Copy* c = cache.copy[replication_slot[i]];
    if (c == nullptr) continue;
    c->set_lag_ms(r.lag_ms());
    c->set_in_sync(h->slots(replication_slot[i]).role() == v1::SLOT_MASTER || r.in_sync());
    c->set_last_synced_ms(r.last_synced_ms());
  }
  if (!blocked_users_.empty() ||
      std::any_of(report.replication().begin(), report.replication().end(),
                  [](const v1::ReplicationStatus& r) { return r.blocked_users_size() > 0; })) {
    for (const v1::ReplicationStatus& r : report.replication()) {
      NoteBlockedUsersLocked(txn, host, r.slot(), r.store(), r.blocked_users(), true);
    }
  }
  for (const auto& c : report.contents()) RecognizeContentsLocked(txn, host, c);
  if (recompute) RecomputeLocked(txn);
  absl::Status st = CommitLocked(txn);
  if (!st.ok()) return st;

  // Renew the leases of this host's usable masters, unless the master is
  // being moved away (operator failover, drain): then it runs out.
  std::optional<v1::LeaseRenewal> renewal;
  const SlotCache& fresh = SlotCacheLocked(host, *h);  // the commit may have changed stores
  for (int i = 0; i < h->slots_size(); ++i) {
    const v1::SlotInfo& si = h->slots(i);
    if (si.role() != v1::SLOT_MASTER || !si.usable()) continue;
    const StoreRecord* store = fresh.store[i];
    if (store == nullptr || store->moving_master() || store->has_pending_target()) continue;
    if (!renewal) {
      renewal.emplace();
      renewal->set_report_id(report.report_id());
    }
    v1::Lease* lease = renewal->add_leases();
    lease->set_store(si.store());
    lease->set_slot(si.ref().slot());
    lease->set_epoch(store->info().master_epoch());
    lease->set_duration_ms(config_.lease_ms);
    // Counted from now, after the agent sent its report: the agent's view ends first.
    lease_until_ms_[fresh.name[i]] = now + config_.lease_ms;
  }
  return renewal;
}

absl::Status Coordinator::ApplyAck(const std::string& host, const v1::CommandAck& ack) {
  if (ack.command_id().empty()) return absl::InvalidArgumentError("ack without command_id");
  absl::MutexLock lock(&mu_);
  auto it = outbox_.find(ack.command_id());
  if (it == outbox_.end() || it->second.host() != host) {
    // Agents acknowledge re-sent commands too: an id this coordinator issued
    // and already retired is a harmless duplicate; anything else is an error.
    uint64_t n = 0;
    if (it == outbox_.end() && absl::StartsWith(ack.command_id(), "c") &&
        absl::SimpleAtoi(absl::string_view(ack.command_id()).substr(1), &n) && n > 0 &&
        n <= meta_.next_command_seq()) {
      return absl::OkStatus();
    }
    return absl::NotFoundError(
        absl::StrCat("no command '", ack.command_id(), "' is outstanding for host ", host));
  }
  const v1::Command cmd = it->second.command();
  outbox_.erase(it);
  Txn txn;
  txn.erased_commands.push_back(ack.command_id());
  if (ack.ok()) {
    EventLocked(txn, "command.acked", v1::INFO,
                absl::StrCat("command ", cmd.id(), " applied by ", host,
                             ack.duplicate() ? " (duplicate)" : ""),
                host);
    if (cmd.has_demote()) {
      // The old master fenced itself: its lease is no longer a reason to wait.
      v1::SlotRef ref;
      ref.set_host(host);
      ref.set_slot(cmd.demote().slot());
      lease_until_ms_.erase(SlotName(ref));
    }
  } else {
    EventLocked(txn, "command.failed", v1::WARNING,
                absl::StrCat("command ", cmd.id(), " failed on ", host, ": ", ack.error(),
                             ack.hook_output().empty() ? "" : " [hook: " + ack.hook_output() + "]"),
                host);
    if (cmd.has_start_task()) {
      auto tit = model_.tasks.find(cmd.start_task().task_id());
      if (tit != model_.tasks.end() && tit->second.info().state() == v1::TASK_RUNNING) {
        FinishTaskLocked(txn, tit->second, false, "agent refused: " + ack.error());
      }
    }
  }
  return CommitLocked(txn);
}

absl::Status Coordinator::ApplyTaskUpdate(const std::string& host, const v1::TaskUpdate& update) {
  if (update.task_id().empty()) return absl::InvalidArgumentError("task update without task_id");
  if (update.state() != v1::TASK_RUNNING && update.state() != v1::TASK_DONE &&
      update.state() != v1::TASK_FAILED) {
    return absl::InvalidArgumentError(absl::StrCat(
        "task update state must be RUNNING, DONE or FAILED, not ", Name(update.state())));
  }
  absl::MutexLock lock(&mu_);
  auto it = model_.tasks.find(update.task_id());
  if (it == model_.tasks.end()) {
    return absl::NotFoundError(absl::StrCat("no task '", update.task_id(), "'"));
  }
  StoredTask& task = it->second;
  if (task.info().target().host() != host) {
    return absl::FailedPreconditionError(absl::StrCat("task ", update.task_id(), " runs on ",
                                                      task.info().target().host(), ", not ", host));
  }
  if (task.info().state() != v1::TASK_RUNNING) {
    return absl::FailedPreconditionError(absl::StrCat("task ", update.task_id(), " is ",
                                                      Name(task.info().state()), ", not running"));
  }
  *task.mutable_info()->mutable_progress() = update.progress();
  Txn txn;
  if (update.blocked_users_size() > 0) {
    NoteBlockedUsersLocked(txn, host, task.info().target().slot(), task.info().store(),
                           update.blocked_users(), false);
  }
  if (update.state() == v1::TASK_DONE) {
    if (update.verified()) {
      FinishTaskLocked(txn, task, true, "");
    } else {
      FinishTaskLocked(txn, task, false, "copy finished but was not verified");
    }
  } else if (update.state() == v1::TASK_FAILED) {
    FinishTaskLocked(txn, task, false, update.error().empty() ? "failed" : update.error());
  } else if (txn.events.empty()) {
    return absl::OkStatus();  // progress only: kept in memory, persisted with the next change
  }
  return CommitLocked(txn);
}

void Coordinator::NoteBlockedUsersLocked(
    Txn& txn, const std::string& host, const std::string& slot, const std::string& store,
    const google::protobuf::RepeatedPtrField<std::string>& users, bool complete) {
  const std::string where = absl::StrCat(host, "/", slot);
  auto it = blocked_users_.find(where);
  if (users.empty() && (it == blocked_users_.end() || !complete)) return;
  std::set<std::string>& known = blocked_users_[where];
  for (const std::string& user : users) {
    if (!known.insert(user).second) continue;
    EventLocked(txn, "replication.blocked", v1::WARNING,
                absl::StrCat("sync of user ", user, " of store ", store, " into ", where,
                             " stopped by the mass-deletion guard: the source lost most of its "
                             "mail; the replica keeps it. Check the master before anything else"),
                host, slot, store);
  }
  if (complete) {
    const std::set<std::string> now(users.begin(), users.end());
    for (auto u = known.begin(); u != known.end();) {
      if (now.count(*u) > 0) {
        ++u;
        continue;
      }
      EventLocked(
          txn, "replication.unblocked", v1::INFO,
          absl::StrCat("sync of user ", *u, " of store ", store, " into ", where, " runs again"),
          host, slot, store);
      u = known.erase(u);
    }
  }
  if (known.empty()) blocked_users_.erase(where);
}

}  // namespace slotkeeper::slotmgr
