#include "replicator/sync/manifest.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <xxhash.h>

#include <algorithm>
#include <cstring>
#include <memory>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/types/span.h"
#include "base/log.h"
#include "replicator/sync/dir_walker.h"
#include "replicator/sync/maildir.h"
#include "replicator/sync/slot_layout.h"

namespace slotkeeper::sync {
namespace {

constexpr size_t kReadBuffer = 256 * 1024;

void PutU64(std::string* out, uint64_t v) {
  for (int i = 7; i >= 0; --i) out->push_back(static_cast<char>(v >> (8 * i)));
}

constexpr int kMaxScanDepth = 64;

// Describes regular files of one user for manifests: size, mtime, mode and
// the content hash, through the cache when it knows the file's stamp.
struct Describer {
  absl::string_view scope;
  absl::string_view user;
  HashCache* cache;
  ScanStats* stats;
  bool from_disk = false;             // read with HashFromDisk (no cache then)
  const ServeScope* serve = nullptr;  // which files may be described; required

  // FAILED_PRECONDITION for a file not served (source_files.h), checked on
  // the stat the walk saw and again on the descriptor read from.
  absl::StatusOr<ManifestEntry> Describe(int dirfd, const std::string& name, const std::string& rel,
                                         const struct stat& st) {
    if (absl::Status s = CheckServable(*serve, st, rel); !s.ok()) return s;
    ManifestEntry entry;
    entry.set_path(rel);
    const FileStamp stamp = StampOf(st);
    entry.set_size(stamp.size);
    entry.set_mtime_ns(stamp.mtime_ns);
    entry.set_mode(st.st_mode & kPermissionBits);
    entry.set_uid(st.st_uid);
    entry.set_gid(st.st_gid);
    if (stats) stats->files++;
    const std::string key = HashCacheKey(scope, user, rel);
    if (cache != nullptr) {
      if (std::optional<std::string> hash = cache->Lookup(key, stamp)) {
        entry.set_hash(*std::move(hash));
        return entry;
      }
    }
    struct stat opened;
    absl::StatusOr<Fd> file = OpenServable(dirfd, name, rel, *serve, &opened);
    if (!file.ok()) return file.status();
    absl::StatusOr<std::string> hash;
    if (from_disk) {
      absl::StatusOr<DiskRead> read = HashFromDisk(dirfd, name);
      hash = read.ok() ? absl::StatusOr<std::string>(read->hash) : read.status();
    } else {
      hash = HashFd(file->get());
    }
    if (!hash.ok()) return hash.status();
    struct stat after;
    if (fstat(file->get(), &after) != 0) return ErrnoStatus(errno, "fstat");
    const FileStamp after_stamp = StampOf(after);
    if (stats) {
      stats->files_hashed++;
      stats->bytes_hashed += after_stamp.size;
    }
    entry.set_hash(*hash);
    if (!(after_stamp == stamp)) {
      // Changed while we looked: describe what we hashed; don't cache.
      entry.set_size(after_stamp.size);
      entry.set_mtime_ns(after_stamp.mtime_ns);
      return entry;
    }
    if (cache != nullptr) cache->Store(key, stamp, *hash);
    return entry;
  }
};

// The walk of ScanUser: one entry per directory and regular file, leftover
// temporary files aside, Maildir tmp/ directories listed but not entered,
// symlinks and special files skipped.
class ScanVisitor : public DirVisitor {
 public:
  ScanVisitor(Describer describer, Manifest* out, std::vector<std::string>* temps,
              const std::function<bool()>& cancelled)
      : describer_(describer), out_(out), temps_(temps), cancelled_(cancelled) {}

  absl::StatusOr<bool> Visit(const WalkDir& dir, const DirEntry& e,
                             const std::string& rel) override {
    if (cancelled_ && visits_++ % kCancelCheckEvery == 0 && cancelled_()) {
      return absl::CancelledError("scan cancelled");
    }
    if (absl::StartsWith(e.name, kTempPrefix)) {
      if (temps_ != nullptr) temps_->push_back(rel);
      return false;
    }
    struct stat st;
    if (fstatat(dir.fd, e.name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) {
      if (errno == ENOENT) return false;  // removed while we walked
      return ErrnoStatus(errno, absl::StrCat("stat \"", rel, "\""));
    }
    if (S_ISDIR(st.st_mode)) {
      if (!ValidateRelativePath(rel).ok()) return false;
      ManifestEntry dir_entry;
      dir_entry.set_path(rel);
      dir_entry.set_directory(true);
      dir_entry.set_mode(st.st_mode & kPermissionBits);
      dir_entry.set_uid(st.st_uid);
      dir_entry.set_gid(st.st_gid);
      out_->push_back(std::move(dir_entry));
      if (dir.depth + 1 > kMaxScanDepth) {
        return absl::FailedPreconditionError(
            absl::StrCat("directory tree too deep at \"", rel, "\""));
      }
      // Maildir tmp/ holds deliveries still being written: listed, not
      // entered.
      return !IsDeliveryDir(dir.fd, e.name);
    }
    if (!S_ISREG(st.st_mode)) {
      LogWarning("sync", absl::StrCat("user ", describer_.user, ": skipping \"", rel,
                                      "\": not a regular file (symlinks are never followed)"));
      return false;
    }
    if (!ValidateRelativePath(rel).ok()) return false;
    absl::StatusOr<ManifestEntry> entry = describer_.Describe(dir.fd, e.name, rel, st);
    if (!entry.ok()) {
      if (absl::IsNotFound(entry.status())) return false;
      if (absl::IsFailedPrecondition(entry.status())) {
        LogWarning("sync",
                   absl::StrCat("user ", describer_.user, ": skipping ", entry.status().message()));
        return false;
      }
      return entry.status();
    }
    out_->push_back(*std::move(entry));
    return false;
  }

  // A directory removed while we walked is skipped.
  absl::Status Unreadable(const std::string& rel, const absl::Status& error) override {
    if (absl::IsNotFound(error)) return absl::OkStatus();
    return error;
  }

 private:
  static constexpr uint64_t kCancelCheckEvery = 256;

  Describer describer_;
  Manifest* const out_;
  std::vector<std::string>* const temps_;
  const std::function<bool()>& cancelled_;
  uint64_t visits_ = 0;
};

}  // namespace

ContentHasher::ContentHasher() : state_(XXH3_createState()) {
  XXH3_128bits_reset(static_cast<XXH3_state_t*>(state_));
}

ContentHasher::~ContentHasher() { XXH3_freeState(static_cast<XXH3_state_t*>(state_)); }

void ContentHasher::Update(const void* data, size_t n) {
  XXH3_128bits_update(static_cast<XXH3_state_t*>(state_), data, n);
}

std::string ContentHasher::Finish() {
  XXH128_canonical_t canonical;
  XXH128_canonicalFromHash(&canonical, XXH3_128bits_digest(static_cast<XXH3_state_t*>(state_)));
  return std::string(reinterpret_cast<const char*>(canonical.digest), sizeof(canonical.digest));
}

absl::StatusOr<std::string> HashFd(int fd) {
  ContentHasher hasher;
  struct stat st;
  size_t size = kReadBuffer;
  if (fstat(fd, &st) == 0 && st.st_size >= 0) {
    size = std::min<size_t>(kReadBuffer, static_cast<size_t>(st.st_size) + 1);
  }
  // Not zero-filled: most messages are a few KB.
  std::unique_ptr<char[]> storage(new char[size]);
  absl::Span<char> buffer(storage.get(), size);
  off_t offset = 0;
  for (;;) {
    ssize_t n = pread(fd, buffer.data(), buffer.size(), offset);
    if (n < 0) {
      if (errno == EINTR) continue;
      return ErrnoStatus(errno, "read");
    }
    if (n == 0) break;
    hasher.Update(buffer.data(), static_cast<size_t>(n));
    offset += n;
  }
  return hasher.Finish();
}

namespace {

constexpr size_t kDiskReadChunk = 1 << 20;
constexpr size_t kDiskAlignment = 4096;  // O_DIRECT buffers, offsets and sizes

// The calling thread's aligned read buffer (kDiskReadChunk bytes), made
// once: a fresh buffer per file would cost a page fault per page it
// receives.
char* DiskBuffer() {
  static thread_local std::unique_ptr<char, decltype(&free)> buffer(nullptr, &free);
  if (buffer == nullptr) {
    void* raw = nullptr;
    if (posix_memalign(&raw, kDiskAlignment, kDiskReadChunk) != 0) return nullptr;
    buffer.reset(static_cast<char*>(raw));
  }
  return buffer.get();
}

// How much to ask for at `offset` of a file of `size` bytes: what is left,
// rounded up to the alignment (asking a whole chunk of a small file makes
// the kernel zero the rest of the buffer), at most a chunk; one aligned
// block past the end to see whether the file grew.
size_t ReadLength(uint64_t size, uint64_t offset) {
  const uint64_t left = size > offset ? size - offset : 1;
  const uint64_t rounded = (left + kDiskAlignment - 1) / kDiskAlignment * kDiskAlignment;
  return static_cast<size_t>(std::min<uint64_t>(rounded, kDiskReadChunk));
}

// Reads the open file `fd` (`size` bytes when it was opened) to its end
// into `hasher`; `direct`: opened with O_DIRECT (a short read is the end,
// as the next offset would not be aligned). EINVAL from the first read
// means the filesystem refuses O_DIRECT after all.
absl::StatusOr<uint64_t> ReadAll(int fd, bool direct, uint64_t size,
                                 const std::function<void(uint64_t)>& pace, ContentHasher* hasher) {
  char* const buffer = DiskBuffer();
  if (buffer == nullptr) return absl::ResourceExhaustedError("no memory for a read buffer");
  uint64_t offset = 0;
  for (;;) {
    const size_t want = ReadLength(size, offset);
    if (pace) pace(want);
    ssize_t n = pread(fd, buffer, want, static_cast<off_t>(offset));
    if (n < 0) {
      if (errno == EINTR) continue;
      return ErrnoStatus(errno, "read");
    }
    if (n == 0) break;
    hasher->Update(buffer, static_cast<size_t>(n));
    offset += static_cast<uint64_t>(n);
    if (direct && static_cast<size_t>(n) < want) break;
  }
  return offset;
}

// A symlink-safe, never blocking open of the regular file `name` in
// `dirfd`, with O_DIRECT when `direct`.
absl::StatusOr<Fd> OpenForDiskRead(int dirfd, const std::string& name, bool direct) {
  struct stat st;
  return OpenRegularFile(dirfd, name, O_RDONLY | (direct ? O_DIRECT : 0), &st);
}

// Collects the unique names of the messages below a user directory;
// Maildir tmp/ directories are not entered.
class MessageKeyVisitor : public DirVisitor {
 public:
  explicit MessageKeyVisitor(std::set<std::string>* keys) : keys_(keys) {}
  absl::StatusOr<bool> Visit(const WalkDir& dir, const DirEntry& e,
                             const std::string& rel) override {
    if (IsDirectory(dir.fd, e)) {
      if (dir.depth + 1 > kMaxScanDepth) {
        return absl::FailedPreconditionError(
            absl::StrCat("directory tree too deep at \"", rel, "\""));
      }
      return !IsDeliveryDir(dir.fd, e.name);
    }
    if (absl::StartsWith(e.name, kTempPrefix) || e.type == DT_LNK) return false;
    std::string key = MaildirUniqueKey(rel);
    if (!key.empty()) keys_->insert(std::move(key));
    return false;
  }
  absl::Status Unreadable(const std::string& rel, const absl::Status& error) override {
    if (absl::IsNotFound(error)) return absl::OkStatus();  // removed while we walked
    return error;
  }

 private:
  std::set<std::string>* const keys_;
};

}  // namespace

absl::StatusOr<DiskRead> HashFromDisk(int dirfd, const std::string& name,
                                      const std::function<void(uint64_t)>& pace) {
  for (bool direct : {true, false}) {
    absl::StatusOr<Fd> file = OpenForDiskRead(dirfd, name, direct);
    if (!file.ok()) {
      if (direct && absl::IsInvalidArgument(file.status())) continue;  // no O_DIRECT here
      return file.status();
    }
    struct stat st;
    const uint64_t size = fstat(file->get(), &st) == 0 ? static_cast<uint64_t>(st.st_size) : 0;
    ContentHasher hasher;
    absl::StatusOr<uint64_t> read = ReadAll(file->get(), direct, size, pace, &hasher);
    if (!read.ok()) {
      if (direct && absl::IsInvalidArgument(read.status())) continue;
      return read.status();
    }
    // Buffered: the pages read were only for this check.
    if (!direct) posix_fadvise(file->get(), 0, 0, POSIX_FADV_DONTNEED);
    return DiskRead{hasher.Finish(), *read};
  }
  return absl::InternalError("unreachable");
}

absl::StatusOr<std::set<std::string>> ScanMessageKeys(int slot_root, absl::string_view user) {
  std::set<std::string> keys;
  absl::StatusOr<Fd> dir = OpenUserDir(slot_root, user, /*create=*/false);
  if (!dir.ok()) {
    if (absl::IsNotFound(dir.status())) return keys;
    return dir.status();
  }
  MessageKeyVisitor visitor(&keys);
  if (absl::Status s = WalkTree(dir->get(), &visitor); !s.ok()) {
    return absl::Status(s.code(), absl::StrCat("message names of user ", user, ": ", s.message()));
  }
  return keys;
}

absl::StatusOr<Manifest> ScanUser(int slot_root, absl::string_view cache_scope,
                                  absl::string_view user, HashCache* cache, ScanStats* stats,
                                  std::vector<std::string>* temp_files,
                                  const std::function<bool()>& cancelled, bool from_disk) {
  if (absl::Status s = ValidateUserName(user); !s.ok()) return s;
  Manifest out;
  absl::StatusOr<Fd> dir = OpenUserDir(slot_root, user, /*create=*/false);
  if (!dir.ok()) {
    if (absl::IsNotFound(dir.status())) return out;
    return dir.status();
  }
  absl::StatusOr<ServeScope> scope = ServeScopeOf(slot_root, dir->get());
  if (!scope.ok()) {
    return absl::Status(scope.status().code(),
                        absl::StrCat("scan of user ", user, ": ", scope.status().message()));
  }
  if (cache != nullptr) cache->Prefetch(HashCacheKey(cache_scope, user, ""));
  ScanVisitor visitor(
      Describer{cache_scope, user, cache, stats, from_disk && cache == nullptr, &*scope}, &out,
      temp_files, cancelled);
  if (absl::Status s = WalkTree(dir->get(), &visitor); !s.ok()) {
    return absl::Status(s.code(), absl::StrCat("scan of user ", user, ": ", s.message()));
  }
  std::sort(out.begin(), out.end(),
            [](const ManifestEntry& a, const ManifestEntry& b) { return a.path() < b.path(); });
  return out;
}

absl::StatusOr<PathLookup> LookupUserPath(int user_dir, absl::string_view cache_scope,
                                          absl::string_view user, const std::string& rel,
                                          HashCache* cache, std::map<std::string, Fd>* dirs,
                                          const ServeScope* scope) {
  if (absl::Status s = ValidateRelativePath(rel); !s.ok()) return s;
  ServeScope own_scope;
  if (scope == nullptr) {
    absl::StatusOr<ServeScope> of_dir = ServeScopeOfUserDir(user_dir);
    if (!of_dir.ok()) return of_dir.status();
    own_scope = *of_dir;
    scope = &own_scope;
  }
  PathLookup out;
  auto [dir, base] = SplitDirBase(rel);
  // Inside a Maildir tmp/ at any depth: ScanUser never lists it.
  if (IsInDeliveryDir(user_dir, dir)) {
    out.kind = PathLookup::kSkipped;
    return out;
  }
  int dir_fd = -1;
  Fd opened;  // when there is no `dirs` to keep it
  if (dirs != nullptr) {
    auto known = dirs->find(std::string(dir));
    if (known != dirs->end()) dir_fd = known->second.get();
  }
  if (dir_fd < 0) {
    absl::StatusOr<Fd> dirfd = OpenDirBeneath(user_dir, dir, false);
    if (!dirfd.ok()) {
      if (absl::IsNotFound(dirfd.status())) return out;
      if (absl::IsFailedPrecondition(dirfd.status())) {
        out.kind = PathLookup::kOther;
        return out;
      }
      return dirfd.status();
    }
    dir_fd = dirfd->get();
    if (dirs != nullptr) {
      dirs->emplace(std::string(dir), *std::move(dirfd));
    } else {
      opened = *std::move(dirfd);
    }
  }
  const std::string name(base);
  struct stat st;
  if (fstatat(dir_fd, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) {
    if (errno == ENOENT) return out;
    return ErrnoStatus(errno, absl::StrCat("stat \"", rel, "\""));
  }
  if (!S_ISREG(st.st_mode)) {
    out.kind = PathLookup::kOther;
    return out;
  }
  ScanStats stats;
  Describer describer{cache_scope, user, cache, &stats, false, scope};
  absl::StatusOr<ManifestEntry> entry = describer.Describe(dir_fd, name, rel, st);
  if (!entry.ok()) {
    if (absl::IsNotFound(entry.status())) return out;
    if (absl::IsFailedPrecondition(entry.status())) {
      LogWarning("sync", absl::StrCat("user ", user, ": not served: ", entry.status().message()));
      out.kind = PathLookup::kOther;
      return out;
    }
    return entry.status();
  }
  out.kind = PathLookup::kFile;
  out.entry = *std::move(entry);
  out.new_content = stats.files_hashed > 0 || cache == nullptr ||
                    !cache->KnownByRename(HashCacheKey(cache_scope, user, rel), StampOf(st));
  return out;
}

std::string ManifestDigest(const Manifest& manifest) {
  ContentHasher hasher;
  std::string buf;
  for (const ManifestEntry& e : manifest) {
    buf.clear();
    buf += e.path();
    buf.push_back(e.directory() ? '\1' : '\0');
    PutU64(&buf, e.size());
    PutU64(&buf, static_cast<uint64_t>(e.mtime_ns()));
    PutU64(&buf, e.mode());
    buf += e.hash();
    hasher.Update(buf.data(), buf.size());
  }
  return hasher.Finish();
}

}  // namespace slotkeeper::sync
