// The operator's data-safety commands on this host's slots, and the
// data-safety half of each slot's status: the mass-deletion guard's blocked
// users (UnblockUser), the quarantine (PurgeQuarantine, its totals), mail
// put back into a master (RestoreQuarantined, Reconcile: restore.h), the
// scrub's figures and the slot's identity.
//
// Thread-safety: every method may be called from any thread. Restore and
// Reconcile wait for their source (bounded by the peer time limits); the
// others are local database and disk work.
#ifndef SLOTKEEPER_REPLICATOR_SYNC_SAFETY_COMMANDS_H_
#define SLOTKEEPER_REPLICATOR_SYNC_SAFETY_COMMANDS_H_

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "base/clock.h"
#include "replicator/sync/deletion_log.h"
#include "replicator/sync/guard_state.h"
#include "replicator/sync/peer_client.h"
#include "replicator/sync/quarantine_index.h"
#include "replicator/sync/restore.h"
#include "replicator/sync/scrub_runner.h"
#include "replicator/sync/slot_records.h"
#include "replicator/sync/slot_roots.h"

namespace slotkeeper::sync {

struct ReplicaState;  // engine.h

// What the commands work with. Nothing is owned; all must outlive them.
struct SafetyDeps {
  SlotRoots* slots = nullptr;
  SlotRecords* records = nullptr;
  QuarantineIndex* quarantine = nullptr;
  GuardStore* guards = nullptr;
  DeletionLog* deletion_log = nullptr;
  ScrubRunner* scrub = nullptr;
  Clock* clock = nullptr;
  TargetFs* fs = nullptr;
  PeerTimeouts peer;
  std::function<std::shared_ptr<grpc::Channel>(const std::string& address)> channel_to;
  // Brings a slot's deletion log up to date (before a reconcile reads it).
  std::function<void(const std::string& slot)> refresh_log;
};

class SafetyCommands {
 public:
  explicit SafetyCommands(SafetyDeps deps) : deps_(std::move(deps)) {}

  // Lets the next sync of a user the guard blocked apply (once). OK for a
  // user that is not blocked (nothing to do).
  absl::Status UnblockUser(const std::string& slot, const std::string& user);
  // Removes quarantined files of `slot` for good: those quarantined before
  // `older_than_ms` (engine wall clock; 0: none by age) and those in `ids`.
  absl::Status PurgeQuarantine(const std::string& slot, int64_t older_than_ms,
                               const std::vector<std::string>& ids);
  // Puts quarantine item `item_id` of `source_address`/`source_slot` back
  // into the local master slot `target_slot` (restore.h).
  absl::Status RestoreQuarantined(const std::string& target_slot, const std::string& source_address,
                                  const std::string& source_slot, const std::string& item_id);
  // Places the messages stranded on the old master `source_address`/
  // `source_slot` into the local master slot `target_slot` (restore.h).
  absl::StatusOr<ReconcileReport> Reconcile(const std::string& store,
                                            const std::string& target_slot,
                                            const std::string& source_address,
                                            const std::string& source_slot);
  // Fills the data-safety fields of a slot's state: blocked users (joined
  // to those of the newest cycle), scrub, quarantine, stranded messages,
  // identity.
  void AddStatus(ReplicaState* state);

 private:
  // A client of `address`/`slot` with its stub.
  struct Source {
    std::unique_ptr<v1::ReplicaPeer::Stub> stub;
    std::unique_ptr<PeerClient> client;
  };
  absl::StatusOr<Source> Connect(const std::string& address, const std::string& slot);
  // The local master slot mail is placed into: it must serve as master.
  absl::StatusOr<PlacementTarget> MasterTarget(const std::string& slot, int root);

  const SafetyDeps deps_;
};

}  // namespace slotkeeper::sync

#endif  // SLOTKEEPER_REPLICATOR_SYNC_SAFETY_COMMANDS_H_
