#include "replicator/sync/source_answers.h"

#include <set>
#include <utility>

#include "absl/strings/str_cat.h"
#include "replicator/sync/paths.h"

namespace slotkeeper::sync {

// Checks one entry of a source's manifest (its path, a hash of the right
// size for a file, none for a directory) and masks its mode to permission
// bits: whatever the source sends, no setuid, setgid or sticky bit reaches
// the replica, where the agent runs as root. The error says what is wrong.
absl::Status CheckSourceEntry(ManifestEntry* e) {
  if (absl::Status s = ValidateRelativePath(e->path()); !s.ok()) return s;
  if (e->directory()) {
    if (!e->hash().empty() || e->size() != 0) {
      return absl::InvalidArgumentError(
          absl::StrCat("directory entry ", e->path(), " has a size or a hash"));
    }
  } else if (e->hash().size() != kHashBytes) {
    return absl::InvalidArgumentError(absl::StrCat("manifest entry ", e->path(), " has no hash"));
  }
  e->set_mode(e->mode() & kPermissionBits);
  return absl::OkStatus();
}

// The refusal of a manifest with more entries than the replica takes.
absl::Status TooManyEntries(const std::string& user, const PeerLimits& limits) {
  return absl::InvalidArgumentError(absl::StrCat(
      "source manifest of user ", user, " refused: more than ", limits.max_manifest_entries,
      " manifest entries (the limit, PeerLimits.max_manifest_entries)"));
}

// A ListUsers answer the replica can work with: at most max_users users,
// each named by a valid user name and listed once, bounded strings. The
// error names the field and the limit.
absl::Status CheckListing(const v1::ListUsersResponse& listed, const PeerLimits& limits) {
  if (static_cast<size_t>(listed.users_size()) > limits.max_users) {
    return absl::InvalidArgumentError(
        absl::StrCat("more than ", limits.max_users, " users (the limit, PeerLimits.max_users)"));
  }
  for (const auto& [field, value] :
       {std::pair<const char*, const std::string*>{"slot", &listed.slot()},
        {"store", &listed.store()},
        {"instance_id", &listed.instance_id()}}) {
    if (value->size() > limits.max_string_bytes) {
      return absl::InvalidArgumentError(absl::StrCat(
          field, " longer than ", limits.max_string_bytes, " bytes (PeerLimits.max_string_bytes)"));
    }
  }
  std::set<std::string> seen;
  for (int i = 0; i < listed.users_size(); ++i) {
    const std::string& user = listed.users(i).user();
    if (absl::Status s = ValidateUserName(user); !s.ok()) {
      return absl::InvalidArgumentError(absl::StrCat("user name #", i, " refused: ", s.message()));
    }
    if (!seen.insert(user).second) {
      return absl::InvalidArgumentError(absl::StrCat("user ", user, " listed twice"));
    }
  }
  return absl::OkStatus();
}

}  // namespace slotkeeper::sync
