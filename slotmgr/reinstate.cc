#include "slotmgr/reinstate.h"

#include <map>
#include <set>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "base/status_macros.h"
#include "proto/event_kinds.h"
#include "proto/model_util.h"
#include "slotmgr/failure_detector.h"

namespace slotkeeper::slotmgr {
namespace {

std::set<std::string> MountsOf(const v1::HostInfo& h, const std::string& unit) {
  std::set<std::string> mounts;
  for (const v1::FilesystemInfo& f : h.filesystems()) {
    if (f.unit() == unit) mounts.insert(f.mount_point());
  }
  return mounts;
}

const v1::UnitInfo* FindUnit(const v1::HostInfo& h, const std::string& unit) {
  for (const v1::UnitInfo& u : h.units()) {
    if (u.name() == unit) return &u;
  }
  return nullptr;
}

// user -> content digest, from one copy.
absl::StatusOr<std::map<std::string, std::string>> Digests(PeerLister& peers,
                                                           const std::string& address,
                                                           const v1::SlotRef& slot,
                                                           const std::string& store) {
  v1::ListUsersRequest req;
  req.set_slot(slot.slot());
  req.set_store(store);
  req.set_include_digests(true);
  absl::StatusOr<v1::ListUsersResponse> listed = peers.ListUsers(address, req);
  if (!listed.ok()) return listed.status();
  std::map<std::string, std::string> out;
  for (const v1::UserSummary& u : listed->users()) out[u.user()] = u.digest();
  return out;
}

v1::ReinstatedCopy Verify(const ReinstateCandidate& c, PeerLister& peers) {
  v1::ReinstatedCopy out;
  out.set_store(c.store);
  *out.mutable_slot() = c.slot;
  out.set_role(c.role);
  if (c.identity_changed) {
    out.set_problem(
        "its slot's identity changed behind its agent (emptied, replaced or another "
        "filesystem): it needs a full copy, not a reinstatement");
    return out;
  }
  absl::StatusOr<std::map<std::string, std::string>> here =
      Digests(peers, c.peer_address, c.slot, c.store);
  if (!here.ok()) {
    out.set_problem(absl::StrCat("could not be read: ", here.status().message()));
    return out;
  }
  if (c.role == v1::SLOT_MASTER) {  // nothing newer to compare it with
    out.set_users_same(here->size());
    out.set_verified(true);
    return out;
  }
  if (c.master.host().empty()) {
    out.set_problem("its store has no master to verify it against and catch up from");
    return out;
  }
  absl::StatusOr<std::map<std::string, std::string>> master =
      Digests(peers, c.master_peer_address, c.master, c.store);
  if (!master.ok()) {
    out.set_problem(absl::StrCat("its store's master ", model::SlotName(c.master),
                                 " could not be read: ", master.status().message()));
    return out;
  }
  for (const auto& [user, digest] : *master) {
    auto it = here->find(user);
    if (it == here->end()) {
      out.set_users_missing(out.users_missing() + 1);
    } else if (it->second == digest) {
      out.set_users_same(out.users_same() + 1);
    } else {
      out.set_users_differ(out.users_differ() + 1);
    }
  }
  for (const auto& [user, digest] : *here)
    out.set_users_extra(out.users_extra() + !master->count(user));
  if (!master->empty() && out.users_same() + out.users_differ() == 0) {
    out.set_problem("it holds none of the users of its store's master: not this store's data");
    return out;
  }
  out.set_verified(true);
  return out;
}

// The unit, if it may be reinstated now: its host up, the unit held or
// lost, and no hard evidence against it.
absl::StatusOr<std::pair<HostRecord*, v1::UnitInfo*>> CheckReinstatable(
    Mutation& m, const v1::ReinstateUnitRequest& req) {
  SK_RETURN_IF_ERROR(model::ValidateName(model::NameKind::kHost, req.host()));
  SK_RETURN_IF_ERROR(model::ValidateName(model::NameKind::kUnit, req.unit()));
  SK_ASSIGN_OR_RETURN(HostRecord* const host, FindOperatorHost(m.model, req.host()));
  v1::HostInfo* h = host->mutable_info();
  v1::UnitInfo* unit = nullptr;
  for (v1::UnitInfo& u : *h->mutable_units()) {
    if (u.name() == req.unit()) unit = &u;
  }
  const std::string name = absl::StrCat(req.host(), "/", req.unit());
  if (unit == nullptr) return absl::NotFoundError(absl::StrCat("no drive unit ", name));
  if (h->state() != v1::HOST_UP) {
    return absl::FailedPreconditionError(
        absl::StrCat("host ", req.host(), " is ", model::Name(h->state()),
                     ": its agent must report before its unit can be reinstated"));
  }
  if (unit->state() == v1::UNIT_ONLINE) {
    return absl::FailedPreconditionError(absl::StrCat(name, " is online: nothing to reinstate"));
  }
  if (unit->state() == v1::UNIT_FAILED && unit->held_reason().empty()) {
    return absl::FailedPreconditionError(absl::StrCat(
        name, " is failed on its agent's current evidence; it returns by itself when that clears"));
  }
  std::vector<std::string> evidence;
  if (UnitHasHardEvidence(req.unit(), h->conditions())) evidence.push_back("on the unit itself");
  for (const std::string& mount : MountsOf(*h, req.unit())) {
    const v1::FilesystemState fs = FilesystemStateFor(mount, h->conditions());
    if (fs != v1::FS_OK) evidence.push_back(absl::StrCat(mount, " ", model::Name(fs)));
  }
  if (!evidence.empty()) {
    return absl::FailedPreconditionError(absl::StrCat(name, " still reports hard evidence (",
                                                      absl::StrJoin(evidence, ", "),
                                                      "): fix it first; nothing was changed"));
  }
  return std::make_pair(host, unit);
}

// The copies on the unit now must be those verified, and (unless
// `dry_run`, which shows what did not verify) all verified.
absl::Status CheckVerified(const v1::HostInfo& h, const std::string& unit,
                           const std::vector<v1::ReinstatedCopy>& verified, bool dry_run) {
  std::set<std::string> now, checked;
  const std::set<std::string> mounts = MountsOf(h, unit);
  for (const v1::SlotInfo& s : h.slots()) {
    if (mounts.count(s.filesystem()) && !s.store().empty()) {
      now.insert(absl::StrCat(model::SlotName(s.ref()), "=", s.store()));
    }
  }
  for (const v1::ReinstatedCopy& c : verified) {
    checked.insert(absl::StrCat(model::SlotName(c.slot()), "=", c.store()));
    if (!c.verified() && !dry_run) {
      return absl::FailedPreconditionError(absl::StrCat(
          "the copy of ", c.store(), " in ", model::SlotName(c.slot()), " did not verify (",
          c.problem(), "); nothing was changed: declare the unit lost, or repair the copy"));
    }
  }
  if (now != checked) {
    return absl::FailedPreconditionError(
        "the copies on the unit changed while they were verified; run the reinstatement again");
  }
  return absl::OkStatus();
}

// For each unfinished task replacing one of `slots` (copies being
// reinstated): whether it is cancelled (the store keeps its required
// copies without the task's target, the reinstated ones counted) or kept.
std::vector<std::pair<std::string, bool>> PlanCancellations(const ClusterModel& model,
                                                            const std::set<std::string>& slots) {
  std::map<std::string, int> present;  // by store, after the reinstatement
  for (const auto& [name, rec] : model.stores) {
    for (const v1::Copy& c : rec.info().copies()) {
      present[name] += c.role() != v1::SLOT_LOST || slots.count(model::SlotName(c.slot()));
    }
  }
  std::vector<std::pair<std::string, bool>> out;
  for (const auto& [id, t] : model.tasks) {
    if (model::IsTaskFinished(t.info().state()) || !t.has_replaces() ||
        !slots.count(model::SlotName(t.replaces()))) {
      continue;
    }
    auto st = model.stores.find(t.info().store());
    const int required = st != model.stores.end() ? st->second.info().required_copies() : 0;
    int& n = present[t.info().store()];
    const bool cancel = n - 1 >= required;
    if (cancel) --n;
    out.emplace_back(id, cancel);
  }
  return out;
}

// The unit back to ONLINE, its flap record cleared; a slot whose copy was
// replaced and dropped meanwhile becomes a spare.
void ReturnUnit(Mutation& m, HostRecord& host, v1::UnitInfo& unit) {
  unit.set_state(v1::UNIT_ONLINE);
  unit.clear_held_reason();
  unit.set_replace_at_ms(0);
  unit.set_failed_since_ms(0);
  unit.set_second_opinion_since_ms(0);
  unit.set_flap_penalty(0);
  unit.set_flap_penalty_at_ms(0);
  unit.set_flap_suppressed(false);
  m.txn.hosts.insert(host.info().name());
  const std::set<std::string> mounts = MountsOf(host.info(), unit.name());
  std::vector<v1::SlotRef> dropped;
  for (const v1::SlotInfo& s : host.info().slots()) {
    if (mounts.count(s.filesystem()) && s.role() == v1::SLOT_LOST && s.store().empty()) {
      dropped.push_back(s.ref());
    }
  }
  for (const v1::SlotRef& ref : dropped) {
    SetSlotRole(m.model, m.txn, ref, v1::SLOT_SPARE, "").IgnoreError();
  }
}

// A copy on the unit: a master stays; another becomes SEEDING and catches
// up from the master. Sets its action (and task).
void ReinstateCopy(Mutation& m, v1::ReinstatedCopy& c, bool dry_run) {
  if (c.role() == v1::SLOT_MASTER) {
    c.set_action("stays the master (promoted again to serve)");
    return;
  }
  for (const auto& [id, t] : m.model.tasks) {
    if (!model::IsTaskFinished(t.info().state()) && model::SameSlot(t.info().target(), c.slot())) {
      c.set_action(absl::StrCat("its task ", id, " goes on seeding it"));
      c.set_task_id(id);
      return;
    }
  }
  auto it = m.model.stores.find(c.store());
  if (it == m.model.stores.end()) return;
  // Nothing it holds is trusted until it has caught up.
  if (v1::Copy* copy = FindCopy(it->second, c.slot()); copy != nullptr && !dry_run) {
    copy->set_in_sync(false);
    m.txn.stores.insert(c.store());
  }
  const v1::Copy* master = MasterCopy(it->second);
  if (master == nullptr) {
    c.set_action("waits: its store has no master to catch up from");
    return;
  }
  c.set_action(absl::StrCat("catches up from ", model::SlotName(master->slot()),
                            " by delta, then is a replica again"));
  if (dry_run) return;
  SetSlotRole(m.model, m.txn, c.slot(), v1::SLOT_SEEDING, c.store()).IgnoreError();
  c.set_task_id(
      m.tasks->CreateTask(m.txn, c.store(), master->slot(), c.slot(), {}, v1::TASK_CATCH_UP));
}

}  // namespace

absl::StatusOr<std::vector<ReinstateCandidate>> ReinstateCandidates(const Queries& queries,
                                                                    const std::string& host,
                                                                    const std::string& unit) {
  SK_RETURN_IF_ERROR(model::ValidateName(model::NameKind::kHost, host));
  SK_RETURN_IF_ERROR(model::ValidateName(model::NameKind::kUnit, unit));
  SK_ASSIGN_OR_RETURN(const v1::HostInfo h, queries.GetHost(host));
  if (FindUnit(h, unit) == nullptr) {
    return absl::NotFoundError(absl::StrCat("no drive unit ", host, "/", unit));
  }
  const std::set<std::string> mounts = MountsOf(h, unit);
  std::vector<ReinstateCandidate> out;
  for (const v1::SlotInfo& s : h.slots()) {
    if (!mounts.count(s.filesystem()) || s.store().empty()) continue;
    absl::StatusOr<v1::StoreInfo> store = queries.GetStore(s.store());
    if (!store.ok()) continue;  // gone meanwhile: the apply step refuses
    ReinstateCandidate c{s.store(), s.ref(), s.role(), h.peer_address()};
    for (const v1::Copy& copy : store->copies()) {
      if (model::SameSlot(copy.slot(), s.ref())) c.identity_changed = copy.identity_changed();
      if (copy.role() == v1::SLOT_MASTER) c.master = copy.slot();
    }
    if (!c.master.host().empty()) {
      absl::StatusOr<v1::HostInfo> mh = c.master.host() == host ? absl::StatusOr<v1::HostInfo>(h)
                                                                : queries.GetHost(c.master.host());
      if (mh.ok()) c.master_peer_address = mh->peer_address();
    }
    out.push_back(std::move(c));
  }
  return out;
}

std::vector<v1::ReinstatedCopy> VerifyCandidates(const std::vector<ReinstateCandidate>& candidates,
                                                 PeerLister& peers) {
  std::vector<v1::ReinstatedCopy> out;
  for (const ReinstateCandidate& c : candidates) out.push_back(Verify(c, peers));
  return out;
}

absl::StatusOr<v1::ReinstateUnitResponse> ApplyReinstate(
    Mutation& m, const v1::ReinstateUnitRequest& req,
    const std::vector<v1::ReinstatedCopy>& verified, const std::string& caller) {
  SK_ASSIGN_OR_RETURN(auto found, CheckReinstatable(m, req));
  auto [host, unit] = found;
  SK_RETURN_IF_ERROR(CheckVerified(host->info(), req.unit(), verified, req.dry_run()));
  v1::ReinstateUnitResponse out;
  std::set<std::string> slots;
  for (const v1::ReinstatedCopy& c : verified) {
    *out.add_copies() = c;
    if (c.role() != v1::SLOT_MASTER) slots.insert(model::SlotName(c.slot()));
  }
  const auto cancellations = PlanCancellations(m.model, slots);
  for (const auto& [id, cancel] : cancellations) {
    (cancel ? out.mutable_tasks_cancelled() : out.mutable_tasks_kept())->Add(std::string(id));
  }
  for (v1::ReinstatedCopy& c : *out.mutable_copies()) {
    if (c.verified()) ReinstateCopy(m, c, true);
  }
  if (req.dry_run()) return out;
  if (m.tasks == nullptr) return absl::InternalError("no task manager");

  const std::string name = absl::StrCat(req.host(), "/", req.unit());
  for (const auto& [id, cancel] : cancellations) {
    StoredTask& t = m.model.tasks.at(id);
    if (cancel) {
      m.tasks->CancelTask(m.txn, t,
                          absl::StrCat("the copy it replaces is reinstated (", name, ")"));
    } else {
      t.clear_replaces();  // done, it must not drop the reinstated copy
      m.txn.tasks.insert(id);
    }
  }
  ReturnUnit(m, *host, *unit);
  for (v1::ReinstatedCopy& c : *out.mutable_copies()) ReinstateCopy(m, c, false);
  if (m.automation == nullptr || m.automation->state().mode() == v1::AUTOMATION_RUNNING) {
    m.tasks->Schedule(m.txn);
  }
  m.journal.Record(
      m.txn, event_kind::kUnitReinstated, v1::WARNING,
      absl::StrCat("drive unit ", name, " reinstated by ",
                   req.set_by().empty() ? "?" : req.set_by(),
                   caller.empty() ? "" : " (" + caller + ")",
                   req.reason().empty() ? "" : ": " + req.reason(), "; ", out.copies_size(),
                   " copy(ies) verified and catching up by delta, ", out.tasks_cancelled_size(),
                   " replacement task(s) cancelled, ", out.tasks_kept_size(), " kept"),
      req.host(), "", "", "", req.unit());
  m.recompute = true;
  out.set_done(true);
  return out;
}

}  // namespace slotkeeper::slotmgr
