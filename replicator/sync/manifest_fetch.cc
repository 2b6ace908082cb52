#include "replicator/sync/manifest_fetch.h"

#include <algorithm>
#include <set>
#include <utility>

#include "absl/strings/str_cat.h"
#include "base/grpc_util.h"
#include "base/log.h"
#include "replicator/sync/paths.h"

namespace slotkeeper::sync {
namespace {

// Builds one user's answer from its chunks.
class DeltaAssembler {
 public:
  explicit DeltaAssembler(const DeltaRequest& request) : request_(request) {}

  void Add(v1::ManifestChunk* chunk) {
    if (!chunk->delta() || !chunk->refused().empty()) doubtful_ = true;
    if (last_) doubtful_ = true;  // nothing may follow the last chunk
    for (ManifestEntry& e : *chunk->mutable_entries()) {
      if (!ValidateRelativePath(e.path()).ok() || e.directory() || e.hash().size() != kHashBytes) {
        doubtful_ = true;
      }
      out_.entries.push_back(std::move(e));
    }
    for (std::string& path : *chunk->mutable_removed()) {
      if (!ValidateRelativePath(path).ok()) doubtful_ = true;
      out_.removed.push_back(std::move(path));
    }
    for (v1::InlineFile& f : *chunk->mutable_inline_files()) {
      inline_bytes_ += f.data().size();
      // More than asked for, or a path named twice: not a source to trust.
      if (inline_bytes_ > request_.inline_max_total_bytes ||
          f.data().size() > request_.inline_max_file_bytes ||
          !out_.inline_data.emplace(f.path(), std::move(*f.mutable_data())).second) {
        doubtful_ = true;
      }
    }
    if (chunk->last()) {
      last_ = true;
      out_.generation = chunk->generation();
    }
  }

  bool last() const { return last_; }

  std::optional<SourceDelta> Finish() && {
    if (doubtful_ || !last_) return std::nullopt;
    std::sort(out_.entries.begin(), out_.entries.end(),
              [](const ManifestEntry& a, const ManifestEntry& b) { return a.path() < b.path(); });
    std::sort(out_.removed.begin(), out_.removed.end());
    std::set<std::string> seen;
    for (const ManifestEntry& e : out_.entries) {
      if (!seen.insert(e.path()).second) return std::nullopt;
    }
    for (const std::string& path : out_.removed) {
      if (!seen.insert(path).second) return std::nullopt;
    }
    return std::move(out_);
  }

 private:
  const DeltaRequest& request_;
  SourceDelta out_;
  uint64_t inline_bytes_ = 0;
  bool last_ = false;
  bool doubtful_ = false;
};

}  // namespace

absl::StatusOr<Manifest> FetchManifest(v1::ReplicaPeer::StubInterface* stub,
                                       const std::string& slot, const std::string& user,
                                       uint64_t* generation, uint32_t* user_mode) {
  v1::GetManifestRequest request;
  request.set_slot(slot);
  request.set_user(user);
  grpc::ClientContext call;
  auto reader = stub->GetManifest(&call, request);
  v1::ManifestChunk chunk;
  Manifest out;
  bool last = false;
  absl::Status bad;
  while (reader->Read(&chunk)) {
    for (ManifestEntry& e : *chunk.mutable_entries()) {
      if (absl::Status s = ValidateRelativePath(e.path()); !s.ok()) {
        bad = absl::InvalidArgumentError(
            absl::StrCat("source manifest of ", user, " refused: ", s.message()));
      } else if (!e.directory() && e.hash().size() != kHashBytes) {
        bad = absl::InvalidArgumentError(
            absl::StrCat("source manifest entry ", e.path(), " has no hash"));
      }
      out.push_back(std::move(e));
    }
    if (chunk.last()) {
      last = true;
      if (generation != nullptr) *generation = chunk.generation();
      if (user_mode != nullptr) *user_mode = chunk.user_mode() & 07777;
    }
  }
  absl::Status rpc = FromGrpcStatus(reader->Finish());
  if (!rpc.ok()) {
    return absl::Status(rpc.code(), absl::StrCat("GetManifest ", user, ": ", rpc.message()));
  }
  if (!bad.ok()) return bad;
  if (!last) return absl::DataLossError("manifest stream ended early");
  std::sort(out.begin(), out.end(),
            [](const ManifestEntry& a, const ManifestEntry& b) { return a.path() < b.path(); });
  for (size_t i = 1; i < out.size(); ++i) {
    if (out[i].path() == out[i - 1].path()) {
      return absl::InvalidArgumentError(
          absl::StrCat("source manifest lists ", out[i].path(), " twice"));
    }
  }
  return out;
}

absl::StatusOr<std::optional<SourceDelta>> FetchDelta(v1::ReplicaPeer::StubInterface* stub,
                                                      const DeltaRequest& request,
                                                      const std::string& user,
                                                      const DeltaBase& since,
                                                      const std::atomic<bool>* cancelled) {
  v1::GetManifestRequest req;
  req.set_slot(request.slot);
  req.set_user(user);
  req.set_delta(true);
  req.set_since_generation(since.generation);
  req.set_since_instance_id(since.instance_id);
  req.set_inline_max_file_bytes(request.inline_max_file_bytes);
  req.set_inline_max_total_bytes(request.inline_max_total_bytes);
  grpc::ClientContext call;
  auto reader = stub->GetManifest(&call, req);
  v1::ManifestChunk chunk;
  DeltaAssembler answer(request);
  while (reader->Read(&chunk)) answer.Add(&chunk);
  absl::Status rpc = FromGrpcStatus(reader->Finish());
  if (absl::IsCancelled(rpc) || (cancelled != nullptr && cancelled->load())) {
    return absl::CancelledError("sync cancelled");
  }
  if (!rpc.ok()) {
    if (!absl::IsFailedPrecondition(rpc)) {
      LogWarning("sync", absl::StrCat("user ", user, ": delta manifest failed (", rpc.ToString(),
                              "); full manifest instead"));
    }
    return std::nullopt;
  }
  return std::move(answer).Finish();
}

absl::StatusOr<std::map<std::string, std::optional<SourceDelta>>> FetchDeltas(
    v1::ReplicaPeer::StubInterface* stub, const DeltaRequest& request,
    const std::vector<std::pair<std::string, DeltaBase>>& users) {
  v1::GetManifestsRequest req;
  req.set_slot(request.slot);
  req.set_inline_max_file_bytes(request.inline_max_file_bytes);
  req.set_inline_max_total_bytes(request.inline_max_total_bytes);
  std::map<std::string, DeltaAssembler> answers;
  for (const auto& [user, since] : users) {
    v1::UserSince* u = req.add_users();
    u->set_user(user);
    u->set_since_generation(since.generation);
    u->set_since_instance_id(since.instance_id);
    answers.emplace(user, DeltaAssembler(request));
  }
  grpc::ClientContext call;
  auto reader = stub->GetManifests(&call, req);
  v1::ManifestChunk chunk;
  bool stray = false;
  while (reader->Read(&chunk)) {
    auto it = answers.find(chunk.user());
    if (it == answers.end()) {
      stray = true;  // a user not asked for: the whole answer is suspect
      continue;
    }
    it->second.Add(&chunk);
  }
  absl::Status rpc = FromGrpcStatus(reader->Finish());
  if (!rpc.ok()) return rpc;
  if (stray) return absl::DataLossError("GetManifests answered for a user not asked for");
  std::map<std::string, std::optional<SourceDelta>> out;
  for (auto& [user, answer] : answers) out.emplace(user, std::move(answer).Finish());
  return out;
}

}  // namespace slotkeeper::sync
