// The replica's checks of what a source answers: a manifest entry and a
// ListUsers listing, against PeerLimits. PeerClient applies them to every
// answer before anything of it is used.
#ifndef SLOTKEEPER_REPLICATOR_SYNC_SOURCE_ANSWERS_H_
#define SLOTKEEPER_REPLICATOR_SYNC_SOURCE_ANSWERS_H_

#include <string>

#include "absl/status/status.h"
#include "proto/peer.pb.h"
#include "replicator/sync/peer_client.h"

namespace slotkeeper::sync {

// Checks one entry of a source's manifest (its path, a hash of the right
// size for a file, none for a directory) and masks its mode to permission
// bits: whatever the source sends, no setuid, setgid or sticky bit reaches
// the replica, where the agent runs as root. The error says what is wrong.
absl::Status CheckSourceEntry(ManifestEntry* e);

// The refusal of a manifest with more entries than the replica takes.
absl::Status TooManyEntries(const std::string& user, const PeerLimits& limits);

// A ListUsers answer the replica can work with: at most max_users users,
// each named by a valid user name and listed once, bounded strings. The
// error names the field and the limit.
absl::Status CheckListing(const v1::ListUsersResponse& listed, const PeerLimits& limits);

}  // namespace slotkeeper::sync

#endif  // SLOTKEEPER_REPLICATOR_SYNC_SOURCE_ANSWERS_H_
