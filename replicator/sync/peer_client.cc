#include "replicator/sync/peer_client.h"

#include <grpc/support/time.h>

#include <algorithm>
#include <set>
#include <tuple>
#include <utility>

#include "absl/strings/str_cat.h"
#include "base/grpc_util.h"
#include "base/log.h"
#include "replicator/sync/call_queue.h"
#include "replicator/sync/paths.h"
#include "replicator/sync/source_answers.h"

namespace slotkeeper::sync {

namespace {

// The tag of every operation (one is in flight at a time per queue).
void* const kTag = reinterpret_cast<void*>(1);

absl::Status CancelledStatus() { return absl::CancelledError("sync cancelled"); }

// `status` of the call `what`, named; a deadline says which.
absl::Status Named(const absl::Status& status, const std::string& what, absl::Duration deadline) {
  if (status.ok()) return status;
  if (absl::IsDeadlineExceeded(status)) {
    return absl::DeadlineExceededError(
        absl::StrCat(what, ": no complete answer within ", absl::FormatDuration(deadline)));
  }
  return absl::Status(status.code(), absl::StrCat(what, ": ", status.message()));
}

// Builds one user's answer from its chunks. Beyond PeerLimits'
// max_manifest_entries it keeps nothing more: the answer is no delta.
class DeltaAssembler {
 public:
  DeltaAssembler(const InlineLimits& limits, const PeerLimits& peer_limits)
      : limits_(limits), peer_limits_(peer_limits) {}

  // False once the answer is too large to keep reading.
  bool Add(v1::ManifestChunk* chunk) {
    if (!chunk->delta() || !chunk->refused().empty()) doubtful_ = true;
    if (last_) doubtful_ = true;  // nothing may follow the last chunk
    const size_t items = out_.entries.size() + out_.removed.size() +
                         static_cast<size_t>(chunk->entries_size() + chunk->removed_size());
    if (items > peer_limits_.max_manifest_entries) {
      doubtful_ = true;
      out_ = SourceDelta();
      return false;
    }
    for (ManifestEntry& e : *chunk->mutable_entries()) {
      if (!CheckSourceEntry(&e).ok() || e.directory()) doubtful_ = true;
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
    return true;
  }

  bool last() const { return last_; }
  uint64_t inline_bytes() const { return inline_bytes_; }

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
  const PeerLimits& peer_limits_;
  SourceDelta out_;
  uint64_t inline_bytes_ = 0;
  bool last_ = false;
  bool doubtful_ = false;
};

}  // namespace

FileStream::FileStream(std::unique_ptr<grpc::ClientContext> call, std::vector<Want> wants,
                       const std::atomic<bool>* cancelled,
                       const std::atomic<bool>* client_cancelled, absl::Duration stall,
                       std::string what)
    : call_(std::move(call)),
      queue_(std::make_unique<CallQueue>(call_.get(), cancelled, client_cancelled)),
      wants_(std::move(wants)),
      stall_(stall),
      what_(std::move(what)) {}

FileStream::~FileStream() {
  if (finished_) return;
  bool ok;
  if (!started_) queue_->AwaitAfterCancel(&ok);
  grpc::Status ignored;
  reader_->Finish(&ignored, kTag);
  queue_->AwaitAfterCancel(&ok);
}

absl::Status FileStream::Await(bool* ok) {
  switch (queue_->Await(stall_, ok)) {
    case CallQueue::Wait::kDone:
      return absl::OkStatus();
    case CallQueue::Wait::kCancelled:
      return CancelledStatus();
    case CallQueue::Wait::kTimedOut:
      break;
  }
  stalled_ = absl::DeadlineExceededError(absl::StrCat(
      what_, ": no data for ", absl::FormatDuration(stall_), " (source stalled); call cancelled"));
  return stalled_;
}

absl::StatusOr<bool> FileStream::Read(v1::FileChunk* chunk) {
  bool ok = false;
  if (!started_) {
    absl::Status s = Await(&ok);
    started_ = true;
    if (!s.ok()) return s;
    if (!ok) return false;  // the call failed to start: Finish says why
  }
  reader_->Read(chunk, kTag);
  if (absl::Status s = Await(&ok); !s.ok()) return s;
  if (!ok) return false;
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
  if (finished_) return absl::FailedPreconditionError(absl::StrCat(what_, ": finished twice"));
  bool ok = false;
  absl::Status waited;
  if (!started_) {
    waited = Await(&ok);
    started_ = true;
  }
  grpc::Status status;
  reader_->Finish(&status, kTag);
  waited.Update(Await(&ok));
  finished_ = true;
  if (!stalled_.ok()) return stalled_;
  if (!waited.ok()) return waited;
  absl::Status rpc = FromGrpcStatus(status);
  if (!rpc.ok()) return absl::Status(rpc.code(), absl::StrCat(what_, ": ", rpc.message()));
  for (const Want& want : wants_) {
    if (!want.ended) {
      return absl::DataLossError(absl::StrCat(want.path, ": stream ended before end of file"));
    }
  }
  return absl::OkStatus();
}

bool SourceUnreachable(const absl::Status& status) {
  return absl::IsUnavailable(status) || absl::IsDeadlineExceeded(status);
}

PeerClient::PeerClient(v1::ReplicaPeer::StubInterface* stub, std::string source_slot,
                       std::string source_address, PeerTimeouts timeouts,
                       const std::atomic<bool>* cancelled, PeerLimits limits)
    : stub_(stub),
      source_slot_(std::move(source_slot)),
      source_name_(source_address.empty()
                       ? absl::StrCat("source slot ", source_slot_)
                       : absl::StrCat("source slot ", source_slot_, " at ", source_address)),
      timeouts_(timeouts),
      cancelled_(cancelled),
      limits_(limits) {}

std::unique_ptr<grpc::ClientContext> PeerClient::NewCall(absl::Duration deadline) const {
  auto call = std::make_unique<grpc::ClientContext>();
  if (deadline != absl::InfiniteDuration()) call->set_deadline(CallQueue::FromNow(deadline));
  return call;
}

absl::Status PeerClient::ReadManifestStream(
    CallQueue* queue, grpc::ClientAsyncReaderInterface<v1::ManifestChunk>* reader,
    const std::function<absl::Status(v1::ManifestChunk*)>& take) const {
  bool ok = false;
  reader->StartCall(kTag);
  CallQueue::Wait wait = queue->Await(absl::InfiniteDuration(), &ok);
  v1::ManifestChunk chunk;
  absl::Status refused;
  while (wait == CallQueue::Wait::kDone && ok) {
    reader->Read(&chunk, kTag);
    wait = queue->Await(absl::InfiniteDuration(), &ok);
    if (wait == CallQueue::Wait::kDone && ok) {
      refused = take(&chunk);
      if (!refused.ok()) {
        queue->CancelCall();  // nothing more of this answer is read
        break;
      }
    }
  }
  grpc::Status status;
  reader->Finish(&status, kTag);
  const CallQueue::Wait finished = queue->Await(absl::InfiniteDuration(), &ok);
  if (!refused.ok()) return refused;
  if (finished == CallQueue::Wait::kCancelled || wait == CallQueue::Wait::kCancelled) {
    return CancelledStatus();
  }
  return FromGrpcStatus(status);
}

template <typename Request, typename Response, typename Prepare>
absl::StatusOr<Response> PeerClient::Unary(const Request& request, Prepare prepare,
                                           const std::string& what) const {
  Response response;
  std::unique_ptr<grpc::ClientContext> call = NewCall(timeouts_.call);
  CallQueue queue(call.get(), cancelled_, nullptr);
  auto rpc = prepare(call.get(), request, queue.cq());
  rpc->StartCall();
  grpc::Status status;
  rpc->Finish(&response, &status, kTag);
  bool ok = false;
  if (queue.Await(absl::InfiniteDuration(), &ok) == CallQueue::Wait::kCancelled) {
    return CancelledStatus();
  }
  absl::Status s =
      Named(FromGrpcStatus(status), absl::StrCat(what, " on ", source_name_), timeouts_.call);
  if (!s.ok()) return s;
  return response;
}

absl::StatusOr<v1::ListUsersResponse> PeerClient::ListUsers(const std::string& store) const {
  v1::ListUsersRequest request;
  request.set_slot(source_slot_);
  request.set_store(store);
  absl::StatusOr<v1::ListUsersResponse> listed = Unary<v1::ListUsersRequest, v1::ListUsersResponse>(
      request,
      [this](grpc::ClientContext* c, const v1::ListUsersRequest& r, grpc::CompletionQueue* cq) {
        return stub_->PrepareAsyncListUsers(c, r, cq);
      },
      "ListUsers");
  if (!listed.ok()) return listed;
  if (absl::Status s = CheckListing(*listed, limits_); !s.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("ListUsers answer of ", source_name_, " refused: ", s.message()));
  }
  return listed;
}

absl::StatusOr<v1::ListQuarantineResponse> PeerClient::ListQuarantine(const std::string& user,
                                                                      uint32_t limit) const {
  v1::ListQuarantineRequest request;
  request.set_slot(source_slot_);
  request.set_user(user);
  request.set_limit(limit);
  return Unary<v1::ListQuarantineRequest, v1::ListQuarantineResponse>(
      request,
      [this](grpc::ClientContext* c, const v1::ListQuarantineRequest& r,
             grpc::CompletionQueue* cq) { return stub_->PrepareAsyncListQuarantine(c, r, cq); },
      "ListQuarantine");
}

absl::StatusOr<v1::ListDeletedResponse> PeerClient::ListDeleted(const std::string& user) const {
  v1::ListDeletedRequest request;
  request.set_slot(source_slot_);
  request.set_user(user);
  return Unary<v1::ListDeletedRequest, v1::ListDeletedResponse>(
      request,
      [this](grpc::ClientContext* c, const v1::ListDeletedRequest& r, grpc::CompletionQueue* cq) {
        return stub_->PrepareAsyncListDeleted(c, r, cq);
      },
      "ListDeleted");
}

absl::StatusOr<v1::ListStrandedResponse> PeerClient::ListStranded() const {
  v1::ListStrandedRequest request;
  request.set_slot(source_slot_);
  return Unary<v1::ListStrandedRequest, v1::ListStrandedResponse>(
      request,
      [this](grpc::ClientContext* c, const v1::ListStrandedRequest& r, grpc::CompletionQueue* cq) {
        return stub_->PrepareAsyncListStranded(c, r, cq);
      },
      "ListStranded");
}

absl::StatusOr<Manifest> PeerClient::GetManifest(const std::string& user, uint64_t* generation,
                                                 UserDirMetadata* user_dir) const {
  v1::GetManifestRequest request;
  request.set_slot(source_slot_);
  request.set_user(user);
  std::unique_ptr<grpc::ClientContext> call = NewCall(timeouts_.manifest);
  CallQueue queue(call.get(), cancelled_, nullptr);
  auto reader = stub_->PrepareAsyncGetManifest(call.get(), request, queue.cq());
  Manifest out;
  bool last = false;
  absl::Status rpc = ReadManifestStream(&queue, reader.get(), [&](v1::ManifestChunk* chunk) {
    if (out.size() + static_cast<size_t>(chunk->entries_size()) > limits_.max_manifest_entries) {
      return TooManyEntries(user, limits_);
    }
    for (ManifestEntry& e : *chunk->mutable_entries()) {
      if (absl::Status s = CheckSourceEntry(&e); !s.ok()) {
        return absl::InvalidArgumentError(
            absl::StrCat("source manifest of user ", user, " refused: ", s.message()));
      }
      out.push_back(std::move(e));
    }
    if (chunk->last()) {
      last = true;
      if (generation != nullptr) *generation = chunk->generation();
      if (user_dir != nullptr) {
        user_dir->mode = chunk->user_mode() & kPermissionBits;
        user_dir->uid = chunk->user_uid();
        user_dir->gid = chunk->user_gid();
      }
    }
    return absl::OkStatus();
  });
  if (!rpc.ok()) {
    return Named(rpc, absl::StrCat("GetManifest of user ", user, " from ", source_name_),
                 timeouts_.manifest);
  }
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
  std::unique_ptr<grpc::ClientContext> call = NewCall(timeouts_.manifest);
  CallQueue queue(call.get(), cancelled_, cancelled);
  auto reader = stub_->PrepareAsyncGetManifest(call.get(), req, queue.cq());
  DeltaAssembler answer(inline_limits, limits_);
  absl::Status rpc = ReadManifestStream(&queue, reader.get(), [&](v1::ManifestChunk* chunk) {
    return answer.Add(chunk) ? absl::OkStatus() : TooManyEntries(user, limits_);
  });
  if (absl::IsCancelled(rpc) || (cancelled != nullptr && cancelled->load())) {
    return CancelledStatus();
  }
  if (SourceUnreachable(rpc)) {
    return Named(rpc, absl::StrCat("GetManifest (delta) of user ", user, " from ", source_name_),
                 timeouts_.manifest);
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
    answers.emplace(std::piecewise_construct, std::forward_as_tuple(user),
                    std::forward_as_tuple(inline_limits, limits_));
  }
  std::unique_ptr<grpc::ClientContext> call = NewCall(timeouts_.manifest);
  CallQueue queue(call.get(), cancelled_, nullptr);
  auto reader = stub_->PrepareAsyncGetManifests(call.get(), req, queue.cq());
  bool stray = false;
  uint64_t inline_bytes = 0;
  absl::Status rpc = ReadManifestStream(&queue, reader.get(), [&](v1::ManifestChunk* chunk) {
    auto it = answers.find(chunk->user());
    if (it == answers.end()) {
      stray = true;  // a user not asked for: the whole answer is suspect
      return absl::OkStatus();
    }
    const uint64_t before = it->second.inline_bytes();
    if (!it->second.Add(chunk)) return TooManyEntries(chunk->user(), limits_);
    inline_bytes += it->second.inline_bytes() - before;
    if (inline_bytes > limits_.max_inline_bytes_per_call) {
      return absl::InvalidArgumentError(
          absl::StrCat("GetManifests answer refused: more than ", limits_.max_inline_bytes_per_call,
                       " bytes of inline files (the limit, PeerLimits.max_inline_bytes_per_call)"));
    }
    return absl::OkStatus();
  });
  if (!rpc.ok()) {
    return Named(rpc, absl::StrCat("GetManifests from ", source_name_), timeouts_.manifest);
  }
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
  std::unique_ptr<FileStream> stream(new FileStream(
      NewCall(absl::InfiniteDuration()), std::move(wants), cancelled, cancelled_, timeouts_.stall,
      absl::StrCat("FetchFiles of user ", user, " from ", source_name_)));
  stream->reader_ =
      stub_->PrepareAsyncFetchFiles(stream->call_.get(), request, stream->queue_->cq());
  stream->reader_->StartCall(kTag);
  return stream;
}

std::unique_ptr<FileStream> PeerClient::FetchQuarantined(const std::string& id,
                                                         const std::atomic<bool>* cancelled) const {
  v1::FetchQuarantinedRequest request;
  request.set_slot(source_slot_);
  request.set_id(id);
  std::vector<FileStream::Want> wants = {FileStream::Want{id, 0, false}};
  std::unique_ptr<FileStream> stream(new FileStream(
      NewCall(absl::InfiniteDuration()), std::move(wants), cancelled, cancelled_, timeouts_.stall,
      absl::StrCat("FetchQuarantined of ", id, " from ", source_name_)));
  stream->reader_ =
      stub_->PrepareAsyncFetchQuarantined(stream->call_.get(), request, stream->queue_->cq());
  stream->reader_->StartCall(kTag);
  return stream;
}

}  // namespace slotkeeper::sync
