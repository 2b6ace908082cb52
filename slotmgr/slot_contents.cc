#include "slotmgr/slot_contents.h"

#include <algorithm>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "proto/event_kinds.h"
#include "proto/model_util.h"

namespace slotkeeper::slotmgr {
namespace {

// Journals (once per slot and store, in `notices`) users found on a slot of
// `store` that the index assigns to another store; they are not moved.
void NoteUserConflicts(Mutation& m, const v1::SlotRef& ref, const std::string& store,
                       const std::vector<std::string>& users) {
  const std::string key = absl::StrCat("user-conflict/", model::SlotName(ref), "/", store);
  if (!m.notices->insert(key).second) return;
  constexpr size_t kNamed = 5;
  std::vector<std::string> named(users.begin(), users.begin() + std::min(users.size(), kNamed));
  m.journal.Record(
      m.txn, event_kind::kSlotContentsMismatch, v1::WARNING,
      absl::StrCat(model::SlotName(ref), " (store ", store, ") holds ", users.size(),
                   " user(s) that belong to another store (", absl::StrJoin(named, ", "),
                   users.size() > kNamed ? ", ..." : "", "): their routing is not changed"),
      ref.host(), ref.slot(), store);
}

// Indexes the users of `contents` to its store; those of another store stay.
void AssignUsers(Mutation& m, const v1::SlotRef& ref, const v1::SlotContents& contents) {
  std::vector<std::string> conflicts;
  for (const auto& u : contents.users()) {
    const std::string* current = m.users->StoreOf(u);
    if (current != nullptr && *current != contents.store()) {
      conflicts.push_back(u);
    } else if (model::ValidateName(model::NameKind::kUser, u).ok() &&
               m.users->Assign(u, contents.store())) {
      m.txn.users.insert(u);
    }
  }
  if (!conflicts.empty()) NoteUserConflicts(m, ref, contents.store(), conflicts);
}

// True when the store of `contents` already has all its copies: then the
// slot is marked as holding an unadopted copy (journaled once).
bool StoreHasItsCopies(Mutation& m, v1::SlotInfo& slot, const v1::SlotRef& ref,
                       const v1::SlotContents& contents) {
  auto sit = m.model.stores.find(contents.store());
  if (sit == m.model.stores.end()) return false;
  const v1::StoreInfo& info = sit->second.info();
  int present = 0;
  for (const v1::Copy& c : info.copies()) present += c.role() != v1::SLOT_LOST;
  if (present < static_cast<int>(info.required_copies())) return false;
  if (slot.unadopted_store() != contents.store()) {
    slot.set_unadopted_store(contents.store());
    m.txn.hosts.insert(ref.host());
    m.journal.Record(m.txn, event_kind::kSlotContentsMismatch, v1::WARNING,
                     absl::StrCat(model::SlotName(ref), " holds a copy of ", contents.store(),
                                  " on disk, which already has its ", info.required_copies(),
                                  " copies: not adopted, and not used for placement until emptied"),
                     ref.host(), ref.slot(), contents.store());
  }
  return true;
}

// Records the copy on `slot` as a replica of its store (made when unknown).
// This records what the disk holds; it is not a role transition.
void AdoptCopy(Mutation& m, v1::SlotInfo& slot, const v1::SlotRef& ref,
               const v1::SlotContents& contents) {
  const bool known = m.model.stores.count(contents.store()) > 0;
  StoreRecord& store = m.model.stores[contents.store()];
  if (!known) {
    store.mutable_info()->set_name(contents.store());
    store.mutable_info()->set_required_copies(m.config.default_copies);
    store.mutable_info()->set_master_epoch(0);
  }
  v1::Copy* c = store.mutable_info()->add_copies();
  *c->mutable_slot() = ref;
  c->set_role(v1::SLOT_REPLICA);
  slot.set_role(v1::SLOT_REPLICA);
  slot.set_store(contents.store());
  slot.clear_unadopted_store();
  AssignUsers(m, ref, contents);
  m.txn.stores.insert(contents.store());
  m.txn.hosts.insert(ref.host());
  m.journal.Record(
      m.txn, event_kind::kStoreCopyRecognized, v1::INFO,
      absl::StrCat("found a copy of store ", contents.store(), " in ", model::SlotName(ref), " (",
                   contents.users_size(), " users); recorded as a replica"),
      ref.host(), ref.slot(), contents.store());
}

}  // namespace

void RecognizeContents(Mutation& m, const std::string& host, const v1::SlotContents& contents) {
  v1::SlotRef ref;
  ref.set_host(host);
  ref.set_slot(contents.slot());
  v1::SlotInfo* slot = FindSlot(&m.model, ref);
  if (slot == nullptr) return;
  slot->set_used_bytes(contents.used_bytes());
  if (contents.store().empty()) {
    if (!slot->unadopted_store().empty()) m.txn.hosts.insert(host);
    slot->clear_unadopted_store();
    return;
  }
  if (slot->role() == v1::SLOT_LOST) return;
  if (slot->store() == contents.store()) {
    AssignUsers(m, ref, contents);
    return;
  }
  if (StoreHasItsCopies(m, *slot, ref, contents)) return;
  if (!slot->store().empty()) {
    const std::string key = absl::StrCat("contents-mismatch/", model::SlotName(ref));
    if (m.notices->insert(key).second) {
      m.journal.Record(m.txn, event_kind::kSlotContentsMismatch, v1::WARNING,
                       absl::StrCat(model::SlotName(ref), " holds store ", contents.store(),
                                    " on disk but the coordinator assigned it ", slot->store()),
                       host, ref.slot(), slot->store());
    }
    return;
  }
  AdoptCopy(m, *slot, ref, contents);
}

}  // namespace slotkeeper::slotmgr
