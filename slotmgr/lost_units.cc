#include "slotmgr/lost_units.h"

#include <set>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "proto/event_kinds.h"
#include "proto/model_util.h"
#include "slotmgr/automation_guard.h"

namespace slotkeeper::slotmgr {
namespace {

v1::UnitInfo* FindUnit(v1::HostInfo& host, const std::string& unit) {
  for (v1::UnitInfo& u : *host.mutable_units()) {
    if (u.name() == unit) return &u;
  }
  return nullptr;
}

// Why `unit` of `host` is due to be declared lost at `now`, or "".
std::string DueBecause(const v1::HostInfo& host, const v1::UnitInfo& unit, int64_t now,
                       const CoordinatorConfig& config) {
  if (unit.state() == v1::UNIT_LOST) return "";
  const std::string after = FormatMs(config.replace_after_ms);
  if (unit.replace_at_ms() > 0 && unit.replace_at_ms() <= now) {
    if (unit.flap_suppressed()) {
      return absl::StrCat("it kept failing and recovering for longer than replace_after (", after,
                          "; flap penalty ", absl::StrFormat("%.1f", unit.flap_penalty()), ")");
    }
    if (unit.state() == v1::UNIT_FAILED) {
      return absl::StrCat("failed for longer than replace_after (", after, ")");
    }
  }
  if (host.state() == v1::HOST_DOWN && host.state_since_ms() + config.replace_after_ms <= now) {
    return absl::StrCat("host ", host.name(), " down for longer than replace_after (", after, ")");
  }
  return "";
}

}  // namespace

void RequestLostDeclarations(Mutation& m) {
  const int64_t now = m.now.wall_ms;
  for (auto& [name, rec] : m.model.hosts) {
    v1::HostInfo* h = rec.mutable_info();
    for (v1::UnitInfo& u : *h->mutable_units()) {
      if (u.second_opinion_since_ms() > 0) continue;  // asked already
      const std::string why = DueBecause(*h, u, now, m.config);
      if (why.empty() || !HoldBackLostDeclaration(m, name, u.name()).empty()) continue;
      u.set_second_opinion_since_ms(now);
      m.txn.hosts.insert(name);
      m.journal.Record(
          m.txn, event_kind::kUnitSecondOpinion, v1::WARNING,
          absl::StrCat("drive unit ", name, "/", u.name(), " is due to be declared lost (", why,
                       "): reading its slots over the peer channel first"),
          name, "", "", "", u.name());
    }
  }
}

void DeclareUnitLost(Mutation& m, HostRecord& host, v1::UnitInfo& unit, const std::string& why) {
  const std::string& hn = host.info().name();
  unit.set_state(NextUnitState(unit.state(), true, true));
  unit.set_replace_at_ms(0);
  unit.set_second_opinion_since_ms(0);
  unit.clear_held_reason();
  m.txn.hosts.insert(hn);
  m.journal.Record(m.txn, event_kind::kUnitLost, v1::CRITICAL,
                   absl::StrCat("drive unit ", hn, "/", unit.name(), " declared lost: ", why), hn,
                   "", "", "", unit.name());
  std::set<std::string> mounts;
  for (const auto& f : host.info().filesystems()) {
    if (f.unit() == unit.name()) mounts.insert(f.mount_point());
  }
  std::vector<v1::SlotRef> lost;
  for (const auto& s : host.info().slots()) {
    if (mounts.count(s.filesystem()) && s.role() != v1::SLOT_LOST) lost.push_back(s.ref());
  }
  // A copy still being made on the unit can never be one: its task is
  // cancelled first (releasing the slot it was seeding), so that it cannot
  // finish later and be counted, nor stand for the copy it was to replace.
  if (m.tasks != nullptr) {
    for (auto& [id, task] : m.model.tasks) {
      if (model::IsTaskFinished(task.info().state())) continue;
      for (const auto& ref : lost) {
        if (model::SameSlot(task.info().target(), ref)) {
          m.tasks->CancelTask(m.txn, task,
                              absl::StrCat("its target ", model::SlotName(ref),
                                           " is on a drive unit declared lost"));
          break;
        }
      }
    }
  }
  for (const auto& ref : lost) {
    const std::string store = FindSlot(m.model, ref)->store();
    SetSlotRole(m.model, m.txn, ref, v1::SLOT_LOST, store).IgnoreError();
    if (!store.empty()) {
      m.journal.Record(m.txn, event_kind::kCopyLost, v1::CRITICAL,
                       absl::StrCat("copy of ", store, " in ", model::SlotName(ref), " is lost"),
                       hn, ref.slot(), store);
    }
  }
  m.recompute = true;
}

bool ApplySecondOpinion(Mutation& m, const SecondOpinion& opinion) {
  auto hit = m.model.hosts.find(opinion.host);
  if (hit == m.model.hosts.end()) return false;
  v1::HostInfo* h = hit->second.mutable_info();
  v1::UnitInfo* u = FindUnit(*h, opinion.unit);
  if (u == nullptr || u->second_opinion_since_ms() == 0) return false;
  u->set_second_opinion_since_ms(0);  // asked again when due again
  m.txn.hosts.insert(opinion.host);
  const int64_t now = m.now.wall_ms;
  const std::string why = DueBecause(*h, *u, now, m.config);
  if (why.empty()) return false;  // recovered (or declared) meanwhile
  if (m.automation != nullptr && m.automation->state().mode() != v1::AUTOMATION_RUNNING) {
    return false;
  }
  if (!HoldBackLostDeclaration(m, opinion.host, opinion.unit).empty()) return false;
  const std::string name = absl::StrCat(opinion.host, "/", opinion.unit);
  if (opinion.readable && !u->flap_suppressed()) {
    u->set_state(v1::UNIT_FAILED);
    if (u->failed_since_ms() == 0) u->set_failed_since_ms(now);
    u->set_held_reason(absl::StrCat(why, ", but its slots could still be read (", opinion.detail,
                                    "): not declared lost"));
    u->set_replace_at_ms(now + m.config.replace_after_ms);
    m.journal.Record(
        m.txn, event_kind::kUnitHeld, v1::CRITICAL,
        absl::StrCat("drive unit ", name, " is not declared lost: ", why,
                     ", but a second opinion could read its slots (", opinion.detail,
                     "). Its masters fail over, its copies are not replaced; it stays out of "
                     "service until `slotctl unit reinstate ",
                     name, "` verifies them"),
        opinion.host, "", "", "", opinion.unit);
    m.recompute = true;
    return true;
  }
  DeclareUnitLost(
      m, hit->second, *u,
      absl::StrCat(why, opinion.readable
                            ? "; its slots can be read now, but it fails too often"
                            : "; a second opinion could not read it (" + opinion.detail + ")"));
  NoteUnitLost(m, opinion.host, opinion.unit);
  return true;
}

std::vector<OpinionRequest> OpinionsWanted(const v1::HostInfo& host) {
  std::vector<OpinionRequest> out;
  for (const v1::UnitInfo& u : host.units()) {
    if (u.second_opinion_since_ms() == 0 || u.state() == v1::UNIT_LOST) continue;
    OpinionRequest r;
    r.host = host.name();
    r.unit = u.name();
    r.peer_address = host.peer_address();
    std::set<std::string> mounts;
    for (const v1::FilesystemInfo& f : host.filesystems()) {
      if (f.unit() == u.name()) mounts.insert(f.mount_point());
    }
    for (const v1::SlotInfo& s : host.slots()) {
      if (mounts.count(s.filesystem()) && !s.store().empty()) {
        r.slots.emplace_back(s.ref().slot(), s.store());
      }
    }
    out.push_back(std::move(r));
  }
  return out;
}

}  // namespace slotkeeper::slotmgr
