// Test helpers for a source that stops answering: CallGate holds a server
// handler until the test opens the gate or the client cancels the call;
// GatedPeer is the real ReplicaPeer service (a PeerCore) with a gate in
// front of ListUsers, in front of GetManifest(s), and after the first chunk
// of FetchFiles. A held call looks like a hung source: the connection stays
// up and answers keepalive pings, the call never progresses. Test-only.
//
// Open every gate before the server shuts down: Shutdown waits for the
// handlers.
#ifndef SLOTKEEPER_REPLICATOR_SYNC_GATED_PEER_H_
#define SLOTKEEPER_REPLICATOR_SYNC_GATED_PEER_H_

#include <grpcpp/grpcpp.h>

#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "base/grpc_util.h"
#include "proto/peer.grpc.pb.h"
#include "replicator/sync/peer_service.h"

namespace slotkeeper::sync {

// Thread-safe. Starts open.
class CallGate {
 public:
  void Close() {
    absl::MutexLock lock(&mu_);
    closed_ = true;
  }
  void Open() {
    absl::MutexLock lock(&mu_);
    closed_ = false;
  }

  // Called by a handler: returns true at once while open, else once the
  // gate opens; false when the client cancelled the call first.
  bool Pass(grpc::ServerContext* context) {
    absl::MutexLock lock(&mu_);
    ++held_;
    auto open = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return !closed_; };
    while (!mu_.AwaitWithTimeout(absl::Condition(&open), absl::Milliseconds(20))) {
      if (context->IsCancelled()) {
        --held_;
        ++cancelled_;
        return false;
      }
    }
    --held_;
    return true;
  }

  // Waits (real time, up to `timeout`) until `n` calls are held now, or
  // until `n` held calls in all were cancelled by their clients.
  bool AwaitHeld(int n, absl::Duration timeout = absl::Seconds(60)) {
    absl::MutexLock lock(&mu_);
    auto enough = [this, n]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return held_ >= n; };
    return mu_.AwaitWithTimeout(absl::Condition(&enough), timeout);
  }
  bool AwaitCancelled(int n, absl::Duration timeout = absl::Seconds(60)) {
    absl::MutexLock lock(&mu_);
    auto enough = [this, n]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return cancelled_ >= n; };
    return mu_.AwaitWithTimeout(absl::Condition(&enough), timeout);
  }

 private:
  absl::Mutex mu_;
  bool closed_ ABSL_GUARDED_BY(mu_) = false;
  int held_ ABSL_GUARDED_BY(mu_) = 0;
  int cancelled_ ABSL_GUARDED_BY(mu_) = 0;
};

// Does not own `core`.
class GatedPeer final : public v1::ReplicaPeer::Service {
 public:
  explicit GatedPeer(PeerCore* core) : core_(core), service_(core) {}

  CallGate list_users;   // before ListUsers answers
  CallGate manifests;    // before GetManifest / GetManifests answer
  CallGate fetch_after;  // after FetchFiles' first chunk

  void OpenAll() {
    list_users.Open();
    manifests.Open();
    fetch_after.Open();
  }

  grpc::Status ListUsers(grpc::ServerContext* context, const v1::ListUsersRequest* request,
                         v1::ListUsersResponse* response) override {
    if (!list_users.Pass(context)) return grpc::Status::CANCELLED;
    return service_.ListUsers(context, request, response);
  }
  grpc::Status GetManifest(grpc::ServerContext* context, const v1::GetManifestRequest* request,
                           grpc::ServerWriter<v1::ManifestChunk>* writer) override {
    if (!manifests.Pass(context)) return grpc::Status::CANCELLED;
    return service_.GetManifest(context, request, writer);
  }
  grpc::Status GetManifests(grpc::ServerContext* context, const v1::GetManifestsRequest* request,
                            grpc::ServerWriter<v1::ManifestChunk>* writer) override {
    if (!manifests.Pass(context)) return grpc::Status::CANCELLED;
    return service_.GetManifests(context, request, writer);
  }
  grpc::Status FetchFiles(grpc::ServerContext* context, const v1::FetchFilesRequest* request,
                          grpc::ServerWriter<v1::FileChunk>* writer) override {
    bool first = true;
    return ToGrpcStatus(core_->FetchFiles(*request, [&](const v1::FileChunk& c) {
      if (!writer->Write(c)) return false;
      if (first) {
        first = false;
        return fetch_after.Pass(context);
      }
      return true;
    }));
  }

  grpc::Status WatchChanges(grpc::ServerContext* context, const v1::WatchChangesRequest* request,
                            grpc::ServerWriter<v1::ChangeNotice>* writer) override {
    return service_.WatchChanges(context, request, writer);
  }

 private:
  PeerCore* const core_;
  ReplicaPeerService service_;
};

}  // namespace slotkeeper::sync

#endif  // SLOTKEEPER_REPLICATOR_SYNC_GATED_PEER_H_
