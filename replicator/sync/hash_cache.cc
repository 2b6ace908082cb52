#include "replicator/sync/hash_cache.h"

#include <memory>
#include <utility>

#include "absl/strings/str_cat.h"
#include "rocksdb/db.h"

namespace slotkeeper::sync {
namespace {

void PutU64(std::string* out, uint64_t v) {
  for (int i = 7; i >= 0; --i) out->push_back(static_cast<char>(v >> (8 * i)));
}

uint64_t GetU64(const char* p) {
  uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v = (v << 8) | static_cast<unsigned char>(p[i]);
  return v;
}

std::string CacheKey(absl::string_view key) { return absl::StrCat("h/", key); }

// A renamed file keeps its stamp only within one user's tree, which lies on
// one filesystem. Inode numbers repeat across filesystems (every slot of a
// host shares this cache), so the stamp is scoped by the cache key's
// "scope\nuser" part: without it, two files on two filesystems with equal
// inode, size and mtime would share a hash.
std::string StampKey(absl::string_view key, const FileStamp& s) {
  const size_t nl = key.find('\n');
  const size_t slash = key.find('/', nl == absl::string_view::npos ? 0 : nl);
  std::string out(key.substr(0, slash));
  out.push_back('\0');
  PutU64(&out, s.inode);
  PutU64(&out, s.size);
  PutU64(&out, static_cast<uint64_t>(s.mtime_ns));
  return out;
}

}  // namespace

void RocksHashCache::Prefetch(const std::string& prefix) {
  const std::string start = CacheKey(prefix);
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions()));
  absl::MutexLock lock(&mu_);
  // Entries never looked up (files gone since) must not pile up.
  if (prefetched_.size() > 1'000'000) prefetched_.clear();
  for (it->Seek(start); it->Valid() && it->key().starts_with(start); it->Next()) {
    prefetched_[it->key().ToString()] = it->value().ToString();
  }
}

std::optional<std::string> RocksHashCache::Lookup(const std::string& key, const FileStamp& stamp) {
  std::string value;
  bool found = false;
  const std::string db_key = CacheKey(key);
  {
    absl::MutexLock lock(&mu_);
    auto it = prefetched_.find(db_key);
    if (it != prefetched_.end()) {
      value = std::move(it->second);
      prefetched_.erase(it);
      found = true;
    }
  }
  if (!found && !db_->Get(rocksdb::ReadOptions(), db_key, &value).ok()) return std::nullopt;
  if (value.size() != 24 + kHashBytes) return std::nullopt;
  FileStamp stored{GetU64(value.data()), static_cast<int64_t>(GetU64(value.data() + 8)),
                   GetU64(value.data() + 16)};
  if (!(stored == stamp)) return std::nullopt;
  return value.substr(24);
}

namespace {

std::string CacheValue(const FileStamp& stamp, const std::string& hash) {
  std::string value;
  PutU64(&value, stamp.size);
  PutU64(&value, static_cast<uint64_t>(stamp.mtime_ns));
  PutU64(&value, stamp.inode);
  value += hash;
  return value;
}

}  // namespace

void RocksHashCache::Store(const std::string& key, const FileStamp& stamp,
                           const std::string& hash) {
  rocksdb::WriteOptions options;
  options.disableWAL = true;  // a lost cache entry only costs a re-hash
  db_->Put(options, CacheKey(key), CacheValue(stamp, hash));
}

void RocksHashCache::Update(const std::vector<StoredHash>& store,
                            const std::vector<std::string>& forget) {
  if (store.empty() && forget.empty()) return;
  rocksdb::WriteBatch batch;  // applied in order: forgets first (see HashCache)
  for (const std::string& key : forget) batch.Delete(CacheKey(key));
  for (const StoredHash& s : store) batch.Put(CacheKey(s.key), CacheValue(s.stamp, s.hash));
  rocksdb::WriteOptions options;
  options.disableWAL = true;  // as Store and Forget
  db_->Write(options, &batch);
}

absl::Status RocksHashCache::ForgetScope(const std::string& scope) {
  const std::string prefix = CacheKey(absl::StrCat(scope, "\n"));
  rocksdb::WriteBatch batch;
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions()));
  for (it->Seek(prefix); it->Valid() && it->key().starts_with(prefix); it->Next()) {
    batch.Delete(it->key());
  }
  {
    absl::MutexLock lock(&mu_);
    prefetched_.clear();
  }
  rocksdb::Status s = db_->Write(rocksdb::WriteOptions(), &batch);
  if (!s.ok())
    return absl::InternalError(absl::StrCat("hash cache of ", scope, ": ", s.ToString()));
  return absl::OkStatus();
}

void RocksHashCache::Forget(const std::string& key) {
  rocksdb::WriteOptions options;
  options.disableWAL = true;  // if lost, the entry stays stale, as any cache entry may
  db_->Delete(options, CacheKey(key));
}

std::optional<std::string> MemoryHashCache::Lookup(const std::string& key, const FileStamp& stamp) {
  {
    absl::MutexLock lock(&mu_);
    auto it = entries_.find(key);
    if (it != entries_.end() && it->second.stamp == stamp) return it->second.hash;
    auto same = by_stamp_.find(StampKey(key, stamp));
    if (same != by_stamp_.end()) {
      std::string hash = same->second;
      if (entries_.size() < max_entries_) entries_[key] = Entry{stamp, hash, /*by_rename=*/true};
      return hash;
    }
  }
  if (backing_ == nullptr) return std::nullopt;
  std::optional<std::string> hash = backing_->Lookup(key, stamp);
  if (hash) Remember(key, stamp, *hash);
  return hash;
}

void MemoryHashCache::Store(const std::string& key, const FileStamp& stamp,
                            const std::string& hash) {
  Remember(key, stamp, hash);
  if (backing_ != nullptr) backing_->Store(key, stamp, hash);
}

void MemoryHashCache::Forget(const std::string& key) {
  {
    absl::MutexLock lock(&mu_);
    entries_.erase(key);
  }
  if (backing_ != nullptr) backing_->Forget(key);
}

void MemoryHashCache::Update(const std::vector<StoredHash>& store,
                             const std::vector<std::string>& forget) {
  {
    absl::MutexLock lock(&mu_);
    for (const std::string& key : forget) entries_.erase(key);
  }
  for (const StoredHash& s : store) Remember(s.key, s.stamp, s.hash);
  if (backing_ != nullptr) backing_->Update(store, forget);
}

bool MemoryHashCache::KnownByRename(const std::string& key, const FileStamp& stamp) {
  absl::MutexLock lock(&mu_);
  auto it = entries_.find(key);
  return it != entries_.end() && it->second.stamp == stamp && it->second.by_rename;
}

void MemoryHashCache::Remember(const std::string& key, const FileStamp& stamp,
                               const std::string& hash) {
  absl::MutexLock lock(&mu_);
  auto it = entries_.find(key);
  if (it != entries_.end()) {
    it->second = Entry{stamp, hash};
  } else if (entries_.size() < max_entries_) {
    entries_.emplace(key, Entry{stamp, hash});
  }
  const std::string stamp_key = StampKey(key, stamp);
  if (by_stamp_.size() < max_entries_ || by_stamp_.count(stamp_key)) {
    by_stamp_[stamp_key] = hash;
  }
}

std::string HashCacheKey(absl::string_view scope, absl::string_view user, absl::string_view path) {
  return absl::StrCat(scope, "\n", user, "/", path);
}

}  // namespace slotkeeper::sync
