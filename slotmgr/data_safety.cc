#include "slotmgr/data_safety.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "proto/event_kinds.h"
#include "proto/model_util.h"

namespace slotkeeper::slotmgr {
namespace {

std::string By(const std::string& caller, const std::string& reason) {
  return absl::StrCat(" (by ", caller.empty() ? "an unnamed caller" : caller,
                      reason.empty() ? "" : ": " + reason, ")");
}

std::string PeerOf(const ClusterModel& model, const std::string& host) {
  const HostRecord* h = FindHost(model, host);
  return h != nullptr ? h->info().peer_address() : "";
}

// The store `slot` holds a copy of, and its current master.
struct SlotAndMaster {
  const v1::SlotInfo* slot = nullptr;
  const StoreRecord* store = nullptr;
  const v1::Copy* master = nullptr;
};

absl::StatusOr<SlotAndMaster> LookUp(const ClusterModel& model, const v1::SlotRef& ref) {
  if (ref.host().empty() || ref.slot().empty()) {
    return absl::InvalidArgumentError("a slot needs its host and its name");
  }
  SlotAndMaster out;
  out.slot = FindSlot(model, ref);
  if (out.slot == nullptr) {
    return absl::NotFoundError(absl::StrCat("no slot ", model::SlotName(ref)));
  }
  auto it = model.stores.find(out.slot->store());
  if (out.slot->store().empty() || it == model.stores.end()) {
    return absl::FailedPreconditionError(
        absl::StrCat(model::SlotName(ref), " holds no copy of a store now"));
  }
  out.store = &it->second;
  out.master = MasterCopy(*out.store);
  return out;
}

}  // namespace

absl::StatusOr<v1::RestoreQuarantinedResponse> RestoreQuarantined(
    Mutation& m, const v1::RestoreQuarantinedRequest& req, const std::string& caller) {
  if (req.item_id().empty()) return absl::InvalidArgumentError("item_id is empty");
  absl::StatusOr<SlotAndMaster> where = LookUp(m.model, req.slot());
  if (!where.ok()) return where.status();
  if (where->master == nullptr || !where->master->usable()) {
    return absl::FailedPreconditionError(absl::StrCat(
        "store ", where->slot->store(), " has no usable master to restore into; try later"));
  }
  const std::string& store = where->slot->store();
  const v1::SlotRef& into = where->master->slot();
  v1::Command cmd;
  v1::RestoreQuarantinedCommand* r = cmd.mutable_restore_quarantined();
  r->set_store(store);
  r->set_target_slot(into.slot());
  r->set_source_peer_address(PeerOf(m.model, req.slot().host()));
  r->set_source_slot(req.slot().slot());
  r->set_item_id(req.item_id());
  v1::RestoreQuarantinedResponse out;
  out.set_store(store);
  *out.mutable_into() = into;
  out.set_command_id(m.outbox.Issue(m.txn, into.host(), std::move(cmd)));
  m.journal.Record(
      m.txn, event_kind::kQuarantineRestore, v1::WARNING,
      absl::StrCat("restore of quarantined ", req.item_id(), " from ", model::SlotName(req.slot()),
                   " into master ", model::SlotName(into), By(caller, req.reason())),
      into.host(), into.slot(), store);
  return out;
}

absl::StatusOr<v1::PurgeQuarantineItemsResponse> PurgeQuarantine(
    Mutation& m, const v1::PurgeQuarantineItemsRequest& req, const std::string& caller) {
  if (req.older_than_ms() <= 0 && req.item_ids().empty()) {
    return absl::InvalidArgumentError("say what to purge: older_than_ms or item_ids");
  }
  const v1::SlotInfo* slot = FindSlot(m.model, req.slot());
  if (slot == nullptr) {
    return absl::NotFoundError(absl::StrCat("no slot ", model::SlotName(req.slot())));
  }
  v1::Command cmd;
  v1::PurgeQuarantineCommand* p = cmd.mutable_purge_quarantine();
  p->set_slot(req.slot().slot());
  p->set_older_than_ms(req.older_than_ms());
  *p->mutable_item_ids() = req.item_ids();
  v1::PurgeQuarantineItemsResponse out;
  out.set_command_id(m.outbox.Issue(m.txn, req.slot().host(), std::move(cmd)));
  m.journal.Record(
      m.txn, event_kind::kQuarantinePurge, v1::WARNING,
      absl::StrCat("purge of the quarantine of ", model::SlotName(req.slot()), ": ",
                   req.item_ids().empty() ? absl::StrCat("files quarantined before ",
                                                         req.older_than_ms(), " (agent ms)")
                                          : absl::StrCat(req.item_ids_size(), " item(s)"),
                   By(caller, req.reason())),
      req.slot().host(), req.slot().slot(), slot->store());
  return out;
}

absl::StatusOr<v1::UnblockUserResponse> UnblockUser(Mutation& m, const v1::UnblockUserRequest& req,
                                                    const std::string& caller) {
  if (absl::Status s = model::ValidateName(model::NameKind::kUser, req.user()); !s.ok()) return s;
  auto it = m.model.stores.find(req.store());
  if (it == m.model.stores.end()) {
    return absl::NotFoundError(absl::StrCat("no store '", req.store(), "'"));
  }
  v1::UnblockUserResponse out;
  for (const v1::Copy& c : it->second.info().copies()) {
    bool blocked = false;
    for (const std::string& u : c.blocked_users()) blocked |= u == req.user();
    if (!blocked) continue;
    v1::Command cmd;
    cmd.mutable_unblock_user()->set_slot(c.slot().slot());
    cmd.mutable_unblock_user()->set_user(req.user());
    m.outbox.Issue(m.txn, c.slot().host(), std::move(cmd));
    *out.add_slots() = c.slot();
  }
  if (out.slots().empty()) {
    return absl::FailedPreconditionError(
        absl::StrCat("no copy of ", req.store(), " reports user ", req.user(), " blocked"));
  }
  m.journal.Record(
      m.txn, event_kind::kUserUnblock, v1::WARNING,
      absl::StrCat("user ", req.user(), " of ", req.store(), " unblocked on ", out.slots_size(),
                   " copy(ies): the next sync applies what the "
                   "master holds",
                   By(caller, req.reason())),
      "", "", req.store());
  return out;
}

absl::StatusOr<std::vector<v1::SlotRef>> StrandedCandidates(const v1::StoreInfo& store,
                                                            const v1::ReconcileStoreRequest& req) {
  auto old_copy = [&](const v1::SlotRef& ref) {
    return std::any_of(store.copies().begin(), store.copies().end(), [&](const v1::Copy& c) {
      return c.role() != v1::SLOT_MASTER && model::SameSlot(c.slot(), ref);
    });
  };
  for (const v1::SlotRef& f : req.from()) {
    if (!old_copy(f)) {
      return absl::InvalidArgumentError(absl::StrCat(
          "from: ", model::SlotName(f), " is not an old copy of store ", store.name()));
    }
  }
  std::vector<v1::SlotRef> out;
  for (const v1::Copy& c : store.copies()) {
    if (c.stranded_messages() == 0 || c.role() == v1::SLOT_MASTER) continue;
    const bool named = std::any_of(req.from().begin(), req.from().end(), [&](const v1::SlotRef& f) {
      return model::SameSlot(f, c.slot());
    });
    if (req.from().empty() || named) out.push_back(c.slot());
  }
  return out;
}

absl::StatusOr<v1::ReconcileStoreResponse> Reconcile(Mutation& m,
                                                     const v1::ReconcileStoreRequest& req,
                                                     const std::vector<v1::SlotRef>& sources,
                                                     const std::string& caller) {
  auto it = m.model.stores.find(req.store());
  if (it == m.model.stores.end()) {
    return absl::NotFoundError(absl::StrCat("no store '", req.store(), "'"));
  }
  const v1::Copy* master = MasterCopy(it->second);
  if (master == nullptr || !master->usable()) {
    return absl::FailedPreconditionError(
        absl::StrCat("store ", req.store(), " has no usable master to copy stranded mail into"));
  }
  v1::ReconcileStoreResponse out;
  *out.mutable_master() = master->slot();
  for (const v1::SlotRef& src : sources) {
    if (model::SameSlot(src, master->slot())) continue;
    v1::Command cmd;
    v1::ReconcileCommand* r = cmd.mutable_reconcile();
    r->set_store(req.store());
    r->set_target_slot(master->slot().slot());
    r->set_source_peer_address(PeerOf(m.model, src.host()));
    r->set_source_slot(src.slot());
    out.add_command_ids(m.outbox.Issue(m.txn, master->slot().host(), std::move(cmd)));
    m.journal.Record(m.txn, event_kind::kStoreReconcile, v1::WARNING,
                     absl::StrCat("mail of ", req.store(), " stranded on ", model::SlotName(src),
                                  " is copied to its master ", model::SlotName(master->slot()),
                                  By(caller, req.reason())),
                     master->slot().host(), master->slot().slot(), req.store());
  }
  return out;
}

}  // namespace slotkeeper::slotmgr
