#include "replicator/sync/fetch.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <memory>
#include <thread>
#include <utility>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "base/log.h"
#include "base/status_macros.h"

namespace slotkeeper::sync {
namespace {

// How much of a source's error text goes to the log.
constexpr size_t kMaxSourceTextBytes = 256;

// The part file's name (see PartPath).
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

// A file of a batch on its way: its part file and how much of it is there.
struct PendingFile {
  const ManifestEntry* want = nullptr;
  int dirfd = -1;  // owned by the DirCache
  std::string temp;
  Fd file;
  std::unique_ptr<ContentHasher> hasher;
  uint64_t written = 0;
  bool complete = false;  // its end (or the source's error) arrived
};

// One FetchFiles call for a batch of files: resume, receive, then stage or
// make durable and install.
class BatchFetch {
 public:
  BatchFetch(const UserSyncContext& ctx, const std::string& user, DirCache* dirs,
             const std::vector<const ManifestEntry*>& files, std::vector<StagedFile>* staged)
      : ctx_(ctx),
        user_(user),
        dirs_(dirs),
        staged_(staged),
        pending_(files.size()),
        per_file_(staged == nullptr && (ctx.options.durability == Durability::kPerFile ||
                                        (ctx.options.durability == Durability::kAuto &&
                                         files.size() < kAutoSyncfsMinFiles))) {
    for (size_t i = 0; i < files.size(); ++i) pending_[i].want = files[i];
  }

  // Installs what arrived intact, or with `staged` hands it over there.
  // `*changed_at_source` is set when the source reported a file changed.
  absl::Status Run(bool* changed_at_source) {
    std::vector<v1::FileWant> wants(pending_.size());
    if (absl::Status s = ResumeAll(&wants); !s.ok()) {
      Discard(/*keep_partial=*/true);
      return s;
    }
    ctx_.counters->fetch_calls++;
    std::unique_ptr<FileStream> stream =
        ctx_.source->FetchFiles(user_, wants, ctx_.options.chunk_bytes, ctx_.cancelled);
    absl::Status status = Receive(stream.get(), changed_at_source);
    if (!status.ok()) stream->Cancel();
    absl::Status rpc = stream->Finish();
    if (status.ok()) status = rpc;
    if (!status.ok()) {
      Discard(KeepsPartialFiles(status));
      return status;
    }
    return staged_ != nullptr ? Stage() : Install();
  }

 private:
  // What to ask for: every file, from where its part file ends.
  absl::Status ResumeAll(std::vector<v1::FileWant>* wants) {
    for (size_t i = 0; i < pending_.size(); ++i) {
      SK_RETURN_IF_ERROR(ResumePartial(&pending_[i]));
      v1::FileWant& w = (*wants)[i];
      w.set_path(pending_[i].want->path());
      w.set_expected_hash(pending_[i].want->hash());
      w.set_offset(pending_[i].written);
    }
    return absl::OkStatus();
  }

  // Picks up what an interrupted fetch of `p->want` left (its part file):
  // its bytes are hashed again here and the fetch asks only for the rest.
  // A part file that cannot be resumed (empty, not shorter than the file,
  // not a regular file) is removed and the file fetched whole.
  absl::Status ResumePartial(PendingFile* p) {
    auto [dir, base] = SplitDirBase(p->want->path());
    (void)base;
    SK_ASSIGN_OR_RETURN(const int dirfd, dirs_->Get(dir));
    const std::string part = PartName(*p->want);
    struct stat st;
    if (fstatat(dirfd, part.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) return absl::OkStatus();
    const uint64_t have = static_cast<uint64_t>(st.st_size);
    absl::StatusOr<Fd> file = absl::NotFoundError("not resumable");
    if (S_ISREG(st.st_mode) && have > 0 && have < p->want->size()) {
      file = ctx_.fs->OpenForAppend(dirfd, part);
    }
    auto hasher = std::make_unique<ContentHasher>();
    uint64_t read = 0;
    if (file.ok()) {
      std::string buffer(std::min<uint64_t>(have, 1 << 20), '\0');
      while (read < have) {
        ssize_t n = pread(file->get(), buffer.data(),
                          std::min<uint64_t>(buffer.size(), have - read), static_cast<off_t>(read));
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) break;
        hasher->Update(buffer.data(), static_cast<size_t>(n));
        read += static_cast<uint64_t>(n);
      }
    }
    if (!file.ok() || read != have) {
      (void)ctx_.fs->Unlink(dirfd, part);
      return absl::OkStatus();
    }
    p->dirfd = dirfd;
    p->temp = part;
    p->file = *std::move(file);
    p->hasher = std::move(hasher);
    p->written = have;
    ctx_.counters->bytes_resumed += have;
    return absl::OkStatus();
  }

  // Every chunk of the stream (checked by the FileStream) until its end.
  absl::Status Receive(FileStream* stream, bool* changed_at_source) {
    v1::FileChunk chunk;
    for (;;) {
      SK_ASSIGN_OR_RETURN(const bool more, stream->Read(&chunk));
      if (!more) return absl::OkStatus();
      SK_RETURN_IF_ERROR(Take(chunk, changed_at_source));
    }
  }

  // One chunk: the source's "changed" verdict, or data for a part file.
  absl::Status Take(const v1::FileChunk& chunk, bool* changed_at_source) {
    PendingFile& p = pending_[chunk.file_index()];
    if (!chunk.error().empty()) {
      LogWarning(
          "sync",
          absl::StrCat(
              "user ", user_, ": ", p.want->path(), " not copied: ",
              absl::CHexEscape(absl::string_view(chunk.error()).substr(0, kMaxSourceTextBytes))));
      ctx_.counters->files_changed_at_source++;
      *changed_at_source = true;
      if (p.file.valid()) {
        (void)ctx_.fs->Unlink(p.dirfd, p.temp);
        p.file = Fd();
      }
      p.complete = true;  // nothing to install
      p.temp.clear();
      return absl::OkStatus();
    }
    const std::string& data = chunk.data();
    // A source may claim a tiny file and stream without end: the file is
    // given up at the first byte past its declared size, before anything
    // of that chunk is written (a full disk from a 10-byte entry otherwise).
    // This bounds what one file costs, not what a source may send in all:
    // the manifest's sizes do that, checked against free space nowhere.
    if (data.size() > p.want->size() - p.written) {
      ctx_.counters->files_failed_verify++;
      p.complete = true;
      return absl::DataLossError(absl::StrCat(
          "user ", user_, ": ", p.want->path(), ": the source sent more than its declared size of ",
          p.want->size(), " bytes (", p.written + data.size(), " by now); file abandoned"));
    }
    if (!p.file.valid()) SK_RETURN_IF_ERROR(OpenPart(&p));
    if (ctx_.bucket != nullptr) ctx_.bucket->Acquire(data.size());
    if (absl::Status s = ctx_.fs->Write(p.file.get(), data.data(), data.size()); !s.ok()) {
      return absl::Status(s.code(), absl::StrCat("writing ", p.want->path(), ": ", s.message()));
    }
    p.hasher->Update(data.data(), data.size());
    p.written += data.size();
    ctx_.counters->bytes_received += data.size();
    if (chunk.eof()) return EndFile(&p);
    return absl::OkStatus();
  }

  // Creates the part file of a file whose first bytes arrive.
  absl::Status OpenPart(PendingFile* p) {
    auto [dir, base] = SplitDirBase(p->want->path());
    (void)base;
    SK_ASSIGN_OR_RETURN(p->dirfd, dirs_->Get(dir));
    p->temp = PartName(*p->want);
    SK_ASSIGN_OR_RETURN(p->file, ctx_.fs->CreateFile(p->dirfd, p->temp, 0600));
    p->hasher = std::make_unique<ContentHasher>();
    return absl::OkStatus();
  }

  // A file's last chunk arrived: its content must be the manifest's.
  absl::Status EndFile(PendingFile* p) {
    p->complete = true;
    const std::string got = p->hasher->Finish();
    if (p->written != p->want->size() || got != p->want->hash()) {
      ctx_.counters->files_failed_verify++;
      return absl::DataLossError(absl::StrCat(
          p->want->path(), ": received content does not match the manifest hash; not installed"));
    }
    if (per_file_) return ctx_.fs->Sync(p->file.get());
    return absl::OkStatus();
  }

  // Hands every received file over to `staged_`, not yet durable.
  absl::Status Stage() {
    std::vector<StagedFile> out;
    for (PendingFile& p : pending_) {
      if (!p.file.valid()) continue;
      absl::StatusOr<StagedFile> f = StageFile(p.dirfd, p.temp, *p.want, &p.file);
      if (!f.ok()) {
        DiscardStaged(ctx_.fs, &out);
        Discard(/*keep_partial=*/false);
        return f.status();
      }
      out.push_back(*std::move(f));
    }
    for (StagedFile& f : out) staged_->push_back(std::move(f));
    return absl::OkStatus();
  }

  // Makes every received file durable (one syncfs unless each was fsynced)
  // and installs it.
  absl::Status Install() {
    if (!per_file_) {
      int any = -1;
      for (PendingFile& p : pending_) {
        if (p.file.valid()) any = p.file.get();
      }
      if (any >= 0) {
        if (absl::Status s = ctx_.fs->SyncFilesystem(any); !s.ok()) {
          Discard(/*keep_partial=*/false);
          return s;
        }
      }
    }
    absl::Status status;
    for (PendingFile& p : pending_) {
      if (!p.file.valid()) continue;
      status.Update(VerifyAndInstall(ctx_, user_, p.dirfd, p.file.get(), p.temp, *p.want));
      p.file = Fd();
    }
    return status;
  }

  // Removes the part files; with `keep_partial` (an interrupted transfer)
  // the incomplete ones stay for the next attempt to resume.
  void Discard(bool keep_partial) {
    for (PendingFile& p : pending_) {
      if (p.file.valid()) {
        if (!keep_partial || p.complete) (void)ctx_.fs->Unlink(p.dirfd, p.temp);
        p.file = Fd();
      }
    }
  }

  const UserSyncContext& ctx_;
  const std::string& user_;
  DirCache* const dirs_;
  std::vector<StagedFile>* const staged_;
  std::vector<PendingFile> pending_;
  const bool per_file_;  // fsync each file as it ends (else one syncfs)
};

// Writes one inline file to a temporary name; then, like a fetched file,
// stages it or makes it durable and installs it.
absl::Status WriteInlineFile(const UserSyncContext& ctx, const std::string& user, DirCache* dirs,
                             const ManifestEntry& want, const std::string& data,
                             std::vector<StagedFile>* staged) {
  auto [dir, base] = SplitDirBase(want.path());
  (void)base;
  SK_ASSIGN_OR_RETURN(const int dirfd, dirs->Get(dir));
  const std::string temp = NewTempName();
  SK_ASSIGN_OR_RETURN(Fd file, ctx.fs->CreateFile(dirfd, temp, 0600));
  if (ctx.bucket != nullptr) ctx.bucket->Acquire(data.size());
  absl::Status s = ctx.fs->Write(file.get(), data.data(), data.size());
  if (s.ok()) {
    ctx.counters->bytes_received += data.size();
    ctx.counters->files_inline++;
  }
  if (s.ok() && staged != nullptr) {
    absl::StatusOr<StagedFile> f = StageFile(dirfd, temp, want, &file);
    if (f.ok()) {
      staged->push_back(*std::move(f));
      return absl::OkStatus();
    }
    s = f.status();
  }
  if (s.ok()) s = ctx.fs->Sync(file.get());
  if (!s.ok()) {
    (void)ctx.fs->Unlink(dirfd, temp);
    return absl::Status(s.code(), absl::StrCat("writing ", want.path(), ": ", s.message()));
  }
  return VerifyAndInstall(ctx, user, dirfd, file.get(), temp, want);
}

// `files` cut into FetchFiles calls of at most batch_files files and
// batch_bytes bytes (a larger file alone).
std::vector<std::vector<const ManifestEntry*>> SplitIntoBatches(
    const SyncOptions& options, const std::vector<const ManifestEntry*>& files) {
  std::vector<std::vector<const ManifestEntry*>> batches;
  std::vector<const ManifestEntry*> current;
  uint64_t bytes = 0;
  for (const ManifestEntry* e : files) {
    if (!current.empty() &&
        (current.size() >= options.batch_files || bytes + e->size() > options.batch_bytes)) {
      batches.push_back(std::move(current));
      current.clear();
      bytes = 0;
    }
    current.push_back(e);
    bytes += e->size();
  }
  if (!current.empty()) batches.push_back(std::move(current));
  return batches;
}

}  // namespace

std::string PartPath(const ManifestEntry& want) {
  auto [dir, base] = SplitDirBase(want.path());
  (void)base;
  return dir.empty() ? PartName(want) : absl::StrCat(dir, "/", PartName(want));
}

std::vector<StagedFile>* StagingFor(const UserSyncContext& ctx, size_t fetches,
                                    std::vector<StagedFile>* staged) {
  const bool stage = staged != nullptr && ctx.options.stage_small_fetches &&
                     ctx.options.durability == Durability::kAuto && fetches < kAutoSyncfsMinFiles;
  return stage ? staged : nullptr;
}

absl::StatusOr<std::vector<const ManifestEntry*>> WriteInlineFiles(
    const UserSyncContext& ctx, const std::string& user, DirCache* dirs,
    const std::vector<ManifestEntry>& fetches,
    const std::map<std::string, std::string>* inline_data, std::vector<StagedFile>* staged) {
  static const auto* const kNone = new std::map<std::string, std::string>();
  const std::map<std::string, std::string>& inlined =
      inline_data != nullptr ? *inline_data : *kNone;
  std::vector<const ManifestEntry*> to_fetch;
  for (const ManifestEntry& e : fetches) {
    auto it = inlined.find(e.path());
    if (it == inlined.end()) {
      to_fetch.push_back(&e);
      continue;
    }
    ContentHasher hasher;
    hasher.Update(it->second.data(), it->second.size());
    if (it->second.size() != e.size() || hasher.Finish() != e.hash()) {
      LogWarning("sync", absl::StrCat("user ", user, ": ", e.path(),
                                      ": inline content does not match its manifest entry; "
                                      "fetching it"));
      to_fetch.push_back(&e);
      continue;
    }
    SK_RETURN_IF_ERROR(WriteInlineFile(ctx, user, dirs, e, it->second, staged));
  }
  return to_fetch;
}

FetchOutcome FetchInBatches(const UserSyncContext& ctx, const std::string& user, DirCache* dirs,
                            const std::vector<const ManifestEntry*>& files,
                            std::vector<StagedFile>* staged) {
  const std::vector<std::vector<const ManifestEntry*>> batches =
      SplitIntoBatches(ctx.options, files);
  absl::Mutex mu;
  FetchOutcome outcome;  // guarded by mu, as is `*staged`
  std::atomic<size_t> next{0};
  std::atomic<bool> failed{false};
  auto worker = [&]() {
    for (;;) {
      size_t i = next.fetch_add(1);
      if (i >= batches.size() || failed.load()) return;
      bool batch_changed = false;
      std::vector<StagedFile> batch_staged;
      absl::Status s =
          BatchFetch(ctx, user, dirs, batches[i], staged != nullptr ? &batch_staged : nullptr)
              .Run(&batch_changed);
      absl::MutexLock lock(&mu);
      outcome.changed_at_source |= batch_changed;
      for (StagedFile& f : batch_staged) staged->push_back(std::move(f));
      if (!s.ok()) {
        // Another file's verification failure does not stop the batches;
        // anything else (disk full, cancelled, network) does.
        if (!absl::IsDataLoss(s)) failed = true;
        if (outcome.status.ok()) outcome.status = s;
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
  return outcome;
}

}  // namespace slotkeeper::sync
