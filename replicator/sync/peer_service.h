// The source side of the data path: serves slots over ReplicaPeer.
//
// PeerCore holds the logic (validate, list users with generations, build
// manifests through the hash cache, stream file content while hashing it);
// ReplicaPeerService is the thin gRPC adapter around it. Files are opened
// beneath the slot with O_NOFOLLOW at every component: a symlink can never
// serve data from outside the slot. A file whose content no longer matches
// the hash the client expects is reported with FileChunk.error; its content
// is never presented as that version. Generations and delta manifests come
// from the ChangeTracker the core owns; the slot's layout from
// slot_layout.h. The replica's side of every call is peer_client.h. The
// data-safety calls (quarantine, deletion log, stranded mail) are
// SafetySource's (safety_source.h). ListUsers with `deep` digests read
// every file from disk again (manifest.h HashFromDisk), trusting no
// remembered hash. WatchChanges is change_feed.h's: the tracker's event
// thread (started here, coalescing a change's events over
// kFeedCoalesce) wakes each feed.
//
// Thread-safe: any number of concurrent calls.
#ifndef SLOTKEEPER_REPLICATOR_SYNC_PEER_SERVICE_H_
#define SLOTKEEPER_REPLICATOR_SYNC_PEER_SERVICE_H_

#include <functional>
#include <map>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "base/clock.h"
#include "proto/peer.grpc.pb.h"
#include "replicator/sync/change_tracker.h"
#include "replicator/sync/manifest.h"
#include "replicator/sync/peer_authorizer.h"
#include "replicator/sync/safety_source.h"

namespace slotkeeper::sync {

inline constexpr uint32_t kDefaultChunkBytes = 256 * 1024;
inline constexpr uint32_t kMaxChunkBytes = 1024 * 1024;
// Users per GetManifests call.
inline constexpr int kMaxUsersPerManifestsCall = 1024;
// At most this much file content goes inline with one delta answer.
inline constexpr uint64_t kMaxInlineTotal = 4 * 1024 * 1024;
// How long the change tracker's event thread lets a change's events gather
// before it drains them (a delivery is a create, writes and a rename).
inline constexpr absl::Duration kFeedCoalesce = absl::Milliseconds(5);

class PeerCore {
 public:
  // `slots`: slot name -> absolute directory. `cache` (may be null) and
  // `clock` are not owned and must outlive the core. `instance_id` must
  // differ between runs of the process (generations restart).
  PeerCore(std::map<std::string, std::string> slots, HashCache* cache, Clock* clock,
           std::string instance_id, absl::Duration full_scan_interval = absl::Minutes(10),
           DeltaLimits delta_limits = DeltaLimits());

  absl::StatusOr<v1::ListUsersResponse> ListUsers(const v1::ListUsersRequest& request);
  // `write` returns false when the client went away. With request.delta,
  // lists only the paths changed since the requested generation (from the
  // change tracker's history, hashes through the hash cache), or fails with
  // FAILED_PRECONDITION before writing anything when it cannot.
  // `cancelled` (may be empty) says the client went away: a long scan stops.
  absl::Status GetManifest(const v1::GetManifestRequest& request,
                           const std::function<bool(const v1::ManifestChunk&)>& write,
                           const std::function<bool()>& cancelled = nullptr);
  // GetManifests: each user's delta as GetManifest would give it, chunks
  // tagged with the user; a user without a delta gets a refusal chunk.
  // INVALID_ARGUMENT for a bad request (unknown slot, bad or repeated user,
  // more than kMaxUsersPerManifestsCall users) before anything is written.
  absl::Status GetManifests(const v1::GetManifestsRequest& request,
                            const std::function<bool(const v1::ManifestChunk&)>& write);
  absl::Status FetchFiles(const v1::FetchFilesRequest& request,
                          const std::function<bool(const v1::FileChunk&)>& write);

  const std::string& instance_id() const { return instance_id_; }
  // The slot's root fd (opened at construction; -1 if it could not be).
  absl::StatusOr<int> SlotRoot(const std::string& slot) const;
  // The source's change tracker (tests simulate a queue overflow with it;
  // the change feed waits on it).
  ChangeTracker* tracker() { return &tracker_; }
  Clock* clock() const { return clock_; }

 private:
  absl::Status GetManifestDelta(const v1::GetManifestRequest& request, int root,
                                const std::function<bool(const v1::ManifestChunk&)>& write);

  const std::map<std::string, std::string> slot_paths_;
  std::map<std::string, Fd> slot_roots_;  // fixed after construction
  MemoryHashCache cache_;
  Clock* const clock_;
  const std::string instance_id_;
  ChangeTracker tracker_;
};

// The gRPC adapter. Does not own `core`, `safety` (may be null: the
// data-safety calls are then UNIMPLEMENTED) nor `authorizer` (may be null:
// every caller may read every slot, for tools and tests; the agent always
// gives one). Every call names a slot and is refused with PERMISSION_DENIED
// unless the authorizer lets its caller read that slot.
class ReplicaPeerService final : public v1::ReplicaPeer::Service {
 public:
  explicit ReplicaPeerService(PeerCore* core, SafetySource* safety = nullptr,
                              const PeerAuthorizer* authorizer = nullptr)
      : core_(core), safety_(safety), authorizer_(authorizer) {}
  grpc::Status ListUsers(grpc::ServerContext* context, const v1::ListUsersRequest* request,
                         v1::ListUsersResponse* response) override;
  grpc::Status GetManifest(grpc::ServerContext* context, const v1::GetManifestRequest* request,
                           grpc::ServerWriter<v1::ManifestChunk>* writer) override;
  grpc::Status GetManifests(grpc::ServerContext* context, const v1::GetManifestsRequest* request,
                            grpc::ServerWriter<v1::ManifestChunk>* writer) override;
  grpc::Status FetchFiles(grpc::ServerContext* context, const v1::FetchFilesRequest* request,
                          grpc::ServerWriter<v1::FileChunk>* writer) override;
  grpc::Status ListQuarantine(grpc::ServerContext* context,
                              const v1::ListQuarantineRequest* request,
                              v1::ListQuarantineResponse* response) override;
  grpc::Status FetchQuarantined(grpc::ServerContext* context,
                                const v1::FetchQuarantinedRequest* request,
                                grpc::ServerWriter<v1::FileChunk>* writer) override;
  grpc::Status ListDeleted(grpc::ServerContext* context, const v1::ListDeletedRequest* request,
                           v1::ListDeletedResponse* response) override;
  grpc::Status ListStranded(grpc::ServerContext* context, const v1::ListStrandedRequest* request,
                            v1::ListStrandedResponse* response) override;
  grpc::Status WatchChanges(grpc::ServerContext* context, const v1::WatchChangesRequest* request,
                            grpc::ServerWriter<v1::ChangeNotice>* writer) override;

 private:
  grpc::Status Authorize(const grpc::ServerContext& context, const std::string& slot) const;

  PeerCore* const core_;
  SafetySource* const safety_;
  const PeerAuthorizer* const authorizer_;
};

// A random 16-hex-digit id for a process instance.
std::string NewInstanceId();

}  // namespace slotkeeper::sync

#endif  // SLOTKEEPER_REPLICATOR_SYNC_PEER_SERVICE_H_
