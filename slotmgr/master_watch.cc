#include "slotmgr/master_watch.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "proto/event_kinds.h"
#include "proto/model_util.h"

namespace slotkeeper::slotmgr {

void MasterWatch::SessionStarted(const std::string& host, int64_t mono) {
  session_since_[host] = mono;
  promises_.erase(host);
}

void MasterWatch::HostSilent(const std::string& host) {
  session_since_.erase(host);
  promises_.erase(host);
}

bool MasterWatch::NoteReport(Txn& txn, ClusterModel& model, const std::string& host,
                             v1::HostInfo& h, const v1::HealthReport& report,
                             const CommandOutbox& outbox) {
  promises_[host].assign(report.failsafe_promises().begin(), report.failsafe_promises().end());
  std::map<std::string, const v1::Lease*> held;  // by slot
  for (const v1::Lease& l : report.leases_held()) held[l.slot()] = &l;
  bool recompute = false;
  for (v1::SlotInfo& s : *h.mutable_slots()) {
    const std::string name = model::SlotName(s.ref());
    if (s.role() != v1::SLOT_MASTER) {
      if (s.serving() || s.serving_on_failsafe()) {
        s.set_serving(false);
        s.set_serving_on_failsafe(false);
        txn.hosts.insert(host);
        recompute = true;
      }
      continue;
    }
    // A promote on its way: the report may have been built before it.
    if (outbox.PromotePending(host, s.ref().slot())) continue;
    auto it = held.find(s.ref().slot());
    const v1::Lease* lease =
        it != held.end() && it->second->store() == s.store() ? it->second : nullptr;
    const bool serving = lease != nullptr;
    const bool failsafe = serving && lease->failsafe();
    if (serving != s.serving()) {
      if (!serving) {
        not_serving_.insert(name);
        journal_->Record(txn, event_kind::kSlotNotServing, v1::CRITICAL,
                         absl::StrCat("master ", name, " of ", s.store(),
                                      " holds no lease: its mail server is not serving"),
                         host, s.ref().slot(), s.store());
      } else if (not_serving_.erase(name) > 0) {
        journal_->Record(txn, event_kind::kSlotServing, v1::INFO,
                         absl::StrCat("master ", name, " of ", s.store(), " serves again"), host,
                         s.ref().slot(), s.store());
      }
      s.set_serving(serving);
      txn.hosts.insert(host);
      recompute = true;
    }
    if (failsafe != s.serving_on_failsafe()) {
      s.set_serving_on_failsafe(failsafe);
      txn.hosts.insert(host);
    }
    if (failsafe && on_failsafe_.insert(s.store()).second) {
      journal_->Record(txn, event_kind::kStoreFailsafe, v1::WARNING,
                       absl::StrCat("store ", s.store(), ": master ", name,
                                    " serves on failsafe grants of its other copies (it could "
                                    "not reach the coordinator)"),
                       host, s.ref().slot(), s.store());
    } else if (!failsafe && serving && on_failsafe_.erase(s.store()) > 0) {
      journal_->Record(txn, event_kind::kStoreFailsafeEnded, v1::INFO,
                       absl::StrCat("store ", s.store(), ": master ", name,
                                    " is renewed by the coordinator again"),
                       host, s.ref().slot(), s.store());
    }
    // The witnesses the master would ask: kept with the store.
    auto sit = model.stores.find(s.store());
    if (lease != nullptr && sit != model.stores.end()) {
      StoreRecord& store = sit->second;
      const std::vector<std::string> reported(lease->witnesses().begin(), lease->witnesses().end());
      const std::vector<std::string> kept(store.master_witnesses().begin(),
                                          store.master_witnesses().end());
      if (reported != kept) {
        store.clear_master_witnesses();
        for (const std::string& w : reported) store.add_master_witnesses(w);
        txn.stores.insert(s.store());
      }
    }
  }
  return recompute;
}

void MasterWatch::PromoteApplied(Txn& txn, ClusterModel& model, const v1::SlotRef& slot) {
  v1::SlotInfo* s = FindSlot(&model, slot);
  if (s == nullptr || s->role() != v1::SLOT_MASTER || s->serving()) return;
  s->set_serving(true);
  s->set_serving_on_failsafe(false);
  if (not_serving_.erase(model::SlotName(slot)) > 0) {
    journal_->Record(
        txn, event_kind::kSlotServing, v1::INFO,
        absl::StrCat("master ", model::SlotName(slot), " of ", s->store(), " serves again"),
        slot.host(), slot.slot(), s->store());
  }
  txn.hosts.insert(slot.host());
}

void MasterWatch::Refuse(const std::string& store, const v1::SlotRef& slot, int64_t mono,
                         int64_t for_ms) {
  refused_until_[store][model::SlotName(slot)] = mono + for_ms;
}

bool MasterWatch::IsRefused(const std::string& store, const v1::SlotRef& slot, int64_t mono) const {
  auto it = refused_until_.find(store);
  if (it == refused_until_.end()) return false;
  auto s = it->second.find(model::SlotName(slot));
  return s != it->second.end() && s->second > mono;
}

std::vector<v1::SlotRef> MasterWatch::Refused(const std::string& store, int64_t mono) const {
  std::vector<v1::SlotRef> out;
  auto it = refused_until_.find(store);
  if (it == refused_until_.end()) return out;
  for (const auto& [name, until] : it->second) {
    if (until <= mono) continue;
    v1::SlotRef& ref = out.emplace_back();
    ref.set_host(name.substr(0, name.find('/')));
    ref.set_slot(name.substr(name.find('/') + 1));
  }
  return out;
}

bool MasterWatch::RepromoteDue(const v1::SlotRef& slot, int64_t mono) const {
  auto it = repromoted_.find(model::SlotName(slot));
  return it == repromoted_.end() || mono - it->second >= 2 * config_->heartbeat_ms;
}

void MasterWatch::NoteRepromoted(const v1::SlotRef& slot, int64_t mono) {
  repromoted_[model::SlotName(slot)] = mono;
}

bool MasterWatch::PromisesFor(const std::string& host, const std::string& store) const {
  auto it = promises_.find(host);
  if (it == promises_.end()) return false;
  return std::any_of(it->second.begin(), it->second.end(),
                     [&](const v1::FailsafePromise& p) { return p.store() == store; });
}

bool MasterWatch::MayBeOnFailsafe(const StoreRecord& store, const v1::SlotRef& target,
                                  int64_t mono) const {
  if (store.master_witnesses().empty()) return false;  // it has no one to ask
  const std::string target_name = model::SlotName(target);
  const int64_t failsafe_lease = config_->lease_ms + config_->failsafe_margin_ms;
  for (const std::string& w : store.master_witnesses()) {
    // A witness promises before the master may serve on its grant, and
    // refuses promotion while it promises: promoting it is safe.
    if (w == target_name) return false;
    const std::string host = w.substr(0, w.find('/'));
    auto since = session_since_.find(host);
    if (since == session_since_.end() || mono - since->second < failsafe_lease) continue;
    // Heard the coordinator for longer than any failsafe lease, and bound by
    // no promise: it granted nothing still running, and the master needs
    // every witness's grant.
    if (!PromisesFor(host, store.info().name())) return false;
  }
  return true;
}

}  // namespace slotkeeper::slotmgr
