// A hostile source for fuzz targets: a ReplicaPeer on a real gRPC server on
// 127.0.0.1 that answers every call from the HostileSource of the current
// input.
//
// Unlike ScriptedPeer, the script is replaced between inputs while a
// handler of the previous input may still run (a cancelled FetchFiles
// writes until it notices): each call takes its own reference to the
// script when it starts. Thread-safe.
#ifndef SLOTKEEPER_FUZZ_HOSTILE_SOURCE_H_
#define SLOTKEEPER_FUZZ_HOSTILE_SOURCE_H_

#include <grpcpp/grpcpp.h>

#include <cstdlib>
#include <memory>
#include <string>

#include "absl/synchronization/mutex.h"
#include "fuzz/fuzz_input.pb.h"
#include "proto/peer.grpc.pb.h"
#include "replicator/sync/scripted_peer.h"

namespace slotkeeper::fuzz {

class HostileSourceService final : public v1::ReplicaPeer::Service {
 public:
  void Set(const HostileSource& script) {
    auto copy = std::make_shared<const HostileSource>(script);
    absl::MutexLock lock(&mu_);
    script_ = std::move(copy);
  }

  grpc::Status ListUsers(grpc::ServerContext*, const v1::ListUsersRequest*,
                         v1::ListUsersResponse* response) override {
    const std::shared_ptr<const HostileSource> s = Get();
    *response = s->listing();
    return StatusOf(*s);
  }
  grpc::Status GetManifest(grpc::ServerContext*, const v1::GetManifestRequest*,
                           grpc::ServerWriter<v1::ManifestChunk>* writer) override {
    const std::shared_ptr<const HostileSource> s = Get();
    return WriteAll(*s, s->manifest(), writer);
  }
  grpc::Status GetManifests(grpc::ServerContext*, const v1::GetManifestsRequest*,
                            grpc::ServerWriter<v1::ManifestChunk>* writer) override {
    const std::shared_ptr<const HostileSource> s = Get();
    return WriteAll(*s, s->manifest(), writer);
  }
  grpc::Status FetchFiles(grpc::ServerContext*, const v1::FetchFilesRequest*,
                          grpc::ServerWriter<v1::FileChunk>* writer) override {
    const std::shared_ptr<const HostileSource> s = Get();
    return WriteAll(*s, s->files(), writer);
  }

 private:
  std::shared_ptr<const HostileSource> Get() {
    absl::MutexLock lock(&mu_);
    return script_;
  }
  static grpc::Status StatusOf(const HostileSource& s) {
    const auto code = static_cast<grpc::StatusCode>(s.status_code() % 17);
    if (code == grpc::StatusCode::OK) return grpc::Status::OK;
    return grpc::Status(code, s.status_message());
  }
  // Writes `chunks` (a field of `s`) until the client goes away.
  template <typename Chunk>
  static grpc::Status WriteAll(const HostileSource& s,
                               const google::protobuf::RepeatedPtrField<Chunk>& chunks,
                               grpc::ServerWriter<Chunk>* writer) {
    for (const Chunk& c : chunks) {
      if (!writer->Write(c)) break;
    }
    return StatusOf(s);
  }

  absl::Mutex mu_;
  std::shared_ptr<const HostileSource> script_ ABSL_GUARDED_BY(mu_) =
      std::make_shared<const HostileSource>();
};

// The service on a loopback server and a stub to it, for the whole fuzzing
// process; aborts when the server cannot start (nothing to fuzz then).
struct LoopbackSource {
  LoopbackSource() {
    std::shared_ptr<grpc::Channel> channel;
    server = sync::ServeOnLoopback(&service, &channel, &address);
    if (server == nullptr) std::abort();
    stub = v1::ReplicaPeer::NewStub(channel);
  }
  HostileSourceService service;
  std::unique_ptr<grpc::Server> server;
  std::unique_ptr<v1::ReplicaPeer::Stub> stub;
  std::string address;
};

}  // namespace slotkeeper::fuzz

#endif  // SLOTKEEPER_FUZZ_HOSTILE_SOURCE_H_
