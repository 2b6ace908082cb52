#include "replicator/sync/peer_client.h"

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
  explicit DeltaAssembler(const InlineLimits& limits) : limits_(limits) {}

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
      if (inline_bytes_ > limits_.max_total_bytes || f.data().size() > limits_.max_file_bytes ||
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
  const InlineLimits& limits_;
  SourceDelta out_;
  uint64_t inline_bytes_ = 0;
  bool last_ = false;
  bool doubtful_ = false;
};

}  // namespace

FileStream::FileStream(std::unique_ptr<grpc::ClientContext> call, std::vector<Want> wants,
                       const std::atomic<bool>* cancelled)
    : call_(std::move(call)), wants_(std::move(wants)), cancelled_(cancelled) {}

FileStream::~FileStream() {
  if (reader_ != nullptr) {
    call_->TryCancel();
    (void)reader_->Finish();
  }
}

absl::StatusOr<bool> FileStream::Read(v1::FileChunk* chunk) {
  if (!reader_->Read(chunk)) return false;
  if (cancelled_ != nullptr && cancelled_->load()) return absl::CancelledError("sync cancelled");
  if (chunk->file_index() >= wants_.size()) {
    return absl::DataLossError(absl::StrCat("source sent chunk for file index ",
                                            chunk->file_index(), " of ", wants_.size()));
  }
  Want& want = wants_[chunk->file_index()];
  if (want.ended) return absl::DataLossError("source sent data after end of file");
  if (!chunk->error().empty()) {
    want.ended = true;
    return true;
  }
  if (chunk->offset() != want.offset) {
    return absl::DataLossError(
        absl::StrCat(want.path, ": chunk at offset ", chunk->offset(), ", expected ", want.offset));
  }
  want.offset += chunk->data().size();
  want.ended = chunk->eof();
  return true;
}

void FileStream::Cancel() { call_->TryCancel(); }

absl::Status FileStream::Finish() {
  absl::Status rpc = FromGrpcStatus(reader_->Finish());
  reader_.reset();
  if (!rpc.ok()) return absl::Status(rpc.code(), absl::StrCat("FetchFiles: ", rpc.message()));
  for (const Want& want : wants_) {
    if (!want.ended) {
      return absl::DataLossError(absl::StrCat(want.path, ": stream ended before end of file"));
    }
  }
  return absl::OkStatus();
}

PeerClient::PeerClient(v1::ReplicaPeer::StubInterface* stub, std::string source_slot)
    : stub_(stub), source_slot_(std::move(source_slot)) {}

std::unique_ptr<grpc::ClientContext> PeerClient::NewCall() const {
  return std::make_unique<grpc::ClientContext>();
}

absl::StatusOr<v1::ListUsersResponse> PeerClient::ListUsers(const std::string& store) const {
  v1::ListUsersRequest request;
  request.set_slot(source_slot_);
  request.set_store(store);
  v1::ListUsersResponse listed;
  std::unique_ptr<grpc::ClientContext> call = NewCall();
  absl::Status s = FromGrpcStatus(stub_->ListUsers(call.get(), request, &listed));
  if (!s.ok()) {
    return absl::Status(s.code(),
                        absl::StrCat("ListUsers on source slot ", source_slot_, ": ", s.message()));
  }
  return listed;
}

absl::StatusOr<Manifest> PeerClient::GetManifest(const std::string& user, uint64_t* generation,
                                                 uint32_t* user_mode) const {
  v1::GetManifestRequest request;
  request.set_slot(source_slot_);
  request.set_user(user);
  std::unique_ptr<grpc::ClientContext> call = NewCall();
  auto reader = stub_->GetManifest(call.get(), request);
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

absl::StatusOr<std::optional<SourceDelta>> PeerClient::GetDelta(
    const std::string& user, const DeltaBase& since, const InlineLimits& inline_limits,
    const std::atomic<bool>* cancelled) const {
  v1::GetManifestRequest req;
  req.set_slot(source_slot_);
  req.set_user(user);
  req.set_delta(true);
  req.set_since_generation(since.generation);
  req.set_since_instance_id(since.instance_id);
  req.set_inline_max_file_bytes(inline_limits.max_file_bytes);
  req.set_inline_max_total_bytes(inline_limits.max_total_bytes);
  std::unique_ptr<grpc::ClientContext> call = NewCall();
  auto reader = stub_->GetManifest(call.get(), req);
  v1::ManifestChunk chunk;
  DeltaAssembler answer(inline_limits);
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

absl::StatusOr<std::map<std::string, std::optional<SourceDelta>>> PeerClient::GetDeltas(
    const std::vector<std::pair<std::string, DeltaBase>>& users,
    const InlineLimits& inline_limits) const {
  v1::GetManifestsRequest req;
  req.set_slot(source_slot_);
  req.set_inline_max_file_bytes(inline_limits.max_file_bytes);
  req.set_inline_max_total_bytes(inline_limits.max_total_bytes);
  std::map<std::string, DeltaAssembler> answers;
  for (const auto& [user, since] : users) {
    v1::UserSince* u = req.add_users();
    u->set_user(user);
    u->set_since_generation(since.generation);
    u->set_since_instance_id(since.instance_id);
    answers.emplace(user, DeltaAssembler(inline_limits));
  }
  std::unique_ptr<grpc::ClientContext> call = NewCall();
  auto reader = stub_->GetManifests(call.get(), req);
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

std::unique_ptr<FileStream> PeerClient::FetchFiles(const std::string& user,
                                                   const std::vector<v1::FileWant>& files,
                                                   uint32_t chunk_bytes,
                                                   const std::atomic<bool>* cancelled) const {
  v1::FetchFilesRequest request;
  request.set_slot(source_slot_);
  request.set_user(user);
  request.set_chunk_bytes(chunk_bytes);
  std::vector<FileStream::Want> wants;
  wants.reserve(files.size());
  for (const v1::FileWant& f : files) {
    *request.add_files() = f;
    wants.push_back(FileStream::Want{f.path(), f.offset(), false});
  }
  std::unique_ptr<FileStream> stream(new FileStream(NewCall(), std::move(wants), cancelled));
  stream->reader_ = stub_->FetchFiles(stream->call_.get(), request);
  return stream;
}

}  // namespace slotkeeper::sync
