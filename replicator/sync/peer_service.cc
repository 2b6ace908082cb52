#include "replicator/sync/peer_service.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <optional>
#include <random>
#include <set>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "base/grpc_util.h"
#include "base/log.h"
#include "base/peer_identity.h"
#include "replicator/sync/change_feed.h"
#include "replicator/sync/file_sender.h"
#include "replicator/sync/slot_layout.h"

namespace slotkeeper::sync {
namespace {

constexpr size_t kManifestChunkEntries = 2000;
// About 200 bytes each: a few hundred MB at most for very large slots.
constexpr size_t kMemoryCacheEntries = 2'000'000;

}  // namespace

std::string NewInstanceId() {
  std::random_device rd;
  uint64_t v = (static_cast<uint64_t>(rd()) << 32) ^ rd();
  return absl::StrFormat("%016x", v);
}

PeerCore::PeerCore(std::map<std::string, std::string> slots, HashCache* cache, Clock* clock,
                   std::string instance_id, absl::Duration full_scan_interval,
                   DeltaLimits delta_limits)
    : slot_paths_(std::move(slots)),
      cache_(cache, kMemoryCacheEntries),
      clock_(clock),
      instance_id_(std::move(instance_id)),
      tracker_(clock, full_scan_interval, absl::Milliseconds(100), delta_limits) {
  for (const auto& [name, path] : slot_paths_) {
    absl::StatusOr<Fd> fd = OpenRootDir(path);
    if (!fd.ok()) {
      LogWarning("sync", absl::StrCat("slot ", name, ": ", fd.status().message()));
      continue;
    }
    slot_roots_.emplace(name, *std::move(fd));
    if (absl::Status s = tracker_.Watch(name, path); !s.ok()) {
      LogWarning("sync",
                 absl::StrCat("slot ", name, ": change tracking by scans only: ", s.message()));
    }
  }
  if (absl::Status s = tracker_.StartEventThread(kFeedCoalesce); !s.ok()) {
    LogWarning("sync", absl::StrCat("no change feed (replicas will poll): ", s.message()));
  }
}

absl::StatusOr<int> PeerCore::SlotRoot(const std::string& slot) const {
  if (slot.empty()) return absl::InvalidArgumentError("slot is empty");
  auto it = slot_roots_.find(slot);
  if (it == slot_roots_.end()) {
    if (slot_paths_.count(slot)) {
      return absl::UnavailableError(absl::StrCat("slot ", slot, " could not be opened"));
    }
    return absl::NotFoundError(absl::StrCat("no slot named \"", slot, "\""));
  }
  return it->second.get();
}

absl::StatusOr<v1::ListUsersResponse> PeerCore::ListUsers(const v1::ListUsersRequest& request) {
  absl::StatusOr<int> root = SlotRoot(request.slot());
  if (!root.ok()) return root.status();
  if (!request.store().empty()) {
    absl::StatusOr<std::string> store = ReadStoreMarker(*root);
    if (!store.ok() || *store != request.store()) {
      return absl::FailedPreconditionError(
          absl::StrCat("slot ", request.slot(), " does not hold store \"", request.store(), "\""));
    }
  }
  absl::StatusOr<std::map<std::string, UserGeneration>> gens =
      tracker_.Refresh(*root, request.slot());
  if (!gens.ok()) return gens.status();
  v1::ListUsersResponse response;
  response.set_slot(request.slot());
  response.set_store(request.store());
  response.set_instance_id(instance_id_);
  response.set_source_time_ms(clock_->NowMs());
  for (const auto& [user, gen] : *gens) {
    v1::UserSummary* summary = response.add_users();
    summary->set_user(user);
    summary->set_generation(gen.generation);
    summary->set_oldest_change_ms(gen.oldest_change_ms);
    if (request.include_digests()) {
      // Deep: every file read from disk again, no remembered hash trusted.
      absl::StatusOr<Manifest> m =
          request.deep()
              ? ScanUser(*root, request.slot(), user, nullptr, nullptr, nullptr, nullptr, true)
              : ScanUser(*root, request.slot(), user, &cache_, nullptr);
      if (!m.ok()) return m.status();
      uint64_t bytes = 0;
      for (const ManifestEntry& e : *m) bytes += e.size();
      summary->set_file_count(m->size());
      summary->set_total_bytes(bytes);
      summary->set_digest(ManifestDigest(*m));
    }
  }
  return response;
}

absl::Status PeerCore::GetManifest(const v1::GetManifestRequest& request,
                                   const std::function<bool(const v1::ManifestChunk&)>& write,
                                   const std::function<bool()>& cancelled) {
  absl::StatusOr<int> root = SlotRoot(request.slot());
  if (!root.ok()) return root.status();
  if (absl::Status s = ValidateUserName(request.user()); !s.ok()) return s;
  if (request.delta()) return GetManifestDelta(request, *root, write);
  absl::StatusOr<UserGeneration> gen = tracker_.RefreshUser(*root, request.slot(), request.user());
  if (!gen.ok()) return gen.status();
  absl::StatusOr<Manifest> manifest =
      ScanUser(*root, request.slot(), request.user(), &cache_, nullptr, nullptr, cancelled);
  if (!manifest.ok()) return manifest.status();
  v1::ManifestChunk chunk;
  for (size_t i = 0; i < manifest->size(); ++i) {
    *chunk.add_entries() = (*manifest)[i];
    if (chunk.entries_size() == static_cast<int>(kManifestChunkEntries) &&
        i + 1 < manifest->size()) {
      if (!write(chunk)) return absl::CancelledError("client went away");
      chunk.Clear();
    }
  }
  chunk.set_last(true);
  chunk.set_digest(ManifestDigest(*manifest));
  chunk.set_generation(gen->generation);
  if (absl::StatusOr<Fd> user_dir = OpenUserDir(*root, request.user(), /*create=*/false);
      user_dir.ok()) {
    struct stat st;
    if (fstat(user_dir->get(), &st) == 0) {
      chunk.set_user_mode(st.st_mode & kPermissionBits);
      chunk.set_user_uid(st.st_uid);
      chunk.set_user_gid(st.st_gid);
    }
  }
  if (!write(chunk)) return absl::CancelledError("client went away");
  tracker_.MarkServed(request.slot(), request.user(), gen->generation);
  return absl::OkStatus();
}

namespace {

// The content of `name` in `dirfd` if it is still served (source_files.h)
// and what `e` describes (same size and mtime before and after the read,
// same hash).
std::optional<std::string> ReadUnchanged(int dirfd, const std::string& name, const ManifestEntry& e,
                                         const ServeScope& scope) {
  struct stat opened;
  absl::StatusOr<Fd> file = OpenServable(dirfd, name, e.path(), scope, &opened);
  if (!file.ok()) return std::nullopt;
  const int fd = file->get();
  std::string data(e.size(), '\0');
  size_t got = 0;
  while (got < data.size()) {
    ssize_t n = pread(fd, data.data() + got, data.size() - got, static_cast<off_t>(got));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return std::nullopt;
    got += static_cast<size_t>(n);
  }
  struct stat st;
  if (fstat(fd, &st) != 0 || static_cast<uint64_t>(st.st_size) != e.size() ||
      MtimeNs(st) != e.mtime_ns()) {
    return std::nullopt;
  }
  ContentHasher hasher;
  hasher.Update(data.data(), data.size());
  if (hasher.Finish() != e.hash()) return std::nullopt;
  return data;
}

// The changed paths of a delta as the source sees them now.
struct DeltaAnswer {
  ServeScope scope;  // which files are served
  Manifest entries;
  std::vector<size_t> fresh;  // entries with new content (not a rename of known content)
  std::vector<std::string> removed;
  std::map<std::string, Fd> dirs;  // directories opened on the way, relative path -> fd
};

// Looks every changed path up below `user_dir`. FAILED_PRECONDITION (no
// delta) when one is not a regular file now.
absl::StatusOr<DeltaAnswer> LookUpChanges(int user_dir, const ServeScope& scope,
                                          const std::string& slot, const std::string& user,
                                          const std::set<std::string>& paths, HashCache* cache) {
  DeltaAnswer answer;
  answer.scope = scope;
  for (const std::string& path : paths) {
    if (!ValidateRelativePath(path).ok()) continue;  // never listed by scans either
    absl::StatusOr<PathLookup> found =
        LookupUserPath(user_dir, slot, user, path, cache, &answer.dirs, &answer.scope);
    if (!found.ok()) return found.status();
    switch (found->kind) {
      case PathLookup::kFile:
        if (found->new_content) answer.fresh.push_back(answer.entries.size());
        answer.entries.push_back(std::move(found->entry));
        break;
      case PathLookup::kAbsent:
        answer.removed.push_back(path);
        break;
      case PathLookup::kSkipped:
        break;
      case PathLookup::kOther:
        return absl::FailedPreconditionError(
            absl::StrCat("no delta for user ", user, ": \"", path, "\" is not a regular file now"));
    }
  }
  return answer;
}

// New content, small enough, goes with the answer (GetManifestRequest says
// how much the replica takes; kMaxInlineTotal and kMaxChunkBytes bound it).
std::vector<v1::InlineFile> PickInlineFiles(const v1::GetManifestRequest& request,
                                            const DeltaAnswer& answer) {
  std::vector<v1::InlineFile> inline_files;
  uint64_t inline_budget = std::min<uint64_t>(request.inline_max_total_bytes(), kMaxInlineTotal);
  const uint64_t inline_max_file =
      std::min<uint64_t>(request.inline_max_file_bytes(), kMaxChunkBytes);
  for (size_t i : answer.fresh) {
    const ManifestEntry& e = answer.entries[i];
    if (e.size() > inline_max_file || e.size() > inline_budget) continue;
    auto [dir, base] = SplitDirBase(e.path());
    auto d = answer.dirs.find(std::string(dir));
    if (d == answer.dirs.end()) continue;  // looked up through no directory fd: fetched instead
    std::optional<std::string> data =
        ReadUnchanged(d->second.get(), std::string(base), e, answer.scope);
    if (!data) continue;  // changed since: the replica fetches it (and learns it changed)
    inline_budget -= data->size();
    v1::InlineFile& f = inline_files.emplace_back();
    f.set_path(e.path());
    f.set_data(*std::move(data));
  }
  return inline_files;
}

// Writes a delta answer in chunks of at most kManifestChunkEntries items
// and about kMaxChunkBytes of inline data: the inline files, the entries,
// the removed paths; the last chunk carries the generation. False when the
// client went away.
bool WriteDeltaChunks(std::vector<v1::InlineFile> inline_files, DeltaAnswer answer,
                      uint64_t generation,
                      const std::function<bool(const v1::ManifestChunk&)>& write) {
  v1::ManifestChunk chunk;
  chunk.set_delta(true);
  size_t in_chunk = 0;
  uint64_t chunk_bytes = 0;
  auto flush_if_full = [&]() {
    if (++in_chunk < kManifestChunkEntries && chunk_bytes < kMaxChunkBytes) return true;
    in_chunk = 0;
    chunk_bytes = 0;
    bool ok = write(chunk);
    chunk.Clear();
    chunk.set_delta(true);
    return ok;
  };
  for (v1::InlineFile& f : inline_files) {
    chunk_bytes += f.data().size();
    *chunk.add_inline_files() = std::move(f);
    if (!flush_if_full()) return false;
  }
  for (ManifestEntry& e : answer.entries) {
    *chunk.add_entries() = std::move(e);
    if (!flush_if_full()) return false;
  }
  for (std::string& path : answer.removed) {
    chunk.add_removed(std::move(path));
    if (!flush_if_full()) return false;
  }
  chunk.set_last(true);
  chunk.set_generation(generation);
  return write(chunk);
}

// Opens a wanted file below the user directory, O_NOFOLLOW at every
// component, if it is served (source_files.h: a regular file, opened
// without blocking, of the slot, not a foreign hard link), and stats it;
// the error's message is the FileChunk.error text.
absl::StatusOr<Fd> OpenWanted(int user_dir, const ServeScope& scope, const std::string& path,
                              struct stat* st) {
  auto [dir, base] = SplitDirBase(path);
  absl::StatusOr<Fd> dirfd = OpenDirBeneath(user_dir, dir, false);
  if (!dirfd.ok()) {
    return absl::NotFoundError(absl::StrCat("cannot open ", path, ": ", dirfd.status().ToString()));
  }
  absl::StatusOr<Fd> file = OpenServable(dirfd->get(), std::string(base), path, scope, st);
  if (!file.ok() && !absl::IsFailedPrecondition(file.status())) {
    return absl::NotFoundError(absl::StrCat("cannot open ", file.status().message()));
  }
  return file;
}

}  // namespace

absl::Status PeerCore::GetManifestDelta(
    const v1::GetManifestRequest& request, int root,
    const std::function<bool(const v1::ManifestChunk&)>& write) {
  if (request.since_instance_id() != instance_id_) {
    return absl::FailedPreconditionError(absl::StrCat("delta since instance \"",
                                                      request.since_instance_id(),
                                                      "\" asked of instance ", instance_id_));
  }
  absl::StatusOr<UserDelta> delta =
      tracker_.ChangedSince(request.slot(), request.user(), request.since_generation());
  if (!delta.ok()) return delta.status();
  absl::StatusOr<Fd> user_dir = OpenUserDir(root, request.user(), /*create=*/false);
  if (!user_dir.ok()) {
    return absl::FailedPreconditionError(
        absl::StrCat("no delta for user ", request.user(), ": ", user_dir.status().message()));
  }
  absl::StatusOr<ServeScope> scope = ServeScopeOf(root, user_dir->get());
  if (!scope.ok()) {
    return absl::FailedPreconditionError(
        absl::StrCat("no delta for user ", request.user(), ": ", scope.status().message()));
  }
  // Everything is looked up before the first chunk goes out, so that a
  // refusal never follows a partial answer.
  absl::StatusOr<DeltaAnswer> answer =
      LookUpChanges(user_dir->get(), *scope, request.slot(), request.user(), delta->paths, &cache_);
  if (!answer.ok()) return answer.status();
  std::vector<v1::InlineFile> inline_files = PickInlineFiles(request, *answer);
  const std::vector<std::string> removed_paths = answer->removed;
  if (!WriteDeltaChunks(std::move(inline_files), std::move(*answer), delta->generation, write)) {
    return absl::CancelledError("client went away");
  }
  tracker_.MarkServed(request.slot(), request.user(), delta->generation);
  // Paths gone: their hash-cache entries can only go stale (a renamed
  // file's content stays known under its new name). After the answer, in
  // one write.
  std::vector<std::string> gone;
  gone.reserve(removed_paths.size());
  for (const std::string& path : removed_paths) {
    gone.push_back(HashCacheKey(request.slot(), request.user(), path));
  }
  cache_.Update({}, gone);
  return absl::OkStatus();
}

absl::Status PeerCore::GetManifests(const v1::GetManifestsRequest& request,
                                    const std::function<bool(const v1::ManifestChunk&)>& write) {
  absl::StatusOr<int> root = SlotRoot(request.slot());
  if (!root.ok()) return root.status();
  if (request.users_size() > kMaxUsersPerManifestsCall) {
    return absl::InvalidArgumentError(absl::StrCat("GetManifests: ", request.users_size(),
                                                   " users, at most ", kMaxUsersPerManifestsCall,
                                                   " per call"));
  }
  std::set<std::string> seen;
  for (const v1::UserSince& u : request.users()) {
    if (absl::Status s = ValidateUserName(u.user()); !s.ok()) return s;
    if (!seen.insert(u.user()).second) {
      return absl::InvalidArgumentError(
          absl::StrCat("GetManifests: user ", u.user(), " asked twice"));
    }
  }
  for (const v1::UserSince& u : request.users()) {
    v1::GetManifestRequest one;
    one.set_slot(request.slot());
    one.set_user(u.user());
    one.set_delta(true);
    one.set_since_generation(u.since_generation());
    one.set_since_instance_id(u.since_instance_id());
    one.set_inline_max_file_bytes(request.inline_max_file_bytes());
    one.set_inline_max_total_bytes(request.inline_max_total_bytes());
    v1::ManifestChunk tagged;
    absl::Status s = GetManifestDelta(one, *root, [&](const v1::ManifestChunk& c) {
      tagged = c;
      tagged.set_user(u.user());
      return write(tagged);
    });
    if (absl::IsFailedPrecondition(s)) {
      // Nothing of this user's answer was written (GetManifestDelta refuses
      // before its first chunk).
      v1::ManifestChunk refusal;
      refusal.set_user(u.user());
      refusal.set_delta(true);
      refusal.set_last(true);
      refusal.set_refused(std::string(s.message()));
      if (!write(refusal)) return absl::CancelledError("client went away");
      continue;
    }
    if (!s.ok()) return s;
  }
  return absl::OkStatus();
}

absl::Status PeerCore::FetchFiles(const v1::FetchFilesRequest& request,
                                  const std::function<bool(const v1::FileChunk&)>& write) {
  absl::StatusOr<int> root = SlotRoot(request.slot());
  if (!root.ok()) return root.status();
  if (absl::Status s = ValidateUserName(request.user()); !s.ok()) return s;
  for (const v1::FileWant& want : request.files()) {
    if (absl::Status s = ValidateRelativePath(want.path()); !s.ok()) return s;
  }
  const size_t chunk_bytes = request.chunk_bytes() == 0
                                 ? kDefaultChunkBytes
                                 : std::min<uint32_t>(request.chunk_bytes(), kMaxChunkBytes);
  const absl::StatusOr<Fd> user_dir = OpenUserDir(*root, request.user(), /*create=*/false);
  const absl::StatusOr<ServeScope> scope = user_dir.ok()
                                               ? ServeScopeOf(*root, user_dir->get())
                                               : absl::StatusOr<ServeScope>(user_dir.status());
  std::string buffer(chunk_bytes, '\0');
  for (int index = 0; index < request.files_size(); ++index) {
    const v1::FileWant& want = request.files(index);
    if (!scope.ok()) {
      if (!SendError(index, scope.status().message(), write)) break;
      continue;
    }
    struct stat st;
    absl::StatusOr<Fd> file = OpenWanted(user_dir->get(), *scope, want.path(), &st);
    if (!file.ok()) {
      if (!SendError(index, file.status().message(), write)) break;
      continue;
    }
    if (!SendFile(file->get(), st, want, index, &buffer, write)) break;
  }
  return absl::OkStatus();
}

grpc::Status ReplicaPeerService::Authorize(const grpc::ServerContext& context,
                                           const std::string& slot) const {
  if (authorizer_ == nullptr) return grpc::Status::OK;
  return ToGrpcStatus(authorizer_->Check(PeerIdentity(context), slot));
}

grpc::Status ReplicaPeerService::ListUsers(grpc::ServerContext* context,
                                           const v1::ListUsersRequest* request,
                                           v1::ListUsersResponse* response) {
  if (grpc::Status denied = Authorize(*context, request->slot()); !denied.ok()) return denied;
  absl::StatusOr<v1::ListUsersResponse> r = core_->ListUsers(*request);
  if (!r.ok()) return ToGrpcStatus(r.status());
  *response = *std::move(r);
  return grpc::Status::OK;
}

// The client's deadline, its cancellation and the server's shutdown all
// cancel the call: the scan then stops instead of holding the handler.
grpc::Status ReplicaPeerService::GetManifest(grpc::ServerContext* context,
                                             const v1::GetManifestRequest* request,
                                             grpc::ServerWriter<v1::ManifestChunk>* writer) {
  if (grpc::Status denied = Authorize(*context, request->slot()); !denied.ok()) return denied;
  return ToGrpcStatus(core_->GetManifest(
      *request, [writer](const v1::ManifestChunk& c) { return writer->Write(c); },
      [context] { return context->IsCancelled(); }));
}

grpc::Status ReplicaPeerService::GetManifests(grpc::ServerContext* context,
                                              const v1::GetManifestsRequest* request,
                                              grpc::ServerWriter<v1::ManifestChunk>* writer) {
  if (grpc::Status denied = Authorize(*context, request->slot()); !denied.ok()) return denied;
  return ToGrpcStatus(core_->GetManifests(
      *request, [writer](const v1::ManifestChunk& c) { return writer->Write(c); }));
}

grpc::Status ReplicaPeerService::FetchFiles(grpc::ServerContext* context,
                                            const v1::FetchFilesRequest* request,
                                            grpc::ServerWriter<v1::FileChunk>* writer) {
  if (grpc::Status denied = Authorize(*context, request->slot()); !denied.ok()) return denied;
  return ToGrpcStatus(
      core_->FetchFiles(*request, [writer](const v1::FileChunk& c) { return writer->Write(c); }));
}

namespace {

grpc::Status NoSafety() {
  return grpc::Status(grpc::StatusCode::UNIMPLEMENTED, "data-safety calls not served here");
}

// A unary call answered by `call` into `*response`.
template <typename Response>
grpc::Status Answer(absl::StatusOr<Response> answer, Response* response) {
  if (!answer.ok()) return ToGrpcStatus(answer.status());
  *response = *std::move(answer);
  return grpc::Status::OK;
}

}  // namespace

grpc::Status ReplicaPeerService::ListQuarantine(grpc::ServerContext* context,
                                                const v1::ListQuarantineRequest* request,
                                                v1::ListQuarantineResponse* response) {
  if (grpc::Status denied = Authorize(*context, request->slot()); !denied.ok()) return denied;
  if (safety_ == nullptr) return NoSafety();
  return Answer(safety_->ListQuarantine(*request), response);
}

grpc::Status ReplicaPeerService::FetchQuarantined(grpc::ServerContext* context,
                                                  const v1::FetchQuarantinedRequest* request,
                                                  grpc::ServerWriter<v1::FileChunk>* writer) {
  if (grpc::Status denied = Authorize(*context, request->slot()); !denied.ok()) return denied;
  if (safety_ == nullptr) return NoSafety();
  return ToGrpcStatus(safety_->FetchQuarantined(
      *request, [writer](const v1::FileChunk& c) { return writer->Write(c); }));
}

grpc::Status ReplicaPeerService::ListDeleted(grpc::ServerContext* context,
                                             const v1::ListDeletedRequest* request,
                                             v1::ListDeletedResponse* response) {
  if (grpc::Status denied = Authorize(*context, request->slot()); !denied.ok()) return denied;
  if (safety_ == nullptr) return NoSafety();
  return Answer(safety_->ListDeleted(*request), response);
}

grpc::Status ReplicaPeerService::ListStranded(grpc::ServerContext* context,
                                              const v1::ListStrandedRequest* request,
                                              v1::ListStrandedResponse* response) {
  if (grpc::Status denied = Authorize(*context, request->slot()); !denied.ok()) return denied;
  if (safety_ == nullptr) return NoSafety();
  return Answer(safety_->ListStranded(*request), response);
}

// The client's cancellation and the server's shutdown end the feed within
// its cancellation poll.
grpc::Status ReplicaPeerService::WatchChanges(grpc::ServerContext* context,
                                              const v1::WatchChangesRequest* request,
                                              grpc::ServerWriter<v1::ChangeNotice>* writer) {
  if (grpc::Status denied = Authorize(*context, request->slot()); !denied.ok()) return denied;
  return ToGrpcStatus(ServeChangeFeed(
      core_, *request, [writer](const v1::ChangeNotice& n) { return writer->Write(n); },
      [context] { return context->IsCancelled(); }));
}

}  // namespace slotkeeper::sync
