// Test helper: a ReplicaPeer that answers every call with what the test put
// in it (a buggy or hostile source), on a real gRPC server on 127.0.0.1
// port 0. Test-only.
//
// A closed `gate` holds ListUsers and GetManifest(s) before they answer and
// FetchFiles after its first chunk: a hung source. Open the gate before the
// server shuts down (Shutdown waits for the handlers).
#ifndef SLOTKEEPER_REPLICATOR_SYNC_SCRIPTED_PEER_H_
#define SLOTKEEPER_REPLICATOR_SYNC_SCRIPTED_PEER_H_

#include <grpcpp/grpcpp.h>

#include <atomic>
#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "base/grpc_util.h"
#include "proto/peer.grpc.pb.h"
#include "replicator/sync/gated_peer.h"

namespace slotkeeper::sync {

// Answers with the scripted fields and keeps the last request of each call.
// The fields are set by the test while no call runs.
class ScriptedPeer final : public v1::ReplicaPeer::Service {
 public:
  grpc::Status ListUsers(grpc::ServerContext* context, const v1::ListUsersRequest* request,
                         v1::ListUsersResponse* response) override {
    list_request = *request;
    if (!gate.Pass(context)) return grpc::Status::CANCELLED;
    *response = list_response;
    return status;
  }
  grpc::Status GetManifest(grpc::ServerContext* context, const v1::GetManifestRequest* request,
                           grpc::ServerWriter<v1::ManifestChunk>* writer) override {
    manifest_request = *request;
    if (!gate.Pass(context)) return grpc::Status::CANCELLED;
    for (const v1::ManifestChunk& c : manifest_chunks) {
      if (!writer->Write(c)) break;
    }
    return status;
  }
  grpc::Status GetManifests(grpc::ServerContext* context, const v1::GetManifestsRequest* request,
                            grpc::ServerWriter<v1::ManifestChunk>* writer) override {
    manifests_request = *request;
    if (!gate.Pass(context)) return grpc::Status::CANCELLED;
    for (const v1::ManifestChunk& c : manifest_chunks) {
      if (!writer->Write(c)) break;
    }
    return status;
  }
  // Every scripted chunk, whatever was asked for; stops once the client
  // went away (`file_chunks_sent` counts what was written).
  grpc::Status FetchFiles(grpc::ServerContext* context, const v1::FetchFilesRequest* request,
                          grpc::ServerWriter<v1::FileChunk>* writer) override {
    fetch_request = *request;
    for (size_t i = 0; i < file_chunks.size(); ++i) {
      if (!writer->Write(file_chunks[i])) break;
      file_chunks_sent++;
      if (i == 0 && !gate.Pass(context)) return grpc::Status::CANCELLED;
    }
    return status;
  }

  CallGate gate;
  grpc::Status status = grpc::Status::OK;
  v1::ListUsersResponse list_response;
  std::vector<v1::ManifestChunk> manifest_chunks;
  std::vector<v1::FileChunk> file_chunks;
  std::atomic<size_t> file_chunks_sent{0};
  v1::ListUsersRequest list_request;
  v1::GetManifestRequest manifest_request;
  v1::GetManifestsRequest manifests_request;
  v1::FetchFilesRequest fetch_request;
};

// Serves `peer` (not owned) on 127.0.0.1 port 0; "127.0.0.1:PORT" in
// `*address`, connected before it returns.
inline std::unique_ptr<grpc::Server> ServeOnLoopback(grpc::Service* peer,
                                                     std::shared_ptr<grpc::Channel>* channel,
                                                     std::string* address) {
  grpc::ServerBuilder builder;
  ConfigureServerBuilder(builder);
  int port = 0;
  if (!AddListeningPort(builder, "127.0.0.1:0", &port).ok()) return nullptr;
  builder.RegisterService(peer);
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  if (port == 0) return nullptr;
  *address = "127.0.0.1:" + std::to_string(port);
  *channel = MakeChannel(*address);
  // Connected before the test starts: a loaded machine must not make the
  // first call fail fast.
  if (!(*channel)->WaitForConnected(std::chrono::system_clock::now() + std::chrono::seconds(30))) {
    return nullptr;
  }
  return server;
}

}  // namespace slotkeeper::sync

#endif  // SLOTKEEPER_REPLICATOR_SYNC_SCRIPTED_PEER_H_
