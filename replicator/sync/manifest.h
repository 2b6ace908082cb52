// Manifests: the list of a user's files with content hashes.
//
// ScanUser walks users/<user>/ below a slot root with openat and O_NOFOLLOW
// (symlinks are skipped and logged, never followed), and fills one
// ManifestEntry per regular file and per directory (directory = true),
// sorted by path. Skipped: temporary files of
// the data path (kTempPrefix) and the contents of Maildir tmp/ directories
// (a "tmp" directory next to a "cur" directory), which hold deliveries still
// being written.
//
// Hashing is the expensive part, so a HashCache remembers (size, mtime,
// inode) -> hash per file: an unchanged file is never hashed twice.
// RocksHashCache keeps it in RocksDB; it is thread-safe, as RocksDB is.
#ifndef SLOTKEEPER_REPLICATOR_SYNC_MANIFEST_H_
#define SLOTKEEPER_REPLICATOR_SYNC_MANIFEST_H_

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "proto/peer.pb.h"
#include "replicator/sync/paths.h"

namespace rocksdb {
class DB;
}

namespace slotkeeper::sync {

using v1::ManifestEntry;
using Manifest = std::vector<ManifestEntry>;

inline constexpr size_t kHashBytes = 16;

// What identifies a file version cheaply.
struct FileStamp {
  uint64_t size = 0;
  int64_t mtime_ns = 0;
  uint64_t inode = 0;
  bool operator==(const FileStamp& o) const {
    return size == o.size && mtime_ns == o.mtime_ns && inode == o.inode;
  }
};

// Remembers content hashes by file stamp. Implementations are thread-safe.
class HashCache {
 public:
  virtual ~HashCache() = default;
  // The hash recorded for `key` if its stamp equals `stamp`.
  virtual std::optional<std::string> Lookup(const std::string& key, const FileStamp& stamp) = 0;
  virtual void Store(const std::string& key, const FileStamp& stamp, const std::string& hash) = 0;
  // Hint: keys starting with `prefix` are about to be looked up (one user's
  // files); an implementation may load them in one pass.
  virtual void Prefetch(const std::string& prefix) {}
  // `key` no longer names a file (it was renamed away): its entry may go.
  virtual void Forget(const std::string& key) {}
  // Whether the entry for `key` at `stamp` was learned from the same content
  // under another name (a rename: same inode, size and mtime) rather than by
  // reading the file. False when not known.
  virtual bool KnownByRename(const std::string& key, const FileStamp& stamp) { return false; }

  struct StoredHash {
    std::string key;
    FileStamp stamp;
    std::string hash;
  };
  // Many Forget and Store calls at once (a sync's renames): one write for a
  // RocksDB cache instead of one per call. Forgets apply first, so a key
  // both forgotten and stored (a path a rename vacated and another filled)
  // keeps its new entry.
  virtual void Update(const std::vector<StoredHash>& store,
                      const std::vector<std::string>& forget) {
    for (const std::string& key : forget) Forget(key);
    for (const StoredHash& s : store) Store(s.key, s.stamp, s.hash);
  }
};

// A HashCache in a RocksDB column of its own key space ("h/" prefix).
// Does not own `db`, which must outlive it.
class RocksHashCache : public HashCache {
 public:
  explicit RocksHashCache(rocksdb::DB* db) : db_(db) {}
  std::optional<std::string> Lookup(const std::string& key, const FileStamp& stamp) override;
  void Store(const std::string& key, const FileStamp& stamp, const std::string& hash) override;
  // Loads the prefix with one iterator; each prefetched entry serves one
  // Lookup (then it is dropped, so memory stays bounded by one user's files).
  void Prefetch(const std::string& prefix) override;
  void Forget(const std::string& key) override;
  void Update(const std::vector<StoredHash>& store,
              const std::vector<std::string>& forget) override;

 private:
  rocksdb::DB* db_;
  absl::Mutex mu_;
  std::unordered_map<std::string, std::string> prefetched_ ABSL_GUARDED_BY(mu_);
};

// An in-memory layer over another HashCache, for long-lived processes (the
// source side answers the same GetManifest again and again). Holds at most
// `max_entries`; beyond that it only passes through. Does not own `backing`
// (may be null). Thread-safe.
class MemoryHashCache : public HashCache {
 public:
  MemoryHashCache(HashCache* backing, size_t max_entries)
      : backing_(backing), max_entries_(max_entries) {}
  std::optional<std::string> Lookup(const std::string& key, const FileStamp& stamp) override;
  void Store(const std::string& key, const FileStamp& stamp, const std::string& hash) override;
  void Prefetch(const std::string& prefix) override {
    if (backing_ != nullptr) backing_->Prefetch(prefix);
  }
  void Forget(const std::string& key) override;
  void Update(const std::vector<StoredHash>& store,
              const std::vector<std::string>& forget) override;
  bool KnownByRename(const std::string& key, const FileStamp& stamp) override;

 private:
  struct Entry {
    FileStamp stamp;
    std::string hash;
    bool by_rename = false;  // learned through by_stamp_, not by reading
  };
  void Remember(const std::string& key, const FileStamp& stamp, const std::string& hash)
      ABSL_LOCKS_EXCLUDED(mu_);
  HashCache* const backing_;
  const size_t max_entries_;
  absl::Mutex mu_;
  std::unordered_map<std::string, Entry> entries_ ABSL_GUARDED_BY(mu_);
  // The same content under another name: a renamed file keeps its inode,
  // size and mtime (a Maildir flag change), so it is not hashed again.
  std::unordered_map<std::string, std::string> by_stamp_ ABSL_GUARDED_BY(mu_);
};

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

// Scans users/<user> below `slot_root`. `cache_scope` (for example the slot
// name) prefixes cache keys; `cache` may be null (hash everything). A missing
// user directory yields an empty manifest.
// Paths of leftover temporary files (kTempPrefix) go to `temp_files` when it
// is not null.
absl::StatusOr<Manifest> ScanUser(int slot_root, absl::string_view cache_scope,
                                  absl::string_view user, HashCache* cache, ScanStats* stats,
                                  std::vector<std::string>* temp_files = nullptr);

// One path of a user as ScanUser would see it (delta manifests look at a few
// paths instead of walking the tree).
struct PathLookup {
  enum Kind {
    kAbsent,   // no such file (or a parent directory is missing)
    kFile,     // a regular file, described in `entry` (hash through the cache)
    kSkipped,  // ScanUser never lists it (inside a Maildir tmp/ directory)
    kOther,    // a directory, symlink or special file, or a symlink on the way
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
absl::StatusOr<PathLookup> LookupUserPath(int user_dir, absl::string_view cache_scope,
                                          absl::string_view user, const std::string& rel,
                                          HashCache* cache,
                                          std::map<std::string, Fd>* dirs = nullptr);

// The HashCache key of a user's file.
std::string HashCacheKey(absl::string_view scope, absl::string_view user, absl::string_view path);

// Digest of a sorted manifest: xxHash3-128 over every entry's path, size,
// mtime, mode and hash. Equal digests mean equal trees.
std::string ManifestDigest(const Manifest& manifest);

// True for Maildir message paths: a file directly in a "cur" or "new"
// directory.
bool IsMaildirMessage(absl::string_view path);

// The Maildir unique part of a message path: the basename before ":2," in
// cur/, the whole basename in new/; empty for other files.
std::string MaildirUniqueKey(absl::string_view path);

}  // namespace slotkeeper::sync

#endif  // SLOTKEEPER_REPLICATOR_SYNC_MANIFEST_H_
