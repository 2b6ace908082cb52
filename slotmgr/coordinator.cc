// Coordinator: loading, committing, the agent side, and the timers (Tick).
// Operator actions and queries are in coordinator_ops.cc.
#include "slotmgr/coordinator.h"

#include <algorithm>
#include <cstdlib>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "base/log.h"
#include "proto/event_kinds.h"
#include "proto/model_util.h"
#include "slotmgr/failure_detector.h"
#include "slotmgr/model.h"

namespace slotkeeper::slotmgr {
namespace {

absl::Status ValidateInventory(const v1::HostInventory& inv) {
  absl::Status st = model::ValidateName(model::NameKind::kHost, inv.host());
  if (!st.ok()) return st;
  std::set<std::string> units, mounts, slots;
  for (const auto& u : inv.units()) {
    if (!(st = model::ValidateName(model::NameKind::kUnit, u.name())).ok()) return st;
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
    if (!(st = model::ValidateName(model::NameKind::kSlot, s.name())).ok()) return st;
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
    : store_(store),
      clock_(clock),
      config_(config),
      journal_(clock),
      outbox_(clock, &journal_),
      tasks_(&model_, &journal_, &outbox_, clock, &config_,
             [this]() ABSL_NO_THREAD_SAFETY_ANALYSIS { return ViewLocked(); }) {}

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
    ApplyHardRule(h.mutable_info()->mutable_conditions());  // stored by an older build
    for (const auto& s : h.info().slots()) {
      if (s.role() == v1::SLOT_MASTER) leases_.RestartedWithMaster(s.ref(), now, config_.lease_ms);
    }
    model_.hosts[h.info().name()] = std::move(h);
  }
  for (auto& s : snap->stores) model_.stores[s.info().name()] = std::move(s);
  for (auto& t : snap->tasks) model_.tasks[t.info().id()] = std::move(t);
  users_ = std::move(snap->users);
  for (const auto& [user, store] : users_) ++user_counts_[store];
  meta_ = snap->meta;
  journal_.set_next_seq(meta_.next_event_seq());
  outbox_.Restore(std::move(snap->outbox), meta_.next_command_seq());
  tasks_.set_last_seq(meta_.next_task_seq());
  if (snap->automation) {
    automation_ = *snap->automation;
  } else {
    automation_.mutable_state()->set_mode(v1::AUTOMATION_RUNNING);
    automation_.mutable_state()->set_since_ms(now);
  }
  automation_.mutable_state()->set_failover_limit(config_.failover_rate_limit);
  Txn txn;
  journal_.Record(txn, event_kind::kCoordinatorStart, v1::INFO,
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
    meta_.set_next_event_seq(journal_.next_seq());
    meta_.set_next_command_seq(outbox_.last_seq());
    meta_.set_next_task_seq(tasks_.last_seq());
    batch.PutMeta(meta_);
  }
  if (batch.empty()) return absl::OkStatus();
  absl::Status st = store_->Commit(batch);
  if (!st.ok()) {
    // The in-memory model is now ahead of the disk, and acting on it could
    // command what was never recorded. Like a database whose fsync failed,
    // stop: a restart resumes from what is durable.
    LogError("coordinator", absl::StrCat("durable state write failed: ", st.ToString()));
    if (config_.exit_on_commit_failure) {
      LogError("coordinator", "exiting so that a restart resumes from the state on disk");
      std::abort();
    }
    return st;
  }
  journal_.Publish(txn);
  txn = Txn();
  return absl::OkStatus();
}

bool Coordinator::AutomationRunningLocked() const {
  return automation_.state().mode() == v1::AUTOMATION_RUNNING;
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
    si.set_missing_from_inventory(true);
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
  outbox_.ResendAll(inv.host());
  txn.hosts.insert(inv.host());
  txn.meta = true;
  if (is_new) {
    journal_.Record(
        txn, event_kind::kHostRegistered, v1::INFO,
        absl::StrCat("host ", inv.host(), " registered: ", inv.units_size(), " units, ",
                     inv.filesystems_size(), " filesystems, ", inv.slots_size(), " slots"),
        inv.host());
  } else {
    journal_.Record(txn, event_kind::kHostReregistered, v1::INFO,
                    absl::StrCat("host ", inv.host(), " registered again",
                                 changes.empty() ? std::string(", inventory unchanged")
                                                 : ": " + absl::StrJoin(changes, "; ")),
                    inv.host());
  }
  for (const auto& c : inv.contents()) RecognizeContentsLocked(txn, inv.host(), c);
  if (!is_new) tasks_.RestartTasksOf(txn, inv.host());
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
    if (const v1::Copy* m = MasterCopy(it->second)) {
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
      if (it != users_.end()) --user_counts_[it->second];
      ++user_counts_[contents.store()];
      users_[u] = contents.store();
      txn.users.insert(u);
    }
  }
  if (slot->store() == contents.store()) return;
  auto sit = model_.stores.find(contents.store());
  if (!slot->store().empty()) {
    const std::string key = absl::StrCat("contents-mismatch/", model::SlotName(ref));
    if (reported_.insert(key).second) {
      journal_.Record(txn, event_kind::kSlotContentsMismatch, v1::WARNING,
                      absl::StrCat(model::SlotName(ref), " holds store ", contents.store(),
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
  journal_.Record(
      txn, event_kind::kStoreCopyRecognized, v1::INFO,
      absl::StrCat("found a copy of store ", contents.store(), " in ", model::SlotName(ref), " (",
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
  outbox_.ResendAll(hello.host());
  return absl::OkStatus();
}

std::vector<v1::Command> Coordinator::TakeCommandsToSend(const std::string& host) {
  absl::MutexLock lock(&mu_);
  return outbox_.TakeToSend(host);
}

}  // namespace slotkeeper::slotmgr
