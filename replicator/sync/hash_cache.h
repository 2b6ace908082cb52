// Content hashes remembered by file stamp, so that an unchanged file is
// never read twice.
//
// A HashCache maps a key (HashCacheKey: scope, user, path) to the content
// hash of the file version it last saw there, identified by its FileStamp
// (size, mtime, inode). RocksHashCache keeps the entries in the data path's
// RocksDB ("h/" keys; state_db.h) across restarts; MemoryHashCache is an
// in-memory layer for a long-lived source that also recognises a renamed
// file (same stamp under another name) without reading it. A lost or stale
// entry only costs a re-hash: a stamp that does not match is a miss.
//
// Thread-safety: every implementation is thread-safe.
#ifndef SLOTKEEPER_REPLICATOR_SYNC_HASH_CACHE_H_
#define SLOTKEEPER_REPLICATOR_SYNC_HASH_CACHE_H_

#include <sys/stat.h>

#include <cstdint>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"

namespace rocksdb {
class DB;
}

namespace slotkeeper::sync {

// Content hashes are xxHash3-128, in canonical (big-endian) byte order.
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
  // Forgets every entry of `scope` (a slot whose content is unknown now).
  absl::Status ForgetScope(const std::string& scope);

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

// A file's mtime in nanoseconds, as manifests and stamps carry it.
inline int64_t MtimeNs(const struct stat& st) {
  return st.st_mtim.tv_sec * 1'000'000'000LL + st.st_mtim.tv_nsec;
}

// The stamp of the file `st` describes.
inline FileStamp StampOf(const struct stat& st) {
  return FileStamp{static_cast<uint64_t>(st.st_size), MtimeNs(st),
                   static_cast<uint64_t>(st.st_ino)};
}

// The HashCache key of a user's file.
std::string HashCacheKey(absl::string_view scope, absl::string_view user, absl::string_view path);

}  // namespace slotkeeper::sync

#endif  // SLOTKEEPER_REPLICATOR_SYNC_HASH_CACHE_H_
