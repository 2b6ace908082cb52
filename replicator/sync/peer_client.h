// The replica's side of ReplicaPeer: every call a replica (the agent's data
// path, slotsync, verification) makes to a source slot, with every check it
// makes before it trusts an answer.
//
// - ListUsers: the source slot's users with their generations.
// - GetManifest: a user's full manifest; refused (INVALID_ARGUMENT) when an
//   entry has a bad path or no hash, or a path comes twice; DATA_LOSS when
//   the stream ends before its last chunk.
// - GetDelta / GetDeltas: the paths changed since a checkpoint, for one user
//   (GetManifest with delta) or several (GetManifests). An answer is used
//   only if it is complete, marked as a delta, names no path twice, holds
//   only valid relative paths of regular files with hashes, and sends no
//   more inline content than was asked for; anything else means "no delta"
//   (std::nullopt) and the caller takes the full manifest.
// - FetchFiles: a FileStream whose chunks are checked against the request
//   (file index, offset, nothing after a file's end) before the caller sees
//   them; the content itself is checked against the manifest by the caller.
//
// Errors: transport failures come back as absl::Status with the gRPC code
// (base/grpc_util.h), the call, the source and the user named in the
// message.
//
// Time limits (PeerTimeouts): no call waits on a source forever. ListUsers
// has a deadline for the whole call, GetManifest(s) one for the whole
// stream (the source hashes a user's files before it answers); FetchFiles,
// which may legitimately run for long, fails when no chunk arrives for the
// stall timeout. Either fails with DEADLINE_EXCEEDED. Every wait also looks
// at the client's and the call's cancellation flags at least every 100 ms:
// setting one ends every call in flight (CANCELLED), also one whose source
// never answers. Every call's grpc::ClientContext is made by NewCall(); each
// call has its own completion queue, so a limit costs nothing per chunk.
//
// Thread-safety: a PeerClient is immutable and its stub thread-safe, so any
// number of calls may run at once. A FileStream is one call, used by one
// thread.
#ifndef SLOTKEEPER_REPLICATOR_SYNC_PEER_CLIENT_H_
#define SLOTKEEPER_REPLICATOR_SYNC_PEER_CLIENT_H_

#include <grpcpp/grpcpp.h>

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "proto/peer.grpc.pb.h"
#include "replicator/sync/manifest.h"

namespace slotkeeper::sync {

// The source state a replica's user is known to hold: its checkpoint.
struct DeltaBase {
  std::string instance_id;
  uint64_t generation = 0;
};

// A delta answer: the changed files that exist at the source, and the
// changed paths that no longer do.
struct SourceDelta {
  Manifest entries;  // sorted by path
  std::vector<std::string> removed;
  uint64_t generation = 0;
  // Whole files sent with the answer, path -> content; used only for
  // planned fetches whose entry they match (the replica checks).
  std::map<std::string, std::string> inline_data;
};

// The user directory's own metadata, from a full manifest's last chunk.
struct UserDirMetadata {
  uint32_t mode = 0;  // permission bits; 0: the source did not say
  uint32_t uid = 0;
  uint32_t gid = 0;
  bool known() const { return mode != 0; }
};

// How much file content a delta answer may carry inline (0: none).
struct InlineLimits {
  uint32_t max_file_bytes = 0;
  uint32_t max_total_bytes = 0;
};

// How long a replica waits for a source. The defaults suit a mail store on
// a LAN: a source that is merely slow (a large cold mailbox, a busy disk)
// stays within them, a hung one is given up within a minute or two.
struct PeerTimeouts {
  // ListUsers, whole call.
  absl::Duration call = absl::Seconds(30);
  // GetManifest / GetManifests, whole stream: the source hashes every file
  // it has no cached hash for before it answers.
  absl::Duration manifest = absl::Minutes(2);
  // FetchFiles: longest wait for the next chunk (the stream as a whole has
  // no limit).
  absl::Duration stall = absl::Seconds(60);
};

// How much a replica takes from a source before it stops believing it.
// Each bound refuses the answer (INVALID_ARGUMENT naming the field and the
// limit) or, for a delta, makes it "no delta"; the defaults are far beyond
// what a real mailbox needs. Together with the channel's message size
// limit (base/grpc_util: 64 MiB per message) they bound the memory one
// answer can take.
struct PeerLimits {
  // Entries (files and directories; for a delta also removed paths) of one
  // user's manifest: a million-message mailbox is about 1M entries.
  size_t max_manifest_entries = 4'000'000;
  // Users in a ListUsers answer.
  size_t max_users = 1'000'000;
  // Any other string from the source (instance id, an error or refusal
  // text, the slot and store names echoed back).
  size_t max_string_bytes = 1024;
  // Inline file content in one GetManifests answer, over all its users
  // (each user's own share is bounded by InlineLimits).
  uint64_t max_inline_bytes_per_call = 64ull << 20;
};

class CallQueue;  // call_queue.h

// One FetchFiles call. Obtained from PeerClient::FetchFiles.
class FileStream {
 public:
  ~FileStream();
  FileStream(const FileStream&) = delete;
  FileStream& operator=(const FileStream&) = delete;

  // The next chunk. False at the end of the stream (then Finish). CANCELLED
  // once a cancellation flag is set; DEADLINE_EXCEEDED when no chunk came
  // for the stall timeout (the call is cancelled); DATA_LOSS for a chunk the
  // source must never send: for a file not asked for, after the end of its
  // file (a chunk with eof or error), or at another offset than where that
  // file's data so far ended (the first: the offset asked for). After an
  // error, Cancel and Finish.
  absl::StatusOr<bool> Read(v1::FileChunk* chunk);

  // Ends the call early (the replica gave up on it).
  void Cancel();

  // Ends the call (once): its transport status (a stall: DEADLINE_EXCEEDED)
  // with the call, user and source in front; else DATA_LOSS when the stream
  // ended before some file's end.
  absl::Status Finish();

 private:
  friend class PeerClient;
  struct Want {
    std::string path;
    uint64_t offset = 0;  // where the next chunk must start
    bool ended = false;   // eof or error seen
  };
  FileStream(std::unique_ptr<grpc::ClientContext> call, std::vector<Want> wants,
             const std::atomic<bool>* cancelled, const std::atomic<bool>* client_cancelled,
             absl::Duration stall, std::string what);
  // Waits for the operation in flight (`*ok` its result); an error once the
  // stream stalled or a flag was set (the call is cancelled then).
  absl::Status Await(bool* ok);

  std::unique_ptr<grpc::ClientContext> call_;
  std::unique_ptr<CallQueue> queue_;
  std::unique_ptr<grpc::ClientAsyncReaderInterface<v1::FileChunk>> reader_;
  std::vector<Want> wants_;
  const absl::Duration stall_;
  const std::string what_;  // "FetchFiles of user U from <source>"
  bool started_ = false;    // the call's start completed
  bool finished_ = false;   // Finish completed
  absl::Status stalled_;    // set once the stream stalled
};

class PeerClient {
 public:
  // Calls go to `stub` (not owned; must outlive the client) about
  // `source_slot`. `source_address` (HOST:PORT; may be empty) only names the
  // source in messages. `cancelled` (may be null; must outlive the client)
  // ends every call of this client in flight once set: the work it belongs
  // to was stopped.
  PeerClient(v1::ReplicaPeer::StubInterface* stub, std::string source_slot,
             std::string source_address = "", PeerTimeouts timeouts = PeerTimeouts(),
             const std::atomic<bool>* cancelled = nullptr, PeerLimits limits = PeerLimits());

  const std::string& source_slot() const { return source_slot_; }
  // "source slot S at HOST:PORT", for messages.
  const std::string& source_name() const { return source_name_; }

  // The source slot's users. With `store`, the source first checks that its
  // slot holds that store (FAILED_PRECONDITION otherwise).
  absl::StatusOr<v1::ListUsersResponse> ListUsers(const std::string& store) const;

  // A user's full manifest, sorted by path. `generation` and `user_dir`
  // (the user directory's own mode and owner) may be null.
  absl::StatusOr<Manifest> GetManifest(const std::string& user, uint64_t* generation,
                                       UserDirMetadata* user_dir = nullptr) const;

  // One user's delta since `since`. std::nullopt when the source cannot give
  // one (FAILED_PRECONDITION, or an answer that is not a delta or is
  // doubtful); CANCELLED when `cancelled` (may be null) is set or the call
  // was cancelled; the error when the source is unreachable
  // (SourceUnreachable: asking for the full manifest would not help).
  absl::StatusOr<std::optional<SourceDelta>> GetDelta(const std::string& user,
                                                      const DeltaBase& since,
                                                      const InlineLimits& inline_limits,
                                                      const std::atomic<bool>* cancelled) const;

  // Several users' deltas in one GetManifests call: every user asked for is
  // in the result, std::nullopt where the source refused or the answer is
  // doubtful. UNIMPLEMENTED from a source that predates GetManifests; any
  // error means no answer at all (the caller asks user by user, unless the
  // source is unreachable: SourceUnreachable).
  absl::StatusOr<std::map<std::string, std::optional<SourceDelta>>> GetDeltas(
      const std::vector<std::pair<std::string, DeltaBase>>& users,
      const InlineLimits& inline_limits) const;

  // Starts a FetchFiles call for `files` of `user` (FileWant.offset: resume
  // from there). `cancelled` (may be null) ends the call once set.
  std::unique_ptr<FileStream> FetchFiles(const std::string& user,
                                         const std::vector<v1::FileWant>& files,
                                         uint32_t chunk_bytes,
                                         const std::atomic<bool>* cancelled) const;

  // The data-safety calls, each with the `call`
  // time limit; the stream with the `stall` one.
  // The source slot's quarantine (of `user`, every user when empty; at
  // most `limit` items, 0: all).
  absl::StatusOr<v1::ListQuarantineResponse> ListQuarantine(const std::string& user,
                                                            uint32_t limit) const;
  // One quarantined file as a stream of one file (index 0): its chunks are
  // checked like FetchFiles'; the last carries its size and hash.
  std::unique_ptr<FileStream> FetchQuarantined(const std::string& id,
                                               const std::atomic<bool>* cancelled) const;
  // The source master slot's deletion log (of `user`; every user when
  // empty).
  absl::StatusOr<v1::ListDeletedResponse> ListDeleted(const std::string& user) const;
  // The messages stranded on the source slot since it was master.
  absl::StatusOr<v1::ListStrandedResponse> ListStranded() const;

 private:
  // The context of every call; `deadline`: the whole call's limit
  // (InfiniteDuration: none).
  std::unique_ptr<grpc::ClientContext> NewCall(absl::Duration deadline) const;
  // A unary call `prepare` (a stub's PrepareAsync method) with the call
  // time limit, named `what` in errors.
  template <typename Request, typename Response, typename Prepare>
  absl::StatusOr<Response> Unary(const Request& request, Prepare prepare,
                                 const std::string& what) const;
  // Reads a GetManifest(s) stream to its end, each chunk to `take`; the
  // call's status. An error from `take` cancels the call (nothing more of
  // the answer is read) and is returned.
  absl::Status ReadManifestStream(
      CallQueue* queue, grpc::ClientAsyncReaderInterface<v1::ManifestChunk>* reader,
      const std::function<absl::Status(v1::ManifestChunk*)>& take) const;

  v1::ReplicaPeer::StubInterface* const stub_;
  const std::string source_slot_;
  const std::string source_name_;
  const PeerTimeouts timeouts_;
  const std::atomic<bool>* const cancelled_;
  const PeerLimits limits_;
};

// Whether `status` (of a PeerClient call) says the source cannot be reached
// or does not answer (UNAVAILABLE, DEADLINE_EXCEEDED): asking it something
// else right away would fail the same way.
bool SourceUnreachable(const absl::Status& status);

}  // namespace slotkeeper::sync

#endif  // SLOTKEEPER_REPLICATOR_SYNC_PEER_CLIENT_H_
