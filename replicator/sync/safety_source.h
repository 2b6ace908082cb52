// The source side of the data-safety calls of ReplicaPeer: a slot's
// quarantine (listing and content, for restores), its deletion log (served
// by a master slot) and the messages stranded on it from when it was
// master (for reconciliation). Read-only on the slot: the calls only read
// the data path's records and the quarantine's files, so they work on a
// filesystem that turned read-only.
//
// Thread-safe: any number of concurrent calls.
#ifndef SLOTKEEPER_REPLICATOR_SYNC_SAFETY_SOURCE_H_
#define SLOTKEEPER_REPLICATOR_SYNC_SAFETY_SOURCE_H_

#include <functional>
#include <string>
#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "proto/peer.pb.h"
#include "replicator/sync/deletion_log.h"
#include "replicator/sync/quarantine_index.h"

namespace slotkeeper::sync {

class PeerCore;

class SafetySource {
 public:
  // `core` gives the slots (PeerCore::SlotRoot); `refresh_log` (may be
  // empty) brings a slot's deletion log up to date before it is served.
  // Nothing is owned; all must outlive the object.
  SafetySource(const PeerCore* core, QuarantineIndex* index, DeletionLog* log,
               std::function<void(const std::string& slot)> refresh_log = nullptr)
      : core_(core), index_(index), log_(log), refresh_log_(std::move(refresh_log)) {}

  absl::StatusOr<v1::ListQuarantineResponse> ListQuarantine(
      const v1::ListQuarantineRequest& request);
  // The item's content as FileChunks of file index 0; the last carries its
  // size, mtime, mode and hash (checked against the listed hash when there
  // is one: a quarantined file whose content changed is refused with an
  // error chunk). NOT_FOUND for an id the slot does not list.
  absl::Status FetchQuarantined(const v1::FetchQuarantinedRequest& request,
                                const std::function<bool(const v1::FileChunk&)>& write);
  // FAILED_PRECONDITION when the slot keeps no deletion log (it is not
  // master).
  absl::StatusOr<v1::ListDeletedResponse> ListDeleted(const v1::ListDeletedRequest& request);
  absl::StatusOr<v1::ListStrandedResponse> ListStranded(const v1::ListStrandedRequest& request);

 private:
  const PeerCore* const core_;
  QuarantineIndex* const index_;
  DeletionLog* const log_;
  const std::function<void(const std::string&)> refresh_log_;
};

}  // namespace slotkeeper::sync

#endif  // SLOTKEEPER_REPLICATOR_SYNC_SAFETY_SOURCE_H_
