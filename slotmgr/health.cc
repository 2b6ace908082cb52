#include "slotmgr/health.h"

#include <algorithm>
#include <optional>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "proto/event_kinds.h"
#include "proto/model_util.h"
#include "slotmgr/failure_detector.h"
#include "slotmgr/guardrails.h"
#include "slotmgr/journal.h"
#include "slotmgr/view_builder.h"

namespace slotkeeper::slotmgr {
namespace {

// A drive unit's state from whether hard evidence holds against it now.
// A failure adds to its flap penalty; replace_at is set at the first failure
// and kept when it recovers while flap-suppressed. A held unit stays FAILED
// (only a reinstatement returns it) and is due again only while its
// evidence lasts (lost_units.h).
void DeriveUnitState(const std::string& host, v1::UnitInfo& u, bool hard, int64_t now,
                     const CoordinatorConfig& config, HealthChanges& out) {
  const bool held = !u.held_reason().empty();
  if (held && u.state() == v1::UNIT_FAILED) {
    const int64_t due =
        hard ? (u.replace_at_ms() != 0 ? u.replace_at_ms() : now + config.replace_after_ms) : 0;
    if (due != u.replace_at_ms()) {
      u.set_replace_at_ms(due);
      out.hosts.insert(host);
    }
    return;
  }
  const v1::UnitState s = NextUnitState(u.state(), hard, false);
  if (s == u.state()) return;
  const bool failed = s == v1::UNIT_FAILED;
  out.events.push_back(MakeEvent(failed ? event_kind::kUnitFailed : event_kind::kUnitOnline,
                                 failed ? v1::CRITICAL : v1::INFO,
                                 absl::StrCat("drive unit ", host, "/", u.name(), ": ",
                                              model::Name(u.state()), " -> ", model::Name(s)),
                                 host, "", "", "", u.name()));
  u.set_state(s);
  u.set_failed_since_ms(failed ? now : 0);
  out.hosts.insert(host);
  if (!failed) {
    if (!u.flap_suppressed()) u.set_replace_at_ms(0);
    return;
  }
  if (u.replace_at_ms() == 0) u.set_replace_at_ms(now + config.replace_after_ms);
  const FlapPenalty p =
      PenaltyAfterFailure({u.flap_penalty(), u.flap_penalty_at_ms(), u.flap_suppressed()}, now,
                          GuardrailOptionsFrom(config));
  u.set_flap_penalty(p.penalty);
  u.set_flap_penalty_at_ms(p.at_ms);
  if (p.suppressed && !u.flap_suppressed()) {
    out.events.push_back(MakeEvent(
        event_kind::kUnitFlapping, v1::WARNING,
        absl::StrFormat("drive unit %s/%s fails again and again (flap penalty %.1f, threshold "
                        "%.1f): held out of placement, and due to be declared lost in %s unless "
                        "it settles",
                        host, u.name(), p.penalty, config.flap_suppress_threshold,
                        FormatMs(std::max<int64_t>(0, u.replace_at_ms() - now))),
        host, "", "", "", u.name()));
  }
  u.set_flap_suppressed(p.suppressed);
}

// Step 1 for one host: filesystems, drive units, slots. Records each slot's
// health by "HOST/SLOT" in `health` for step 2.
void DeriveHostComponents(const std::string& name, v1::HostInfo& h, const LeaseTable& leases,
                          CoordinatorNow clocks, const CoordinatorConfig& config,
                          HealthChanges& out, std::map<std::string, SlotHealth>& health) {
  const int64_t now = clocks.wall_ms;
  const Conditions& conds = h.conditions();
  std::map<std::string, v1::FilesystemState> fs_state;
  for (auto& f : *h.mutable_filesystems()) {
    v1::FilesystemState s = FilesystemStateFor(f.mount_point(), conds);
    if (s != f.state()) {
      out.events.push_back(
          MakeEvent(event_kind::kFilesystemState, s == v1::FS_OK ? v1::INFO : v1::CRITICAL,
                    absl::StrCat("filesystem ", f.mount_point(), " on ", name, ": ",
                                 model::Name(f.state()), " -> ", model::Name(s)),
                    name, "", "", "", f.unit()));
      f.set_state(s);
      out.hosts.insert(name);
    }
    fs_state[f.mount_point()] = s;
  }
  std::map<std::string, v1::UnitState> unit_state;
  for (auto& u : *h.mutable_units()) {
    // A unit is failed on its own evidence, or when every filesystem on it is.
    bool hard = UnitHasHardEvidence(u.name(), conds);
    int on_unit = 0, bad = 0;
    for (const auto& f : h.filesystems()) {
      if (f.unit() != u.name()) continue;
      ++on_unit;
      bad += f.state() != v1::FS_OK;
    }
    hard = hard || (on_unit > 0 && bad == on_unit);
    DeriveUnitState(name, u, hard, now, config, out);
    unit_state[u.name()] = u.state();
  }
  for (auto& s : *h.mutable_slots()) {
    v1::UnitState us = v1::UNIT_ONLINE;
    for (const auto& f : h.filesystems()) {
      if (f.mount_point() == s.filesystem()) us = unit_state[f.unit()];
    }
    SlotHealth sh = SlotHealthFor(h.state(), us, fs_state[s.filesystem()],
                                  SlotHardReason(s.ref().slot(), conds));
    // A slot the agent no longer lists stays unusable for that reason.
    if (s.missing_from_inventory()) sh = {false, s.unusable_reason(), false};
    if (sh.usable != s.usable() || sh.reason != s.unusable_reason()) {
      if (!s.store().empty() || !sh.usable) {
        out.events.push_back(
            MakeEvent(sh.usable ? event_kind::kSlotUsable : event_kind::kSlotUnusable,
                      sh.usable ? v1::INFO : v1::WARNING,
                      absl::StrCat("slot ", model::SlotName(s.ref()),
                                   sh.usable ? " usable again" : " unusable: " + sh.reason),
                      name, s.ref().slot(), s.store()));
      }
      s.set_usable(sh.usable);
      s.set_unusable_reason(sh.reason);
      out.hosts.insert(name);
    }
    const int64_t until = leases.ValidUntil(s.ref());
    s.set_lease_valid_until_ms(until > 0 ? until - clocks.mono_ms + clocks.wall_ms : 0);
    health[model::SlotName(s.ref())] = sh;
  }
}

// What step 2 found about one store, for step 3.
struct CopiesSummary {
  StoreRecord* rec;
  bool master_usable, master_serving, has_master;
  int usable;
};

// Step 2 for one store: its copies' usability (their slots'), its used
// bytes, and since when its master has been unusable (and on hard evidence).
CopiesSummary DeriveCopies(const std::string& name, StoreRecord& rec, const ClusterModel& model,
                           const std::map<std::string, SlotHealth>& health, int64_t now,
                           HealthChanges& out) {
  v1::StoreInfo* st = rec.mutable_info();
  int usable = 0;
  bool master_usable = false, has_master = false, master_hard = false, lost_copy = false;
  bool master_serving = false;
  uint64_t used = 0;
  for (auto& c : *st->mutable_copies()) {
    const v1::SlotInfo* si = FindSlot(model, c.slot());
    const bool ok = si != nullptr && si->usable();
    const std::string reason =
        si == nullptr ? std::string("slot not in any inventory") : si->unusable_reason();
    if (si != nullptr) c.set_role(si->role());
    const bool serving = si != nullptr && si->role() == v1::SLOT_MASTER && si->serving();
    if (serving != c.serving()) {
      c.set_serving(serving);
      out.stores.insert(name);
    }
    if (ok != c.usable() || reason != c.unusable_reason()) {
      c.set_usable(ok);
      c.set_unusable_reason(reason);
      out.stores.insert(name);
    }
    if (c.role() == v1::SLOT_MASTER) {
      has_master = true;
      master_usable = ok;
      master_serving = serving;
      auto h = health.find(model::SlotName(c.slot()));
      master_hard = !ok && h != health.end() && h->second.hard;
      if (si != nullptr) used = si->used_bytes();
    }
    usable += model::IsUsableCopy(c);
    // A copy declared lost is definitive evidence, like a hard condition.
    if (c.role() == v1::SLOT_LOST) lost_copy = true;
  }
  if (!has_master && lost_copy) master_hard = true;
  if (used > 0) st->set_used_bytes(used);
  if (master_usable) {
    if (st->master_unusable_since_ms() != 0 || rec.master_hard_since_ms() != 0) {
      st->set_master_unusable_since_ms(0);
      rec.set_master_hard_since_ms(0);
      out.stores.insert(name);
    }
  } else {
    if (st->master_unusable_since_ms() == 0) {
      st->set_master_unusable_since_ms(now);
      out.stores.insert(name);
    }
    if (master_hard && rec.master_hard_since_ms() == 0) {
      rec.set_master_hard_since_ms(now);
      out.stores.insert(name);
    } else if (!master_hard && rec.master_hard_since_ms() != 0) {
      // The agent fell silent: only the silence grace applies from here.
      rec.set_master_hard_since_ms(0);
      out.stores.insert(name);
    }
  }
  return {&rec, master_usable, master_serving, has_master, usable};
}

// Step 3 for one store. `view` is the planners' snapshot after steps 1 and
// 2 (null when none was needed or it could not be built).
void UpdateStoreState(const CopiesSummary& d, const ClusterView* view,
                      const CoordinatorConfig& config, HealthChanges& out) {
  v1::StoreInfo* st = d.rec->mutable_info();
  const std::string name = st->name();
  PromotionChoice choice;
  if (!d.master_usable && view != nullptr) {
    choice = ChoosePromotion(*view, name, config, false, nullptr);
  }
  // A usable master that holds no lease does not serve mail: not healthy,
  // and it is promoted again (a replica could take over if that fails).
  const bool serving = d.master_usable && d.master_serving;
  v1::StoreState s = DeriveStoreState(serving, d.usable, static_cast<int>(st->required_copies()),
                                      choice.target.has_value() || d.master_usable);
  std::string note;
  if (!d.master_usable) {
    note = !d.has_master       ? "no master"
           : !d.master_serving ? "master unusable"
                               : "master unusable, still serving on its lease";
    if (!choice.target) note += ": " + choice.refused;
  } else if (!serving) {
    note = "master not serving: it holds no lease (being promoted)";
  } else if (s == v1::STORE_DEGRADED) {
    note = absl::StrCat(d.usable, " of ", st->required_copies(), " copies usable");
  }
  if (s == st->state() && note == st->note()) return;
  if (s != st->state()) {
    out.events.push_back(
        MakeEvent(event_kind::kStoreState,
                  s == v1::STORE_HEALTHY    ? v1::INFO
                  : s == v1::STORE_DEGRADED ? v1::WARNING
                                            : v1::CRITICAL,
                  absl::StrCat("store ", name, ": ", model::Name(st->state()), " -> ",
                               model::Name(s), note.empty() ? "" : " (" + note + ")"),
                  "", "", name));
  }
  st->set_state(s);
  st->set_note(note);
  out.stores.insert(name);
}

}  // namespace

HealthChanges DeriveHealth(ClusterModel& model, const LeaseTable& leases,
                           const std::map<std::string, int64_t>& last_heard_ms, CoordinatorNow now,
                           const CoordinatorConfig& config) {
  const int64_t now_ms = now.wall_ms;
  HealthChanges out;
  std::map<std::string, SlotHealth> health;  // by "HOST/SLOT"
  for (auto& [name, rec] : model.hosts) {
    DeriveHostComponents(name, *rec.mutable_info(), leases, now, config, out, health);
  }
  std::vector<CopiesSummary> summaries;
  bool any_without_master = false;
  for (auto& [name, rec] : model.stores) {
    summaries.push_back(DeriveCopies(name, rec, model, health, now_ms, out));
    any_without_master = any_without_master || !summaries.back().master_usable;
  }
  // One snapshot for every store without a usable master.
  std::optional<ClusterView> view;
  if (any_without_master) {
    absl::StatusOr<ClusterView> built = BuildView(model, last_heard_ms);
    if (built.ok()) {
      view = std::move(*built);
    } else {
      out.view_status = built.status();
    }
  }
  for (const CopiesSummary& d : summaries) {
    UpdateStoreState(d, view ? &*view : nullptr, config, out);
  }
  return out;
}

}  // namespace slotkeeper::slotmgr
