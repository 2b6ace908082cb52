// Coordinator: agents registering their inventory (what they find on disk
// is slot_contents.h) and starting a session.
#include <algorithm>
#include <map>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "absl/random/random.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/synchronization/mutex.h"
#include "base/status_macros.h"
#include "proto/event_kinds.h"
#include "proto/model_util.h"
#include "slotmgr/coordinator.h"
#include "slotmgr/slot_contents.h"

namespace slotkeeper::slotmgr {
namespace {

using google::protobuf::RepeatedPtrField;

absl::Status ValidateInventory(const v1::HostInventory& inv) {
  SK_RETURN_IF_ERROR(model::ValidateName(model::NameKind::kHost, inv.host()));
  std::set<std::string> units, mounts, slots;
  for (const auto& u : inv.units()) {
    SK_RETURN_IF_ERROR(model::ValidateName(model::NameKind::kUnit, u.name()));
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
    SK_RETURN_IF_ERROR(model::ValidateName(model::NameKind::kSlot, s.name()));
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

// What changed in a known host's inventory, for the "registered again"
// event: what appeared, then what vanished (slots first, then units).
struct InventoryChanges {
  std::vector<std::string> added, slots_gone, units_gone;
};

// The one reconciliation rule for a host's units, filesystems and slots:
// `records` becomes what the inventory lists, in its order. A record the
// host already had (same key) keeps its state; a new one is made by
// `create` and noted as "KIND KEY added" (unless the whole host is new).
// `update` then copies the inventory's fields onto it. Returns the records
// the inventory no longer lists, by key, for the caller's rule.
template <typename Record, typename Item, typename RecordKey, typename ItemKey, typename Create,
          typename Update>
std::map<std::string, Record> Reconcile(RepeatedPtrField<Record>& records,
                                        const RepeatedPtrField<Item>& items, RecordKey record_key,
                                        ItemKey item_key, Create create, Update update,
                                        const char* kind, bool host_is_new,
                                        InventoryChanges& changes) {
  std::map<std::string, Record> known;
  for (const Record& r : records) known[record_key(r)] = r;
  RepeatedPtrField<Record> listed;
  for (const Item& item : items) {
    const std::string key = item_key(item);
    Record r;
    auto it = known.find(key);
    if (it != known.end()) {
      r = std::move(it->second);
      known.erase(it);
    } else {
      r = create(item);
      if (!host_is_new) changes.added.push_back(absl::StrCat(kind, " ", key, " added"));
    }
    update(item, r);
    *listed.Add() = std::move(r);
  }
  records.Swap(&listed);
  return known;
}

// Units: known ones keep their state, new ones are ONLINE. A unit gone from
// the inventory is kept (copies may still be on it).
void ReconcileUnits(v1::HostInfo& h, const v1::HostInventory& inv, bool is_new,
                    InventoryChanges& changes) {
  std::map<std::string, v1::UnitInfo> gone = Reconcile(
      *h.mutable_units(), inv.units(), [](const v1::UnitInfo& u) { return u.name(); },
      [](const v1::DriveUnit& u) { return u.name(); },
      [](const v1::DriveUnit& u) {
        v1::UnitInfo ui;
        ui.set_name(u.name());
        ui.set_state(v1::UNIT_ONLINE);
        return ui;
      },
      [](const v1::DriveUnit& u, v1::UnitInfo& ui) { ui.mutable_devices()->CopyFrom(u.devices()); },
      "unit", is_new, changes);
  for (auto& [name, ui] : gone) {
    changes.units_gone.push_back(absl::StrCat("unit ", name, " missing from inventory"));
    *h.add_units() = std::move(ui);
  }
}

// Filesystems: known ones keep their state, new ones are OK; one gone from
// the inventory is dropped.
void ReconcileFilesystems(v1::HostInfo& h, const v1::HostInventory& inv, bool is_new,
                          InventoryChanges& changes) {
  Reconcile(
      *h.mutable_filesystems(), inv.filesystems(),
      [](const v1::FilesystemInfo& f) { return f.mount_point(); },
      [](const v1::Filesystem& f) { return f.mount_point(); },
      [](const v1::Filesystem&) {
        v1::FilesystemInfo fi;
        fi.set_state(v1::FS_OK);
        return fi;
      },
      [](const v1::Filesystem& f, v1::FilesystemInfo& fi) {
        fi.set_mount_point(f.mount_point());
        fi.set_unit(f.unit());
      },
      "filesystem", is_new, changes);
}

// Slots: known ones keep their role and store, new ones are usable spares.
// A slot that vanished but still holds a copy is kept, unusable, so that
// the store keeps referring to it until it is replaced; a spare just goes.
void ReconcileSlots(v1::HostInfo& h, const v1::HostInventory& inv, bool is_new,
                    InventoryChanges& changes) {
  std::map<std::string, v1::SlotInfo> gone = Reconcile(
      *h.mutable_slots(), inv.slots(), [](const v1::SlotInfo& s) { return s.ref().slot(); },
      [](const v1::Slot& s) { return s.name(); },
      [&inv](const v1::Slot& s) {
        v1::SlotInfo si;
        si.mutable_ref()->set_host(inv.host());
        si.mutable_ref()->set_slot(s.name());
        si.set_role(v1::SLOT_SPARE);  // a new slot; not a transition
        si.set_usable(true);
        return si;
      },
      [](const v1::Slot& s, v1::SlotInfo& si) {
        si.set_path(s.path());
        si.set_filesystem(s.filesystem());
        si.set_capacity_bytes(s.capacity_bytes());
        si.set_service_address(s.service_address());
      },
      "slot", is_new, changes);
  for (auto& [name, si] : gone) {
    if (si.store().empty()) {
      changes.slots_gone.push_back(absl::StrCat("slot ", name, " removed"));
      continue;
    }
    changes.slots_gone.push_back(
        absl::StrCat("slot ", name, " (", si.store(), ") missing from inventory"));
    si.set_usable(false);
    si.set_unusable_reason("missing from the agent's inventory");
    si.set_missing_from_inventory(true);
    *h.add_slots() = std::move(si);
  }
}

v1::Event RegisteredEvent(const v1::HostInventory& inv, bool is_new,
                          const InventoryChanges& changes) {
  if (is_new) {
    return MakeEvent(
        event_kind::kHostRegistered, v1::INFO,
        absl::StrCat("host ", inv.host(), " registered: ", inv.units_size(), " units, ",
                     inv.filesystems_size(), " filesystems, ", inv.slots_size(), " slots"),
        inv.host());
  }
  std::vector<std::string> all = changes.added;
  all.insert(all.end(), changes.slots_gone.begin(), changes.slots_gone.end());
  all.insert(all.end(), changes.units_gone.begin(), changes.units_gone.end());
  return MakeEvent(event_kind::kHostReregistered, v1::INFO,
                   absl::StrCat("host ", inv.host(), " registered again",
                                all.empty() ? std::string(", inventory unchanged")
                                            : ": " + absl::StrJoin(all, "; ")),
                   inv.host());
}

// The slots of `host` that hold a copy, with their store's epoch and master.
void AddAssignments(const ClusterModel& model, const v1::HostInfo& host,
                    v1::RegisterResponse& resp) {
  for (const auto& s : host.slots()) {
    if (s.store().empty()) continue;
    v1::SlotAssignment* a = resp.add_assignments();
    a->set_slot(s.ref().slot());
    a->set_store(s.store());
    a->set_role(s.role());
    auto it = model.stores.find(s.store());
    if (it == model.stores.end()) continue;
    a->set_epoch(it->second.info().master_epoch());
    if (const v1::Copy* m = MasterCopy(it->second)) {
      a->set_master_slot(m->slot().slot());
      if (const HostRecord* mh = FindHost(model, m->slot().host())) {
        a->set_master_peer_address(mh->info().peer_address());
      }
    }
  }
}

// "<host>-<counter>-<128 random bits in hex>".
std::string NewSessionId(const std::string& host, uint64_t seq) {
  static absl::BitGen* gen = new absl::BitGen;
  static absl::Mutex gen_mu;
  absl::MutexLock lock(&gen_mu);
  return absl::StrFormat("%s-%d-%016x%016x", host, seq, absl::Uniform<uint64_t>(*gen),
                         absl::Uniform<uint64_t>(*gen));
}

}  // namespace

absl::StatusOr<v1::RegisterResponse> Coordinator::Register(const v1::RegisterRequest& request) {
  const v1::HostInventory& inv = request.inventory();
  SK_RETURN_IF_ERROR(ValidateInventory(inv));
  absl::MutexLock lock(&mu_);
  const int64_t now = clock_->NowMs();
  Txn txn;
  const bool is_new = !model_.hosts.count(inv.host());
  HostRecord& rec = model_.hosts[inv.host()];
  v1::HostInfo* h = rec.mutable_info();
  if (is_new) h->set_name(inv.host());
  if (!is_new && h->peer_address() != inv.peer_address()) {
    // Where the host's peers and mail clients are sent changes: journaled,
    // as only the host's own certificate may register it.
    journal_.Record(txn, event_kind::kHostAddressChanged, v1::WARNING,
                    absl::StrCat("host ", inv.host(), " registered with peer address ",
                                 inv.peer_address(), " (was ", h->peer_address(), ")"),
                    inv.host());
  }
  h->set_peer_address(inv.peer_address());
  h->set_agent_version(inv.agent_version());
  h->set_last_heard_ms(now);
  if (is_new || h->state() != v1::HOST_UP) {
    h->set_state(v1::HOST_UP);
    h->set_state_since_ms(now);
  }
  last_heard_mono_ms_[inv.host()] = clock_->MonotonicMs();
  InventoryChanges changes;
  ReconcileUnits(*h, inv, is_new, changes);
  ReconcileFilesystems(*h, inv, is_new, changes);
  ReconcileSlots(*h, inv, is_new, changes);

  // Random, so that a session cannot be guessed: only the caller that
  // registered holds it.
  rec.set_session_id(NewSessionId(inv.host(), ++last_session_seq_));
  masters_.SessionStarted(inv.host(), clock_->MonotonicMs());
  if (!is_new) {
    // A new agent process proves nothing about its replicas until its data
    // path reports them caught up again.
    for (const auto& s : h->slots()) {
      if (s.role() != v1::SLOT_REPLICA || s.store().empty()) continue;
      auto sit = model_.stores.find(s.store());
      if (sit == model_.stores.end()) continue;
      if (v1::Copy* c = FindCopy(sit->second, s.ref()); c != nullptr && c->in_sync()) {
        c->set_in_sync(false);
        txn.stores.insert(s.store());
      }
    }
  }
  outbox_.ResendAll(inv.host());
  txn.hosts.insert(inv.host());
  txn.meta = true;
  journal_.Record(txn, RegisteredEvent(inv, is_new, changes));
  Mutation m = MutationLocked(txn);
  for (const auto& c : inv.contents()) RecognizeContents(m, inv.host(), c);
  if (!is_new) tasks_.RestartTasksOf(txn, inv.host());
  RecomputeLocked(txn);
  SK_RETURN_IF_ERROR(CommitLocked(txn));

  v1::RegisterResponse resp;
  resp.set_session_id(rec.session_id());
  resp.set_heartbeat_ms(config_.heartbeat_ms);
  resp.set_coordinator_time_ms(now);
  AddAssignments(model_, *h, resp);
  return resp;
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

void Coordinator::SessionEnded(const std::string& host, const std::string& session_id) {
  absl::MutexLock lock(&mu_);
  auto hit = model_.hosts.find(host);
  if (hit == model_.hosts.end() || hit->second.session_id() != session_id) return;
  masters_.HostSilent(host);
  Txn txn;
  for (const v1::SlotInfo& s : hit->second.info().slots()) {
    if (s.role() != v1::SLOT_REPLICA || s.store().empty()) continue;
    auto sit = model_.stores.find(s.store());
    if (sit == model_.stores.end()) continue;
    v1::Copy* c = FindCopy(sit->second, s.ref());
    if (c == nullptr || !c->in_sync()) continue;
    c->set_in_sync(false);
    c->set_out_of_sync_reason("its agent's session ended");
    txn.stores.insert(s.store());
  }
  if (txn.stores.empty()) return;
  RecomputeLocked(txn);
  CommitLocked(txn).IgnoreError();  // a failed commit aborts or is logged there
}

std::vector<v1::Command> Coordinator::TakeCommandsToSend(const std::string& host) {
  absl::MutexLock lock(&mu_);
  return outbox_.TakeToSend(host);
}

}  // namespace slotkeeper::slotmgr
