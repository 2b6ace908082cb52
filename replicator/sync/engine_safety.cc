// SyncEngine's part in data safety: role changes (the deletion log, the
// stranded-mail check), the scrub's view of the slots, and a maintenance
// round on demand (engine.h).
#include "absl/strings/str_cat.h"
#include "base/log.h"
#include "replicator/sync/engine.h"
#include "replicator/sync/slot_layout.h"

namespace slotkeeper::sync {

void SyncEngine::OnRoleChanged(const std::string& slot, v1::SlotRole role) {
  if (role == v1::SLOT_MASTER) {
    StopPulling(slot);
    const int64_t now = clock_->NowMs();
    const bool was_master = records_.Get(slot).master();
    absl::Status s = records_.Update(slot, [now, was_master](SlotRecord* r) {
      r->set_master(true);
      if (!was_master) r->set_master_since_ms(now);
      r->set_stranded_check_pending(false);
    });
    if (!was_master) {
      // Deletions count from now; the message index the maintenance round
      // kept while this was a replica is the baseline.
      s.Update(deletion_log_.Start(slot, now));
      // Its content will differ from every source generation it copied.
      s.Update(checkpoints_.Clear(slot));
      LogInfo("sync", absl::StrCat("slot ", slot, " is master: deletion log started"));
    }
    if (!s.ok()) LogError("sync", absl::StrCat("slot ", slot, ": ", s.message()));
    maintenance_->Wake();
    return;
  }
  if (role != v1::SLOT_REPLICA || !records_.Get(slot).master()) return;
  absl::Status s = records_.Update(slot, [](SlotRecord* r) {
    r->set_master(false);
    r->set_stranded_check_pending(true);
  });
  if (!s.ok()) LogError("sync", absl::StrCat("slot ", slot, ": ", s.message()));
  LogInfo("sync", absl::StrCat("slot ", slot,
                               " is no longer master: its first catch-up looks for stranded mail"));
}

std::vector<ScrubTarget> SyncEngine::ScrubTargets() {
  std::map<std::string, ReplicaAssignment> assigned;
  for (const LoopStatus& loop : loops_->Status()) assigned[loop.replica.slot] = loop.replica;
  std::vector<ScrubTarget> out;
  for (const std::string& slot : slots_.names()) {
    ScrubTarget t;
    t.slot = slot;
    auto replica = assigned.find(slot);
    if (replica != assigned.end()) {
      t.replica = true;
      t.master_address = replica->second.master_address;
      t.master_slot = replica->second.master_slot;
    } else if (!records_.Get(slot).master()) {
      continue;  // a spare slot holds no copy to check
    }
    absl::StatusOr<std::shared_ptr<const Fd>> root = slots_.Root(slot);
    if (!root.ok()) continue;
    t.root = *std::move(root);
    out.push_back(std::move(t));
  }
  return out;
}

void SyncEngine::RunMaintenance(bool scrub) {
  maintenance_->RunOnce(/*purge=*/true);
  if (!scrub) return;
  for (const ScrubTarget& t : ScrubTargets()) {
    if (absl::Status s = scrub_->RunPass(t); !s.ok()) {
      LogWarning("sync", absl::StrCat("scrub of slot ", t.slot, ": ", s.message()));
    }
  }
}

}  // namespace slotkeeper::sync
