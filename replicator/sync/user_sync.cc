#include "replicator/sync/user_sync.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <thread>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "base/log.h"
#include "replicator/sync/quarantine.h"
#include "replicator/sync/slot_layout.h"

namespace slotkeeper::sync {
namespace {

std::atomic<uint64_t> temp_counter{0};

std::string TempName() {
  static const pid_t pid = getpid();
  return absl::StrCat(kTempPrefix, pid, "-", temp_counter.fetch_add(1));
}

bool Cancelled(const UserSyncContext& ctx) {
  return ctx.cancelled != nullptr && ctx.cancelled->load();
}

// Directory fds below a user directory, opened (and created) on demand.
class DirCache {
 public:
  explicit DirCache(int user_dir) : user_dir_(user_dir) {}
  absl::StatusOr<int> Get(absl::string_view dir) {
    if (dir.empty()) return user_dir_;
    auto it = dirs_.find(std::string(dir));
    if (it != dirs_.end()) return it->second.get();
    absl::StatusOr<Fd> fd = OpenDirBeneath(user_dir_, dir, /*create=*/true);
    if (!fd.ok()) return fd.status();
    int raw = fd->get();
    dirs_.emplace(std::string(dir), *std::move(fd));
    return raw;
  }
  // Makes every directory opened so far durable.
  size_t size() const { return dirs_.size() + 1; }
  absl::Status SyncAll(TargetFs* fs) {
    absl::Status status = fs->Sync(user_dir_);
    for (auto& [name, fd] : dirs_) status.Update(fs->Sync(fd.get()));
    return status;
  }

 private:
  int user_dir_;
  std::map<std::string, Fd> dirs_;
};

// The hash-cache entry for a file the sync just put at `path`, so that the
// next scan does not read it again; nullopt without a cache.
std::optional<HashCache::StoredHash> HashOfPlacedFile(const UserSyncContext& ctx,
                                                      const std::string& user, int dirfd,
                                                      const std::string& name,
                                                      const std::string& path,
                                                      const std::string& hash) {
  struct stat st;
  if (ctx.cache == nullptr || fstatat(dirfd, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) {
    return std::nullopt;
  }
  return HashCache::StoredHash{HashCacheKey(ctx.target_scope, user, path), StampOf(st), hash};
}

// Hash-cache changes of one user's renames, written at once.
struct CacheChanges {
  std::vector<HashCache::StoredHash> store;
  std::vector<std::string> forget;
};

// Renames `from` (in from_dir) to `want`'s place (`name` in to_dir), never
// over an existing file: planned quarantines ran first, so a file found
// there appeared since; it goes to the quarantine and the rename is retried.
absl::Status PlaceFile(const UserSyncContext& ctx, const std::string& user, int from_dir,
                       const std::string& from, int to_dir, const std::string& name,
                       const std::string& want_path) {
  absl::Status renamed = ctx.fs->RenameNoReplace(from_dir, from, to_dir, name);
  if (!absl::IsAlreadyExists(renamed)) return renamed;
  if (absl::Status s = QuarantineFile(ctx.target_root, user, want_path, ctx.clock, ctx.fs);
      !s.ok()) {
    return s;
  }
  ctx.counters->files_quarantined++;
  return ctx.fs->RenameNoReplace(from_dir, from, to_dir, name);
}

// Installs a verified file; caches its hash under its final stamp.
absl::Status Install(const UserSyncContext& ctx, const std::string& user, int dirfd, int file_fd,
                     const std::string& temp, const ManifestEntry& want) {
  auto [dir, base] = SplitDirBase(want.path());
  (void)dir;
  const std::string name(base);
  if (absl::Status s = ctx.fs->SetMetadata(dirfd, temp, want.mtime_ns(), want.mode()); !s.ok()) {
    return s;
  }
  if (absl::Status s = PlaceFile(ctx, user, dirfd, temp, dirfd, name, want.path()); !s.ok()) {
    return s;
  }
  ctx.counters->files_copied++;
  struct stat st;
  if (ctx.cache != nullptr && fstat(file_fd, &st) == 0) {
    ctx.cache->Store(HashCacheKey(ctx.target_scope, user, want.path()), StampOf(st), want.hash());
  }
  return absl::OkStatus();
}

// Reads a durable temporary file back (options.verify_written) and installs
// it if it still holds the source's content; otherwise removes it.
absl::Status VerifyAndInstall(const UserSyncContext& ctx, const std::string& user, int dirfd,
                              int file_fd, const std::string& temp, const ManifestEntry& want) {
  if (ctx.options.verify_written) {
    absl::StatusOr<std::string> on_disk = HashFd(file_fd);
    if (!on_disk.ok() || *on_disk != want.hash()) {
      ctx.counters->files_failed_verify++;
      (void)ctx.fs->Unlink(dirfd, temp);
      return absl::DataLossError(absl::StrCat(
          want.path(), ": written file does not match the source hash; not installed"));
    }
  }
  absl::Status s = Install(ctx, user, dirfd, file_fd, temp, want);
  if (!s.ok()) (void)ctx.fs->Unlink(dirfd, temp);
  return s;
}

struct PendingFile {
  const ManifestEntry* want = nullptr;
  int dirfd = -1;
  std::string temp;
  Fd file;
  std::unique_ptr<ContentHasher> hasher;
  uint64_t written = 0;
  bool complete = false;
};

// The temporary name a fetch of `want` writes to: the same for the same
// path and content, so that a fetch that was killed or interrupted is found
// again and resumed (ResumePartial). Starts with kTempPrefix, like every
// temporary file of the data path.
std::string PartName(const ManifestEntry& want) {
  ContentHasher hasher;
  hasher.Update(want.path().data(), want.path().size());
  hasher.Update("", 1);
  hasher.Update(want.hash().data(), want.hash().size());
  const std::string id = hasher.Finish();
  return absl::StrCat(kTempPrefix, "part-", absl::BytesToHexString(id.substr(0, 8)));
}

// Statuses after which a partly fetched file is kept for the next attempt:
// the transfer was interrupted, nothing is known to be wrong with the bytes.
bool KeepsPartialFiles(const absl::Status& s) {
  return absl::IsCancelled(s) || absl::IsUnavailable(s) || absl::IsDeadlineExceeded(s);
}

// Picks up what an interrupted fetch of `p->want` left (its PartName file):
// its bytes are hashed again here and the fetch asks only for the rest.
// A part file that cannot be resumed (empty, not shorter than the file, not
// a regular file) is removed and the file fetched whole.
absl::Status ResumePartial(const UserSyncContext& ctx, DirCache* dirs, absl::Mutex* dirs_mu,
                           PendingFile* p) {
  auto [dir, base] = SplitDirBase(p->want->path());
  (void)base;
  absl::StatusOr<int> dirfd;
  {
    absl::MutexLock lock(dirs_mu);
    dirfd = dirs->Get(dir);
  }
  if (!dirfd.ok()) return dirfd.status();
  const std::string part = PartName(*p->want);
  struct stat st;
  if (fstatat(*dirfd, part.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) return absl::OkStatus();
  const uint64_t have = static_cast<uint64_t>(st.st_size);
  absl::StatusOr<Fd> file = absl::NotFoundError("not resumable");
  if (S_ISREG(st.st_mode) && have > 0 && have < p->want->size()) {
    file = ctx.fs->OpenForAppend(*dirfd, part);
  }
  auto hasher = std::make_unique<ContentHasher>();
  uint64_t read = 0;
  if (file.ok()) {
    std::string buffer(std::min<uint64_t>(have, 1 << 20), '\0');
    while (read < have) {
      ssize_t n = pread(file->get(), buffer.data(), std::min<uint64_t>(buffer.size(), have - read),
                        static_cast<off_t>(read));
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) break;
      hasher->Update(buffer.data(), static_cast<size_t>(n));
      read += static_cast<uint64_t>(n);
    }
  }
  if (!file.ok() || read != have) {
    (void)ctx.fs->Unlink(*dirfd, part);
    return absl::OkStatus();
  }
  p->dirfd = *dirfd;
  p->temp = part;
  p->file = *std::move(file);
  p->hasher = std::move(hasher);
  p->written = have;
  ctx.counters->bytes_resumed += have;
  return absl::OkStatus();
}

// One FetchFiles call for `files`; installs what arrived intact, or with
// `staged` hands it over there, verified but neither durable nor in place.
absl::Status FetchBatch(const UserSyncContext& ctx, const std::string& user, DirCache* dirs,
                        absl::Mutex* dirs_mu, const std::vector<const ManifestEntry*>& files,
                        bool* changed_at_source, std::vector<StagedFile>* staged) {
  std::vector<v1::FileWant> wants(files.size());
  std::vector<PendingFile> pending(files.size());
  const bool per_file =
      staged == nullptr &&
      (ctx.options.durability == Durability::kPerFile ||
       (ctx.options.durability == Durability::kAuto && files.size() < kAutoSyncfsMinFiles));
  // Removes the temporary files; with `keep_partial` (an interrupted
  // transfer) the incomplete ones stay for the next attempt to resume.
  auto discard_all = [&](bool keep_partial = false) {
    for (PendingFile& p : pending) {
      if (p.file.valid()) {
        if (!keep_partial || p.complete) (void)ctx.fs->Unlink(p.dirfd, p.temp);
        p.file = Fd();
      }
    }
  };
  for (size_t i = 0; i < files.size(); ++i) {
    pending[i].want = files[i];
    if (absl::Status s = ResumePartial(ctx, dirs, dirs_mu, &pending[i]); !s.ok()) {
      discard_all(/*keep_partial=*/true);
      return s;
    }
    wants[i].set_path(files[i]->path());
    wants[i].set_expected_hash(files[i]->hash());
    wants[i].set_offset(pending[i].written);
  }
  ctx.counters->fetch_calls++;
  std::unique_ptr<FileStream> stream =
      ctx.source->FetchFiles(user, wants, ctx.options.chunk_bytes, ctx.cancelled);
  v1::FileChunk chunk;
  absl::Status status;
  while (status.ok()) {
    absl::StatusOr<bool> more = stream->Read(&chunk);
    if (!more.ok()) {
      status = more.status();
      break;
    }
    if (!*more) break;
    PendingFile& p = pending[chunk.file_index()];
    if (!chunk.error().empty()) {
      LogWarning("sync",
                 absl::StrCat("user ", user, ": ", p.want->path(), " not copied: ", chunk.error()));
      ctx.counters->files_changed_at_source++;
      *changed_at_source = true;
      if (p.file.valid()) {
        (void)ctx.fs->Unlink(p.dirfd, p.temp);
        p.file = Fd();
      }
      p.complete = true;  // nothing to install
      p.temp.clear();
      continue;
    }
    if (!p.file.valid()) {
      auto [dir, base] = SplitDirBase(p.want->path());
      (void)base;
      absl::StatusOr<int> dirfd;
      {
        absl::MutexLock lock(dirs_mu);
        dirfd = dirs->Get(dir);
      }
      if (!dirfd.ok()) {
        status = dirfd.status();
        break;
      }
      p.dirfd = *dirfd;
      p.temp = PartName(*p.want);
      absl::StatusOr<Fd> fd = ctx.fs->CreateFile(p.dirfd, p.temp, 0600);
      if (!fd.ok()) {
        status = fd.status();
        break;
      }
      p.file = *std::move(fd);
      p.hasher = std::make_unique<ContentHasher>();
    }
    const std::string& data = chunk.data();
    if (ctx.bucket != nullptr) ctx.bucket->Acquire(data.size());
    if (absl::Status s = ctx.fs->Write(p.file.get(), data.data(), data.size()); !s.ok()) {
      status = absl::Status(s.code(), absl::StrCat("writing ", p.want->path(), ": ", s.message()));
      break;
    }
    p.hasher->Update(data.data(), data.size());
    p.written += data.size();
    ctx.counters->bytes_received += data.size();
    if (chunk.eof()) {
      p.complete = true;
      const std::string got = p.hasher->Finish();
      if (p.written != p.want->size() || got != p.want->hash()) {
        ctx.counters->files_failed_verify++;
        status = absl::DataLossError(absl::StrCat(p.want->path(),
                                                  ": received content does not match the manifest "
                                                  "hash; not installed"));
        break;
      }
      if (per_file) {
        if (absl::Status s = ctx.fs->Sync(p.file.get()); !s.ok()) {
          status = s;
          break;
        }
      }
    }
  }
  if (!status.ok()) stream->Cancel();
  absl::Status rpc = stream->Finish();
  if (status.ok()) status = rpc;
  if (!status.ok()) {
    discard_all(KeepsPartialFiles(status));
    return status;
  }
  if (staged != nullptr) {
    std::vector<StagedFile> out;
    for (PendingFile& p : pending) {
      if (!p.file.valid()) continue;
      int dir = fcntl(p.dirfd, F_DUPFD_CLOEXEC, 0);
      if (dir < 0) {
        status = ErrnoStatus(errno, "dup of a directory descriptor");
        break;
      }
      out.push_back(StagedFile{Fd(dir), std::move(p.temp), *p.want, std::move(p.file)});
    }
    if (!status.ok()) {
      DiscardStaged(ctx.fs, &out);
      discard_all();
      return status;
    }
    for (StagedFile& f : out) staged->push_back(std::move(f));
    return absl::OkStatus();
  }
  if (!per_file) {
    int any = -1;
    for (PendingFile& p : pending) {
      if (p.file.valid()) any = p.file.get();
    }
    if (any >= 0) {
      if (absl::Status s = ctx.fs->SyncFilesystem(any); !s.ok()) {
        discard_all();
        return s;
      }
    }
  }
  for (PendingFile& p : pending) {
    if (!p.file.valid()) continue;
    status.Update(VerifyAndInstall(ctx, user, p.dirfd, p.file.get(), p.temp, *p.want));
    p.file = Fd();
  }
  return status;
}

// Writes a file the source sent with its delta answer (content already
// checked against the manifest hash) to a temporary name; then, like a
// fetched file, hands it over to `staged` or makes it durable and installs
// it.
absl::Status WriteInlineFile(const UserSyncContext& ctx, const std::string& user, DirCache* dirs,
                             const ManifestEntry& want, const std::string& data,
                             std::vector<StagedFile>* staged) {
  auto [dir, base] = SplitDirBase(want.path());
  (void)base;
  absl::StatusOr<int> dirfd = dirs->Get(dir);
  if (!dirfd.ok()) return dirfd.status();
  const std::string temp = TempName();
  absl::StatusOr<Fd> file = ctx.fs->CreateFile(*dirfd, temp, 0600);
  if (!file.ok()) return file.status();
  if (ctx.bucket != nullptr) ctx.bucket->Acquire(data.size());
  absl::Status s = ctx.fs->Write(file->get(), data.data(), data.size());
  if (s.ok()) {
    ctx.counters->bytes_received += data.size();
    ctx.counters->files_inline++;
  }
  if (s.ok() && staged != nullptr) {
    int dup = fcntl(*dirfd, F_DUPFD_CLOEXEC, 0);
    if (dup >= 0) {
      staged->push_back(StagedFile{Fd(dup), temp, want, *std::move(file)});
      return absl::OkStatus();
    }
    s = ErrnoStatus(errno, "dup of a directory descriptor");
  }
  if (s.ok()) s = ctx.fs->Sync(file->get());
  if (!s.ok()) {
    (void)ctx.fs->Unlink(*dirfd, temp);
    return absl::Status(s.code(), absl::StrCat("writing ", want.path(), ": ", s.message()));
  }
  return VerifyAndInstall(ctx, user, *dirfd, file->get(), temp, want);
}

// After a file reached `r.to`'s place: the source's metadata unless the
// rename kept it, the hash cached under the new name (the old one dropped).
absl::Status FinishRename(const UserSyncContext& ctx, const std::string& user, int dirfd,
                          const std::string& name, const LocalRename& r,
                          CacheChanges* cache_changes) {
  if (!r.KeepsMetadata()) {
    if (absl::Status s = ctx.fs->SetMetadata(dirfd, name, r.to.mtime_ns(), r.to.mode()); !s.ok()) {
      return s;
    }
  }
  if (std::optional<HashCache::StoredHash> h =
          HashOfPlacedFile(ctx, user, dirfd, name, r.to.path(), r.to.hash())) {
    cache_changes->store.push_back(*std::move(h));
  }
  // The donor's old name may be another rename's destination: HashCache
  // applies forgets before stores, so that file's entry stays.
  if (ctx.cache != nullptr) {
    cache_changes->forget.push_back(HashCacheKey(ctx.target_scope, user, r.from));
  }
  ctx.counters->files_renamed++;
  return absl::OkStatus();
}

absl::Status ApplyRenamesUncached(const UserSyncContext& ctx, const std::string& user,
                                  DirCache* dirs, const std::vector<LocalRename>& rs,
                                  CacheChanges* cache_changes) {
  // A rename whose destination is another rename's donor must wait until
  // that donor has left: those go through a temporary name (pass 2), so
  // chains and swaps are safe. Every other one (a Maildir flag change, a
  // move to cur/ or to another folder) is a single rename (pass 1).
  std::set<absl::string_view> donors;
  for (const LocalRename& r : rs) donors.insert(r.from);
  std::vector<const LocalRename*> chained;
  for (const LocalRename& r : rs) {
    if (donors.count(r.to.path())) {
      chained.push_back(&r);
      continue;
    }
    auto [from_dir, from_base] = SplitDirBase(r.from);
    absl::StatusOr<int> from_fd = dirs->Get(from_dir);
    if (!from_fd.ok()) return from_fd.status();
    auto [dir, base] = SplitDirBase(r.to.path());
    absl::StatusOr<int> dirfd = dirs->Get(dir);
    if (!dirfd.ok()) return dirfd.status();
    const std::string name(base);
    if (absl::Status s =
            PlaceFile(ctx, user, *from_fd, std::string(from_base), *dirfd, name, r.to.path());
        !s.ok()) {
      return s;
    }
    if (absl::Status s = FinishRename(ctx, user, *dirfd, name, r, cache_changes); !s.ok()) {
      return s;
    }
  }
  // Pass 2, step 1: every remaining donor to a temporary name in its own
  // directory, so that a rename into a path another donor still occupies
  // cannot clobber it.
  std::vector<std::pair<int, std::string>> staged;
  for (const LocalRename* r : chained) {
    auto [dir, base] = SplitDirBase(r->from);
    absl::StatusOr<int> dirfd = dirs->Get(dir);
    if (!dirfd.ok()) return dirfd.status();
    std::string temp = TempName();
    if (absl::Status s = ctx.fs->Rename(*dirfd, std::string(base), *dirfd, temp); !s.ok()) {
      return s;
    }
    staged.emplace_back(*dirfd, std::move(temp));
  }
  for (size_t i = 0; i < chained.size(); ++i) {
    const LocalRename& r = *chained[i];
    auto [dir, base] = SplitDirBase(r.to.path());
    absl::StatusOr<int> dirfd = dirs->Get(dir);
    if (!dirfd.ok()) return dirfd.status();
    const std::string name(base);
    if (absl::Status s =
            PlaceFile(ctx, user, staged[i].first, staged[i].second, *dirfd, name, r.to.path());
        !s.ok()) {
      return s;
    }
    if (absl::Status s = FinishRename(ctx, user, *dirfd, name, r, cache_changes); !s.ok()) {
      return s;
    }
  }
  return absl::OkStatus();
}

// Applies renames (see ApplyRenamesUncached), then records what they did to
// the hash cache in one write, also after a failure part-way.
absl::Status ApplyRenames(const UserSyncContext& ctx, const std::string& user, DirCache* dirs,
                          const std::vector<LocalRename>& rs) {
  CacheChanges changes;
  absl::Status s = ApplyRenamesUncached(ctx, user, dirs, rs, &changes);
  if (ctx.cache != nullptr) ctx.cache->Update(changes.store, changes.forget);
  return s;
}

// Applies a plan (full or delta) with every safety rule of the data path:
// leftovers and replaced files to the quarantine first, renames through
// temporary names, fetched files verified and made durable before they are
// renamed into place (or, with `staged`, handed over for the caller's group
// commit: see SyncOptions::stage_small_fetches). ABORTED when some file
// changed at the source.
absl::Status ApplyPlan(const UserSyncContext& ctx, const std::string& user, const UserPlan& plan,
                       const std::vector<std::string>& temps, std::vector<StagedFile>* staged,
                       const std::map<std::string, std::string>* inline_data = nullptr) {
  absl::StatusOr<Fd> user_dir = OpenUserDir(ctx.target_root, user, /*create=*/true);
  if (!user_dir.ok()) return user_dir.status();
  DirCache dirs(user_dir->get());

  // 1. Leftovers of an interrupted sync are kept, not deleted; a partly
  // fetched file that the plan still wants stays to be resumed.
  std::set<std::string> resumable;
  for (const ManifestEntry& e : plan.fetches) {
    auto [dir, base] = SplitDirBase(e.path());
    (void)base;
    resumable.insert(dir.empty() ? PartName(e) : absl::StrCat(dir, "/", PartName(e)));
  }
  for (const std::string& t : temps) {
    if (resumable.count(t)) continue;
    if (absl::Status s = QuarantineFile(ctx.target_root, user, t, ctx.clock, ctx.fs); !s.ok()) {
      return s;
    }
  }
  // 2. Files leaving their path (gone, or replaced) first, so that renames
  // and fetches find their destinations free.
  for (const std::string& path : plan.quarantines) {
    if (absl::Status s = QuarantineFile(ctx.target_root, user, path, ctx.clock, ctx.fs); !s.ok()) {
      return s;
    }
    if (ctx.cache != nullptr) ctx.cache->Forget(HashCacheKey(ctx.target_scope, user, path));
    ctx.counters->files_quarantined++;
  }
  for (const ManifestEntry& d : plan.mkdirs) {
    absl::StatusOr<int> dirfd = dirs.Get(d.path());
    if (!dirfd.ok()) return dirfd.status();
    if (fchmod(*dirfd, d.mode() & 07777) != 0) {
      return ErrnoStatus(errno, absl::StrCat("chmod ", d.path()));
    }
  }
  // 3. Renames.
  if (absl::Status s = ApplyRenames(ctx, user, &dirs, plan.renames); !s.ok()) {
    return s;
  }
  for (const ManifestEntry& fix : plan.metadata_fixes) {
    auto [dir, base] = SplitDirBase(fix.path());
    absl::StatusOr<int> dirfd = dirs.Get(dir);
    if (!dirfd.ok()) return dirfd.status();
    if (absl::Status s = ctx.fs->SetMetadata(*dirfd, std::string(base), fix.mtime_ns(), fix.mode());
        !s.ok()) {
      return s;
    }
    if (std::optional<HashCache::StoredHash> h =
            HashOfPlacedFile(ctx, user, *dirfd, std::string(base), fix.path(), fix.hash())) {
      ctx.cache->Store(h->key, h->stamp, h->hash);
    }
    ctx.counters->metadata_fixed++;
  }
  const bool stage = staged != nullptr && ctx.options.stage_small_fetches &&
                     ctx.options.durability == Durability::kAuto &&
                     plan.fetches.size() < kAutoSyncfsMinFiles;
  // 4. Files the source sent inline with a delta answer, if they are
  // intact; the rest is fetched, in batches over several streams.
  static const auto* const kNoInlineData = new std::map<std::string, std::string>();
  const std::map<std::string, std::string>& inlined =
      inline_data != nullptr ? *inline_data : *kNoInlineData;
  std::vector<const ManifestEntry*> to_fetch;
  for (const ManifestEntry& e : plan.fetches) {
    auto it = inlined.find(e.path());
    if (it == inlined.end()) {
      to_fetch.push_back(&e);
      continue;
    }
    ContentHasher hasher;
    hasher.Update(it->second.data(), it->second.size());
    if (it->second.size() != e.size() || hasher.Finish() != e.hash()) {
      LogWarning("sync",
                 absl::StrCat("user ", user, ": ", e.path(),
                              ": inline content does not match its manifest entry; fetching it"));
      to_fetch.push_back(&e);
      continue;
    }
    if (absl::Status s = WriteInlineFile(ctx, user, &dirs, e, it->second, stage ? staged : nullptr);
        !s.ok()) {
      return absl::Status(s.code(), absl::StrCat("user ", user, ": ", s.message()));
    }
  }
  std::vector<std::vector<const ManifestEntry*>> batches;
  {
    std::vector<const ManifestEntry*> current;
    uint64_t bytes = 0;
    for (const ManifestEntry* e : to_fetch) {
      if (!current.empty() && (current.size() >= ctx.options.batch_files ||
                               bytes + e->size() > ctx.options.batch_bytes)) {
        batches.push_back(std::move(current));
        current.clear();
        bytes = 0;
      }
      current.push_back(e);
      bytes += e->size();
    }
    if (!current.empty()) batches.push_back(std::move(current));
  }
  absl::Mutex mu;  // guards `dirs`, `first_error`, `changed`, `*staged`
  absl::Status first_error;
  bool changed = false;
  std::atomic<size_t> next{0};
  std::atomic<bool> failed{false};
  auto worker = [&]() {
    for (;;) {
      size_t i = next.fetch_add(1);
      if (i >= batches.size() || failed.load()) return;
      bool batch_changed = false;
      std::vector<StagedFile> batch_staged;
      absl::Status s = FetchBatch(ctx, user, &dirs, &mu, batches[i], &batch_changed,
                                  stage ? &batch_staged : nullptr);
      absl::MutexLock lock(&mu);
      changed |= batch_changed;
      for (StagedFile& f : batch_staged) staged->push_back(std::move(f));
      if (!s.ok()) {
        // Another file's verification failure does not stop the batches;
        // anything else (disk full, cancelled, network) does.
        if (!absl::IsDataLoss(s)) failed = true;
        if (first_error.ok()) first_error = s;
      }
    }
  };
  const size_t threads =
      std::min<size_t>(batches.size(), std::max(1, ctx.options.streams_per_user));
  if (threads <= 1) {
    worker();
  } else {
    std::vector<std::thread> pool;
    for (size_t t = 0; t < threads; ++t) pool.emplace_back(worker);
    for (std::thread& t : pool) t.join();
  }
  // 5. Make the renames durable.
  const bool per_dir =
      ctx.options.durability == Durability::kPerFile ||
      (ctx.options.durability == Durability::kAuto && dirs.size() <= kAutoSyncfsMinDirs);
  absl::Status dir_sync = ctx.options.defer_directory_sync ? absl::OkStatus()
                          : per_dir                        ? dirs.SyncAll(ctx.fs)
                                    : ctx.fs->SyncFilesystem(user_dir->get());
  if (!first_error.ok()) {
    return absl::Status(first_error.code(),
                        absl::StrCat("user ", user, ": ", first_error.message()));
  }
  if (!dir_sync.ok()) return dir_sync;
  for (const std::string& d : plan.rmdirs) {
    auto [parent, base] = SplitDirBase(d);
    absl::StatusOr<Fd> parent_fd = OpenDirBeneath(user_dir->get(), parent, false);
    if (!parent_fd.ok()) continue;
    // Only an empty directory goes; one still holding files stays.
    (void)ctx.fs->RemoveEmptyDir(parent_fd->get(), std::string(base));
  }
  if (changed) {
    return absl::AbortedError(
        absl::StrCat("user ", user, ": some files changed at the source during the sync; retry"));
  }
  return absl::OkStatus();
}

}  // namespace

TokenBucket::TokenBucket(uint64_t bytes_per_second, uint64_t burst_bytes, Clock* clock)
    : rate_(static_cast<double>(bytes_per_second)),
      burst_(static_cast<double>(std::max<uint64_t>(burst_bytes, 1))),
      clock_(clock),
      tokens_(burst_),
      last_(clock->Monotonic()) {}

void TokenBucket::Acquire(uint64_t n) {
  if (rate_ <= 0) return;
  double need = static_cast<double>(n);
  for (;;) {
    absl::Duration wait;
    {
      absl::MutexLock lock(&mu_);
      absl::Duration now = clock_->Monotonic();
      tokens_ = std::min(burst_, tokens_ + absl::ToDoubleSeconds(now - last_) * rate_);
      last_ = now;
      // A request larger than the burst goes through once the bucket is full
      // and drives it negative, so the average rate still holds.
      if (tokens_ >= std::min(need, burst_)) {
        tokens_ -= need;
        return;
      }
      wait = absl::Seconds((std::min(need, burst_) - tokens_) / rate_);
    }
    clock_->SleepFor(wait);
  }
}

absl::Status InstallStaged(const UserSyncContext& ctx, const std::string& user,
                           std::vector<StagedFile>* files) {
  absl::Status status;
  for (StagedFile& f : *files) {
    status.Update(VerifyAndInstall(ctx, user, f.dir.get(), f.file.get(), f.temp, f.want));
  }
  files->clear();
  if (!status.ok()) {
    return absl::Status(status.code(), absl::StrCat("user ", user, ": ", status.message()));
  }
  return status;
}

void DiscardStaged(TargetFs* fs, std::vector<StagedFile>* files) {
  for (StagedFile& f : *files) (void)fs->Unlink(f.dir.get(), f.temp);
  files->clear();
}

namespace {

// The delta path: applies a delta answer `d` (what changed since the user's
// checkpoint), looking at the changed paths on both sides instead of
// walking the trees. The replica is taken to hold the source's state at the
// checkpoint (that is what a checkpoint says), so the plan over the changed
// paths equals the full plan: unchanged paths neither move nor serve as
// rename donors (a renamed message's old name is itself a changed path).
// std::nullopt (fall back to the full manifest) on any doubt: a changed path
// that is a directory or symlink here, or removals the mass-deletion guard
// must judge against the whole user.
absl::StatusOr<std::optional<UserSyncResult>> SyncUserDelta(const UserSyncContext& ctx,
                                                            const std::string& user,
                                                            const SourceDelta& d) {
  absl::StatusOr<Fd> user_dir = OpenUserDir(ctx.target_root, user, /*create=*/false);
  if (!user_dir.ok()) {
    if (absl::IsNotFound(user_dir.status())) return std::nullopt;
    return user_dir.status();
  }
  Manifest local;
  std::map<std::string, Fd> dirs;
  auto look = [&](const std::string& path) -> absl::StatusOr<bool> {
    absl::StatusOr<PathLookup> found =
        LookupUserPath(user_dir->get(), ctx.target_scope, user, path, ctx.cache, &dirs);
    if (!found.ok()) return found.status();
    if (found->kind == PathLookup::kFile) local.push_back(std::move(found->entry));
    return found->kind == PathLookup::kFile || found->kind == PathLookup::kAbsent;
  };
  for (const ManifestEntry& e : d.entries) {
    absl::StatusOr<bool> ok = look(e.path());
    if (!ok.ok()) return ok.status();
    if (!*ok) return std::nullopt;
  }
  for (const std::string& path : d.removed) {
    absl::StatusOr<bool> ok = look(path);
    if (!ok.ok()) return ok.status();
    if (!*ok) return std::nullopt;
  }
  std::sort(local.begin(), local.end(),
            [](const ManifestEntry& a, const ManifestEntry& b) { return a.path() < b.path(); });
  UserPlan plan = PlanUserSync(d.entries, local, ctx.options.guard);
  // The guard's share needs the user's whole message count, which a delta
  // does not have: enough removals to possibly block go to the full path,
  // which judges them exactly as it always does.
  if (plan.blocked || plan.removed_messages >= ctx.options.guard.min_removals_to_block) {
    return std::nullopt;
  }
  ctx.counters->delta_manifests++;
  UserSyncResult result;
  result.generation = d.generation;
  result.delta = true;
  if (!plan.empty()) {
    if (absl::Status s = ApplyPlan(ctx, user, plan, {}, &result.staged, &d.inline_data); !s.ok()) {
      DiscardStaged(ctx.fs, &result.staged);
      return s;
    }
  }
  return result;
}

// Gives the replica's user directory the source's permission bits (0: the
// source did not say; nothing to do), creating it for a user with no files.
absl::Status MatchUserDirMode(const UserSyncContext& ctx, const std::string& user, uint32_t mode) {
  if (mode == 0) return absl::OkStatus();
  absl::StatusOr<Fd> dir = OpenUserDir(ctx.target_root, user, /*create=*/true);
  if (!dir.ok()) return dir.status();
  struct stat st;
  if (fstat(dir->get(), &st) != 0)
    return ErrnoStatus(errno, absl::StrCat("stat ", UserDirPath(user)));
  if ((st.st_mode & 07777) == mode) return absl::OkStatus();
  if (fchmod(dir->get(), mode) != 0) {
    return ErrnoStatus(errno, absl::StrCat("chmod ", UserDirPath(user)));
  }
  ctx.counters->metadata_fixed++;
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<UserSyncResult> SyncUser(const UserSyncContext& ctx, const std::string& user,
                                        const DeltaBase* since,
                                        const std::optional<SourceDelta>* prefetched) {
  if (absl::Status s = ValidateUserName(user); !s.ok()) return s;
  if (Cancelled(ctx)) return absl::CancelledError("sync cancelled");
  if (since != nullptr && ctx.options.use_delta) {
    std::optional<SourceDelta> fetched;
    if (prefetched == nullptr) {
      absl::StatusOr<std::optional<SourceDelta>> answer =
          ctx.source->GetDelta(user, *since, ctx.options.inline_limits(), ctx.cancelled);
      if (!answer.ok()) return answer.status();
      fetched = *std::move(answer);
      prefetched = &fetched;
    }
    if (prefetched->has_value()) {
      absl::StatusOr<std::optional<UserSyncResult>> delta = SyncUserDelta(ctx, user, **prefetched);
      if (!delta.ok()) return delta.status();
      if (delta->has_value()) return std::move(**delta);
    }
    ctx.counters->delta_fallbacks++;
  }
  UserSyncResult result;
  uint32_t user_mode = 0;
  absl::StatusOr<Manifest> source = ctx.source->GetManifest(user, &result.generation, &user_mode);
  if (!source.ok()) return source.status();
  ctx.counters->manifests_fetched++;
  for (const ManifestEntry& e : *source) {
    if (e.directory()) continue;
    result.bytes_total += e.size();
    result.files_total++;
  }

  std::vector<std::string> temps;
  absl::StatusOr<Manifest> local =
      ScanUser(ctx.target_root, ctx.target_scope, user, ctx.cache, nullptr, &temps);
  if (!local.ok()) return local.status();
  UserPlan plan = PlanUserSync(*source, *local, ctx.options.guard);
  if (plan.blocked) {
    LogWarning("sync", absl::StrCat("user ", user, ": ", plan.blocked_reason));
    result.blocked = true;
    result.blocked_reason = plan.blocked_reason;
    return result;
  }
  if (!plan.empty() || !temps.empty()) {
    if (absl::Status s = ApplyPlan(ctx, user, plan, temps, &result.staged); !s.ok()) {
      DiscardStaged(ctx.fs, &result.staged);
      return s;
    }
  }
  if (absl::Status s = MatchUserDirMode(ctx, user, user_mode); !s.ok()) {
    DiscardStaged(ctx.fs, &result.staged);
    return s;
  }
  return result;
}

}  // namespace slotkeeper::sync
