#include "replicator/sync/safety_commands.h"

#include <algorithm>
#include <set>
#include <utility>

#include "absl/strings/str_cat.h"
#include "base/grpc_util.h"
#include "base/log.h"
#include "base/status_macros.h"
#include "replicator/sync/engine.h"
#include "replicator/sync/quarantine_purge.h"

namespace slotkeeper::sync {

absl::Status SafetyCommands::UnblockUser(const std::string& slot, const std::string& user) {
  SK_RETURN_IF_ERROR(ValidateUserName(user));
  SK_RETURN_IF_ERROR(deps_.slots->Root(slot).status());
  if (deps_.guards->Get(slot, user).blocked()) {
    LogInfo("sync", absl::StrCat("slot ", slot, ", user ", user,
                                 ": unblocked; its next sync applies what the master says"));
  }
  return deps_.guards->Unblock(slot, user);
}

absl::Status SafetyCommands::PurgeQuarantine(const std::string& slot, int64_t older_than_ms,
                                             const std::vector<std::string>& ids) {
  SK_ASSIGN_OR_RETURN(std::shared_ptr<const Fd> root, deps_.slots->Root(slot));
  const SlotQuarantine quarantine(root->get(), slot, deps_.clock, deps_.fs, deps_.quarantine);
  SK_ASSIGN_OR_RETURN(PurgeReport report, PurgeItems(quarantine, older_than_ms, ids));
  LogInfo("sync",
          absl::StrCat("slot ", slot, ": quarantine purge by command: ", report.items_removed,
                       " item(s), ", report.bytes_removed, " bytes removed"));
  return absl::OkStatus();
}

absl::StatusOr<SafetyCommands::Source> SafetyCommands::Connect(const std::string& address,
                                                               const std::string& slot) {
  SK_RETURN_IF_ERROR(ValidateHostPort(address));
  if (slot.empty()) return absl::InvalidArgumentError("source slot is empty");
  Source s;
  s.stub = v1::ReplicaPeer::NewStub(deps_.channel_to(address));
  s.client = std::make_unique<PeerClient>(s.stub.get(), slot, address, deps_.peer);
  return s;
}

absl::StatusOr<PlacementTarget> SafetyCommands::MasterTarget(const std::string& slot, int root) {
  if (!deps_.records->Get(slot).master()) {
    return absl::FailedPreconditionError(
        absl::StrCat("slot ", slot, " is not a master here: mail is put back into the master"));
  }
  PlacementTarget target;
  target.slot_root = root;
  target.slot = slot;
  target.fs = deps_.fs;
  target.deletion_log = deps_.deletion_log;
  return target;
}

absl::Status SafetyCommands::RestoreQuarantined(const std::string& target_slot,
                                                const std::string& source_address,
                                                const std::string& source_slot,
                                                const std::string& item_id) {
  if (item_id.empty()) return absl::InvalidArgumentError("no quarantine item named");
  SK_ASSIGN_OR_RETURN(std::shared_ptr<const Fd> root, deps_.slots->Root(target_slot));
  SK_ASSIGN_OR_RETURN(PlacementTarget target, MasterTarget(target_slot, root->get()));
  SK_ASSIGN_OR_RETURN(Source source, Connect(source_address, source_slot));
  return RestoreQuarantinedItem(target, *source.client, item_id).status();
}

absl::StatusOr<ReconcileReport> SafetyCommands::Reconcile(const std::string& store,
                                                          const std::string& target_slot,
                                                          const std::string& source_address,
                                                          const std::string& source_slot) {
  SK_ASSIGN_OR_RETURN(std::shared_ptr<const Fd> root, deps_.slots->Root(target_slot));
  SK_ASSIGN_OR_RETURN(PlacementTarget target, MasterTarget(target_slot, root->get()));
  SK_ASSIGN_OR_RETURN(Source source, Connect(source_address, source_slot));
  if (deps_.refresh_log) deps_.refresh_log(target_slot);  // a deletion just made counts
  return ReconcileStranded(target, *source.client, store);
}

void SafetyCommands::AddStatus(ReplicaState* state) {
  const SlotRecord record = deps_.records->Get(state->slot);
  std::set<std::string> blocked(state->blocked_users.begin(), state->blocked_users.end());
  for (const auto& [user, why] : deps_.guards->Blocked(state->slot)) blocked.insert(user);
  state->blocked_users.assign(blocked.begin(), blocked.end());
  state->scrub = deps_.scrub->Status(state->slot);
  const QuarantineTotals totals = deps_.quarantine->Totals(state->slot);
  state->quarantine_items = totals.items;
  state->quarantine_bytes = totals.bytes;
  state->stranded_messages = totals.stranded;
  state->identity_changed = record.verify_pending();
}

}  // namespace slotkeeper::sync
