// ForgetHost (forget_host.h).
#include "slotmgr/forget_host.h"

#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "base/status_macros.h"
#include "proto/event_kinds.h"
#include "proto/model_util.h"

namespace slotkeeper::slotmgr {
namespace {

// Quoted, so that a name with spaces reads as one.
std::string Quoted(const std::string& name) { return absl::StrCat("\"", name, "\""); }

}  // namespace

absl::Status CheckForgettable(const ClusterModel& model, const HostRecord& host) {
  const v1::HostInfo& h = host.info();
  const std::string name = Quoted(h.name());
  const bool never_heard = h.last_heard_ms() == 0;
  if (h.state() != v1::HOST_DOWN && !never_heard) {
    return absl::FailedPreconditionError(absl::StrCat(
        "host ", name, " is ", model::Name(h.state()),
        ": only a host that is down (or was never heard from) can be forgotten; stop its agent "
        "and wait until the coordinator declares it down"));
  }
  for (const v1::SlotInfo& s : h.slots()) {
    if (s.store().empty()) continue;
    if (s.role() == v1::SLOT_MASTER || s.role() == v1::SLOT_REPLICA ||
        s.role() == v1::SLOT_SEEDING) {
      return absl::FailedPreconditionError(absl::StrCat(
          "host ", name, " still holds the ", model::Name(s.role()), " copy of store ", s.store(),
          " on slot ", s.ref().slot(),
          s.role() == v1::SLOT_MASTER ? ": fail the store over first (slotctl failover --store "
                                      : ": declare its units lost and let the copies be replaced "
                                        "first (slotctl mark-lost ",
          s.role() == v1::SLOT_MASTER ? s.store() : h.name(), ")"));
    }
  }
  for (const auto& [id, t] : model.tasks) {
    const v1::TaskInfo& ti = t.info();
    if (model::IsTaskFinished(ti.state())) continue;
    if (ti.source().host() == h.name() || ti.target().host() == h.name()) {
      return absl::FailedPreconditionError(
          absl::StrCat("task ", id, " (", model::Name(ti.state()), ") copies ",
                       ti.source().host() == h.name() ? "from" : "into", " host ", name,
                       ": cancel it first (slotctl task cancel ", id, ")"));
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<v1::ForgetHostResponse> ForgetHost(Mutation& m, const v1::ForgetHostRequest& req,
                                                  const std::string& actor) {
  SK_ASSIGN_OR_RETURN(HostRecord* const host, FindOperatorHost(m.model, req.host()));
  SK_RETURN_IF_ERROR(CheckForgettable(m.model, *host));
  const v1::HostInfo& h = host->info();
  v1::ForgetHostResponse out;
  out.set_host(h.name());
  out.set_state(h.state());
  out.set_slots(h.slots_size());
  // The lost copies on the host, by store.
  std::vector<std::pair<std::string, v1::SlotRef>> lost;
  for (const auto& [name, store] : m.model.stores) {
    for (const v1::Copy& c : store.info().copies()) {
      if (c.slot().host() == h.name()) lost.emplace_back(name, c.slot());
    }
  }
  for (const auto& [store, slot] : lost) *out.add_lost_copies_dropped() = slot;
  if (req.dry_run()) return out;

  Txn& txn = m.txn;
  for (const auto& [name, slot] : lost) {
    auto* copies = m.model.stores[name].mutable_info()->mutable_copies();
    for (int i = 0; i < copies->size(); ++i) {
      if (model::SameSlot(copies->Get(i).slot(), slot)) {
        copies->DeleteSubrange(i, 1);
        break;
      }
    }
    txn.stores.insert(name);
    m.journal.Record(txn, event_kind::kCopyDropped, v1::INFO,
                     absl::StrCat("lost copy ", model::SlotName(slot), " dropped from ", name,
                                  " (its host is forgotten)"),
                     slot.host(), slot.slot(), name);
  }
  out.set_commands_discarded(static_cast<uint32_t>(m.outbox.DropHost(txn, h.name())));
  v1::Event e = MakeEvent(
      event_kind::kHostForgotten, v1::WARNING,
      absl::StrCat("host ", Quoted(h.name()), " (", model::Name(h.state()), ", ", h.slots_size(),
                   " slots) forgotten by ", actor, ": ", lost.size(), " lost copies dropped, ",
                   out.commands_discarded(), " queued commands discarded",
                   req.reason().empty() ? "" : " (" + req.reason() + ")"),
      h.name());
  e.set_actor(actor);
  m.journal.Record(txn, std::move(e));
  txn.erased_hosts.insert(h.name());
  txn.hosts.erase(h.name());
  m.model.hosts.erase(out.host());
  m.recompute = !lost.empty();
  out.set_done(true);
  return out;
}

}  // namespace slotkeeper::slotmgr
