// Putting files in place on a replica: the last step of every change a sync
// makes, and the only code that renames into a user's tree.
//
// A fetched file is written to a temporary name (kTempPrefix) in its target
// directory, made durable, read back and checked against the source's hash
// (SyncOptions::verify_written), given the source's mtime, mode and (per
// SyncOptions::owner) owner, and only then renamed to its name. A file in
// the way is never lost: its content is kept in the quarantine before the
// new one replaces it (PlaceFile).
// Staged files (SyncOptions::stage_small_fetches) stop before durability;
// the caller makes many users' staged files durable with one syncfs and
// then calls InstallStaged.
//
// Thread-safety: the functions are safe to call from the fetch threads of
// one user at once (they touch distinct files); DirCache is thread-safe.
#ifndef SLOTKEEPER_REPLICATOR_SYNC_INSTALL_H_
#define SLOTKEEPER_REPLICATOR_SYNC_INSTALL_H_

#include <cstddef>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "replicator/sync/replica_context.h"

namespace slotkeeper::sync {

// Directory descriptors below one user directory, opened (and created) on
// demand and kept for the rest of the user's sync. Does not own the user
// directory's descriptor. Thread-safe; a descriptor it returns stays valid
// as long as the cache.
class DirCache {
 public:
  explicit DirCache(int user_dir) : user_dir_(user_dir) {}
  // The directory `dir` (relative to the user directory; "" for itself),
  // created when missing.
  absl::StatusOr<int> Get(absl::string_view dir);
  // The user directory and every directory opened so far.
  size_t size() const;
  // Makes all of them durable (fsync each); the first error.
  absl::Status SyncAll(TargetFs* fs);

 private:
  const int user_dir_;
  mutable absl::Mutex mu_;
  std::map<std::string, Fd> dirs_ ABSL_GUARDED_BY(mu_);
};

// A fresh temporary name (kTempPrefix, process id, counter).
std::string NewTempName();

// The hash-cache entry for a file the sync just put at `path` (`name` in
// `dirfd`), so that the next scan does not read it again; nullopt without a
// cache or when the file cannot be stat'ed.
std::optional<HashCache::StoredHash> HashOfPlacedFile(const UserSyncContext& ctx,
                                                      const std::string& user, int dirfd,
                                                      const std::string& name,
                                                      const std::string& path,
                                                      const std::string& hash);

// Renames `from` (in `from_dir`) to `name` in `to_dir`, the place of the
// user's `want_path`. A file already there (an older version the plan
// replaces, or one that appeared since) keeps its content in the
// quarantine (reason "overwritten") through a second name, and the new
// file then replaces it in one rename: the path never lacks a version, and
// when keeping the old one fails (a full disk) nothing is replaced.
absl::Status PlaceFile(const UserSyncContext& ctx, const std::string& user, int from_dir,
                       const std::string& from, int to_dir, const std::string& name,
                       const std::string& want_path);

// Installs the temporary file `temp` (in `dirfd`, open as `file_fd`) as
// `want`, once it is durable: read back and checked (verify_written), then
// metadata, rename and hash cache. A file that fails is removed, never
// installed (DATA_LOSS when its content is wrong).
absl::Status VerifyAndInstall(const UserSyncContext& ctx, const std::string& user, int dirfd,
                              int file_fd, const std::string& temp, const ManifestEntry& want);

// A staged file for `want`: `temp` in `dirfd` (the descriptor is
// duplicated), open as `*file`, which it takes over; on error (the
// descriptor could not be duplicated) `*file` is left alone.
absl::StatusOr<StagedFile> StageFile(int dirfd, const std::string& temp, const ManifestEntry& want,
                                     Fd* file);

// Installs staged files once the caller has made them durable (syncfs): each
// goes through VerifyAndInstall. Returns the first error, the user named.
// Empties `files`.
absl::Status InstallStaged(const UserSyncContext& ctx, const std::string& user,
                           std::vector<StagedFile>* files);

// Removes staged files' temporaries (their user's sync failed). Empties
// `files`.
void DiscardStaged(TargetFs* fs, std::vector<StagedFile>* files);

}  // namespace slotkeeper::sync

#endif  // SLOTKEEPER_REPLICATOR_SYNC_INSTALL_H_
