// Verification: compare a master's copy (over ReplicaPeer, PeerClient) with
// a local replica by content hash, for one user or a whole store (a task's
// last step, ksck --verify-data). Read-only on both sides; the local scan
// may fill the hash cache. Thread-safe (a free function over thread-safe
// parts).
#ifndef SLOTKEEPER_REPLICATOR_SYNC_VERIFY_H_
#define SLOTKEEPER_REPLICATOR_SYNC_VERIFY_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "replicator/sync/diff.h"
#include "replicator/sync/manifest.h"
#include "replicator/sync/peer_client.h"

namespace slotkeeper::sync {

struct VerifyReport {
  uint64_t users_checked = 0;
  uint64_t files_checked = 0;
  std::vector<Difference> differences;  // paths are "user/path"
  bool consistent() const { return differences.empty(); }
};

// Compares every user the source lists (or only `only_user`) with the local
// slot `local_root` (hash cache scope `local_scope`, cache may be null).
// Users present only locally are reported as extra.
absl::StatusOr<VerifyReport> VerifyAgainstSource(const PeerClient& source,
                                                 const std::string& only_user, int local_root,
                                                 const std::string& local_scope, HashCache* cache);

}  // namespace slotkeeper::sync

#endif  // SLOTKEEPER_REPLICATOR_SYNC_VERIFY_H_
