// Manifests: the list of a user's files with content hashes, and the
// content hash itself (xxHash3-128).
//
// ScanUser walks users/<user>/ below a slot root (dir_walker.h: openat and
// O_NOFOLLOW; symlinks are skipped and logged, never followed) and fills one
// ManifestEntry per regular file and per directory (directory = true),
// sorted by path. Skipped: temporary files of the data path (kTempPrefix)
// and the contents of Maildir tmp/ directories (maildir.h), which hold
// deliveries still being written. Files the source must not serve
// (source_files.h: not a regular file, another filesystem, a hard link to a
// file the user's directory owner does not own) are skipped and logged,
// never opened blocking. LookupUserPath answers the same for one
// path, for delta manifests. Hashing is the expensive part: both go through
// a HashCache (hash_cache.h), so an unchanged file is never hashed twice.
//
// Thread-safety: free functions; scans of distinct users may run at once
// (with a thread-safe cache). ContentHasher is one hash in progress, for
// one thread.
#ifndef SLOTKEEPER_REPLICATOR_SYNC_MANIFEST_H_
#define SLOTKEEPER_REPLICATOR_SYNC_MANIFEST_H_

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "proto/peer.pb.h"
#include "replicator/sync/hash_cache.h"
#include "replicator/sync/paths.h"
#include "replicator/sync/source_files.h"

namespace slotkeeper::sync {

using v1::ManifestEntry;
using Manifest = std::vector<ManifestEntry>;

// Counters of a scan; atomics so that scans on several threads can share one.
struct ScanStats {
  std::atomic<uint64_t> files{0};
  std::atomic<uint64_t> files_hashed{0};
  std::atomic<uint64_t> bytes_hashed{0};
};

// Streaming xxHash3-128 of a file's content.
class ContentHasher {
 public:
  ContentHasher();
  ~ContentHasher();
  ContentHasher(const ContentHasher&) = delete;
  ContentHasher& operator=(const ContentHasher&) = delete;
  void Update(const void* data, size_t n);
  // 16 bytes, big-endian (XXH128 canonical form).
  std::string Finish();

 private:
  void* state_;
};

// Hashes the whole content of the open file `fd` from offset 0.
absl::StatusOr<std::string> HashFd(int fd);

// A file's content as the disk holds it: `name` in `dirfd` read with
// O_DIRECT (not from the page cache, and without filling it, so a scrub
// neither trusts a cached copy nor evicts a mail server's working set;
// buffered with the pages dropped after reading where the filesystem has
// no O_DIRECT). `pace` (may be empty) is called with the size of each read
// before it is made (a rate limit). Symlinks are not followed.
struct DiskRead {
  std::string hash;
  uint64_t bytes = 0;
};
absl::StatusOr<DiskRead> HashFromDisk(int dirfd, const std::string& name,
                                      const std::function<void(uint64_t)>& pace = nullptr);

// Manifest modes are permission bits only: setuid, setgid and sticky bits
// are never listed nor applied.
inline constexpr uint32_t kPermissionBits = 0777;

// Scans users/<user> below `slot_root`. `cache_scope` (for example the slot
// name) prefixes cache keys; `cache` may be null (hash everything). A missing
// user directory yields an empty manifest. Each entry carries the file's
// (or directory's) numeric owner and group. With `from_disk` (and no
// cache), every file is read with HashFromDisk (ListUsers deep digests).
// Paths of leftover temporary files (kTempPrefix) go to `temp_files` when it
// is not null. `cancelled` (may be empty), looked at every few hundred
// entries, ends the scan with CANCELLED: hashing a large uncached user takes
// long, and nobody may be waiting for it any more.
absl::StatusOr<Manifest> ScanUser(int slot_root, absl::string_view cache_scope,
                                  absl::string_view user, HashCache* cache, ScanStats* stats,
                                  std::vector<std::string>* temp_files = nullptr,
                                  const std::function<bool()>& cancelled = nullptr,
                                  bool from_disk = false);

// The Maildir unique names (maildir.h MaildirUniqueKey) of the messages in
// users/<user>: a walk that reads directories only (no file is opened).
// Empty when the user has no directory.
absl::StatusOr<std::set<std::string>> ScanMessageKeys(int slot_root, absl::string_view user);

// One path of a user as ScanUser would see it (delta manifests look at a few
// paths instead of walking the tree).
struct PathLookup {
  enum Kind {
    kAbsent,   // no such file (or a parent directory is missing)
    kFile,     // a regular file, described in `entry` (hash through the cache)
    kSkipped,  // ScanUser never lists it (inside a Maildir tmp/ directory)
    kOther,    // a directory, symlink or special file, a symlink on the way, or a
               // file not served (source_files.h)
  };
  Kind kind = kAbsent;
  ManifestEntry entry;
  // kFile: the content is new here: read and hashed now, or known to the
  // cache from reading this file earlier - not learned from a rename of
  // content already known under another name (HashCache::KnownByRename).
  bool new_content = false;
};
// Looks up `rel` (validated) below the user directory fd `user_dir`.
// `cache_scope`, `user` and `cache` as for ScanUser. `dirs` (may be null)
// keeps the directories opened so far, relative path -> fd, for the next
// lookups below the same `user_dir` (a delta names many files per folder).
// `scope` (may be null: that of `user_dir` alone) judges which files are
// served.
absl::StatusOr<PathLookup> LookupUserPath(int user_dir, absl::string_view cache_scope,
                                          absl::string_view user, const std::string& rel,
                                          HashCache* cache,
                                          std::map<std::string, Fd>* dirs = nullptr,
                                          const ServeScope* scope = nullptr);

// Digest of a sorted manifest: xxHash3-128 over every entry's path, size,
// mtime, mode and hash. Equal digests mean equal trees.
std::string ManifestDigest(const Manifest& manifest);

}  // namespace slotkeeper::sync

#endif  // SLOTKEEPER_REPLICATOR_SYNC_MANIFEST_H_
