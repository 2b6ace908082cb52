#include "slotmgr/copy_status.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "proto/event_kinds.h"
#include "proto/model_util.h"
#include "slotmgr/journal.h"

namespace slotkeeper::slotmgr {

int64_t AgentClock::ToCoordinator(int64_t agent_ms) const {
  if (agent_ms == 0) return 0;
  return std::min(agent_ms - offset_ms, now_ms);
}

std::vector<v1::Event> ApplyReplicationStatus(const std::string& store, bool is_master,
                                              const v1::ReplicationStatus& r,
                                              const AgentClock& clock, v1::Copy& c) {
  std::vector<v1::Event> events;
  const std::string where = model::SlotName(c.slot());
  const std::string& host = c.slot().host();
  const std::string& slot = c.slot().slot();
  c.set_lag_ms(is_master ? 0 : r.lag_ms());
  c.set_in_sync(is_master || r.in_sync());
  c.set_last_synced_agent_ms(r.last_synced_ms());
  c.set_last_synced_ms(clock.ToCoordinator(r.last_synced_ms()));
  c.set_out_of_sync_reason(is_master || r.in_sync() ? "" : r.last_error());
  c.mutable_blocked_users()->Assign(r.blocked_users().begin(), r.blocked_users().end());
  c.set_quarantine_items(r.quarantine_items());
  c.set_quarantine_bytes(r.quarantine_bytes());

  const v1::ScrubStatus& scrub = r.scrub();
  c.set_scrub_last_full_pass_agent_ms(scrub.last_full_pass_ms());
  c.set_scrub_last_full_pass_ms(clock.ToCoordinator(scrub.last_full_pass_ms()));
  c.set_scrub_pass_fraction(scrub.bytes_total() == 0
                                ? 0.0
                                : static_cast<double>(scrub.bytes_verified()) /
                                      static_cast<double>(scrub.bytes_total()));
  if (scrub.corrupt_found() > c.scrub_corrupt_found()) {
    const uint64_t found = scrub.corrupt_found() - c.scrub_corrupt_found();
    events.push_back(MakeEvent(
        event_kind::kSlotCorruptFiles, is_master ? v1::CRITICAL : v1::WARNING,
        absl::StrCat("scrub of ", where, " (", is_master ? "master" : "replica", " of ", store,
                     ") found ", found, " corrupt file(s)",
                     scrub.recent_corrupt().empty()
                         ? ""
                         : absl::StrCat(": ", absl::StrJoin(scrub.recent_corrupt(), ", ")),
                     is_master ? "; the master is not repaired automatically"
                               : "; they were set aside and fetched again from the master"),
        host, slot, store));
  }
  c.set_scrub_corrupt_found(scrub.corrupt_found());

  if (r.identity_changed() && !c.identity_changed()) {
    events.push_back(
        MakeEvent(event_kind::kSlotIdentityChanged, v1::CRITICAL,
                  absl::StrCat(where,
                               " is not the slot its agent knew (emptied, replaced or another "
                               "filesystem mounted there): its copy of ",
                               store, " is unknown until a full verification passes"),
                  host, slot, store));
  }
  c.set_identity_changed(r.identity_changed());

  if (r.stranded_messages() > 0 && c.stranded_messages() == 0) {
    events.push_back(MakeEvent(
        event_kind::kStoreStrandedMail, v1::CRITICAL,
        absl::StrCat(r.stranded_messages(), " message(s) of ", store, " are stranded on ", where,
                     ", its master before the failover; they are kept there; run `slotctl store "
                     "reconcile ",
                     store, "` to copy them to the current master"),
        host, slot, store));
  } else if (r.stranded_messages() == 0 && c.stranded_messages() > 0) {
    events.push_back(
        MakeEvent(event_kind::kStoreStrandedCleared, v1::INFO,
                  absl::StrCat("no mail of ", store, " is stranded on ", where, " any more"), host,
                  slot, store));
  }
  c.set_stranded_messages(r.stranded_messages());
  return events;
}

}  // namespace slotkeeper::slotmgr
