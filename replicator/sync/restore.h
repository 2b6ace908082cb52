// Putting mail back into a master slot from a quarantine, local or on
// another host: an operator's restore of one item, and the reconciliation
// of messages stranded on an old master.
//
// Every file is fetched whole (PeerClient::FetchQuarantined) into a
// temporary file beside its place, checked against its listed hash, made
// durable, given its directory's owner and its own mtime and mode, and
// renamed into place without ever replacing a file (RENAME_NOREPLACE). A
// message is not placed when the user's mailbox already holds a message
// with the same Maildir unique name (it would be a duplicate), and, when
// reconciling, when the master's deletion log says the user deleted it
// after the failover. The master's mail server may be running: a placed
// message appears in one rename, as a delivery does.
//
// Thread-safety: free functions; one restore or reconcile per slot at a
// time is the caller's rule (two could race for the same name, and the
// loser would find it present).
#ifndef SLOTKEEPER_REPLICATOR_SYNC_RESTORE_H_
#define SLOTKEEPER_REPLICATOR_SYNC_RESTORE_H_

#include <atomic>
#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "base/clock.h"
#include "replicator/sync/deletion_log.h"
#include "replicator/sync/peer_client.h"
#include "replicator/sync/target_fs.h"

namespace slotkeeper::sync {

// The local master slot mail is placed into. Nothing is owned.
struct PlacementTarget {
  int slot_root = -1;
  std::string slot;
  TargetFs* fs = nullptr;
  DeletionLog* deletion_log = nullptr;           // the slot's; required to reconcile
  const std::atomic<bool>* cancelled = nullptr;  // may be null
};

// Restores quarantine item `item_id` held by `holder`'s slot to its path in
// `target`. FAILED_PRECONDITION (nothing changed) when a file is at that
// path or a message with the same unique name is in the mailbox; NOT_FOUND
// when the holder does not list the item; DATA_LOSS when its content does
// not match its hash. Returns the user's path restored ("user/path").
absl::StatusOr<std::string> RestoreQuarantinedItem(const PlacementTarget& target,
                                                   const PeerClient& holder,
                                                   const std::string& item_id);

struct ReconcileReport {
  uint64_t stranded = 0;  // listed by the old master
  uint64_t placed = 0;
  uint64_t already_present = 0;  // a message with the same unique name is there
  uint64_t deleted = 0;          // the deletion log lists it: not brought back
  uint64_t failed = 0;
  std::string first_error;
  std::string Summary() const;
};

// Places the messages stranded on `old_master`'s slot (its ListStranded)
// into `target`. `store` must be the store the old master's slot held.
// Errors only when nothing could be tried (the old master not reachable,
// another store, no deletion log here); per-message failures are counted.
absl::StatusOr<ReconcileReport> ReconcileStranded(const PlacementTarget& target,
                                                  const PeerClient& old_master,
                                                  const std::string& store);

}  // namespace slotkeeper::sync

#endif  // SLOTKEEPER_REPLICATOR_SYNC_RESTORE_H_
