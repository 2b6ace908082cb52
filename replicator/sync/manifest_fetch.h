// Fetching manifests from a ReplicaPeer: a user's full manifest
// (GetManifest), its delta manifest (GetManifest with delta = true), or the
// delta manifests of several users of a slot in one call (GetManifests), with
// every check a replica makes before it trusts an answer.
//
// A delta answer lists the paths changed since a generation: the files that
// exist now (with hashes), the paths gone, and the content of small new
// files inline. An answer is used only if it is complete, marked as a delta,
// names no path twice, holds only valid relative paths of regular files
// with hashes, and sends no more inline content than was asked for;
// anything else means "no delta" (std::nullopt) and the caller takes the
// full manifest instead.
//
// Thread-safe: free functions over a thread-safe stub.
#ifndef SLOTKEEPER_REPLICATOR_SYNC_MANIFEST_FETCH_H_
#define SLOTKEEPER_REPLICATOR_SYNC_MANIFEST_FETCH_H_

#include <atomic>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "proto/peer.grpc.pb.h"
#include "replicator/sync/manifest.h"

namespace slotkeeper::sync {

// The source state a replica's user is known to hold: its checkpoint.
struct DeltaBase {
  std::string instance_id;
  uint64_t generation = 0;
};

// A delta answer: the changed files that exist at the source, and the
// changed paths that no longer do.
struct SourceDelta {
  Manifest entries;  // sorted by path
  std::vector<std::string> removed;
  uint64_t generation = 0;
  // Whole files sent with the answer, path -> content; used only for
  // planned fetches whose entry they match (the replica checks).
  std::map<std::string, std::string> inline_data;
};

// Reads a user's manifest from a peer (all chunks). `generation` and
// `user_mode` (the user directory's permission bits, 0 if the source did not
// say) may be null.
absl::StatusOr<Manifest> FetchManifest(v1::ReplicaPeer::StubInterface* stub,
                                       const std::string& slot, const std::string& user,
                                       uint64_t* generation, uint32_t* user_mode = nullptr);

struct DeltaRequest {
  std::string slot;
  uint32_t inline_max_file_bytes = 0;
  uint32_t inline_max_total_bytes = 0;
};

// One user. std::nullopt when the source cannot give a delta
// (FAILED_PRECONDITION, or an answer that is not a delta or is doubtful);
// CANCELLED when `cancelled` is set or the call was cancelled.
absl::StatusOr<std::optional<SourceDelta>> FetchDelta(v1::ReplicaPeer::StubInterface* stub,
                                                      const DeltaRequest& request,
                                                      const std::string& user,
                                                      const DeltaBase& since,
                                                      const std::atomic<bool>* cancelled);

// Several users in one GetManifests call: every user asked for is in the
// result, std::nullopt where the source refused or the answer is doubtful.
// UNIMPLEMENTED from a source that predates GetManifests; any error means no
// answer at all (the caller asks user by user).
absl::StatusOr<std::map<std::string, std::optional<SourceDelta>>> FetchDeltas(
    v1::ReplicaPeer::StubInterface* stub, const DeltaRequest& request,
    const std::vector<std::pair<std::string, DeltaBase>>& users);

}  // namespace slotkeeper::sync

#endif  // SLOTKEEPER_REPLICATOR_SYNC_MANIFEST_FETCH_H_
