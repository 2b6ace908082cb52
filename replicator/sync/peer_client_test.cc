// PeerClient against a scripted ReplicaPeer on 127.0.0.1 port 0: what it
// asks for, and which answers it refuses before the data path sees them.
#include "replicator/sync/peer_client.h"

#include <grpcpp/grpcpp.h>

#include <atomic>
#include <chrono>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/synchronization/notification.h"
#include "base/grpc_util.h"
#include "gtest/gtest.h"
#include "replicator/sync/gated_peer.h"

namespace slotkeeper::sync {
namespace {

ManifestEntry Entry(const std::string& path, bool with_hash = true) {
  ManifestEntry e;
  e.set_path(path);
  e.set_size(1);
  if (with_hash) e.set_hash(std::string(kHashBytes, 'h'));
  return e;
}

// Answers every call with what the test put in it, and keeps the requests.
// A closed `gate` holds ListUsers and GetManifest(s) before they answer and
// FetchFiles after its first chunk: a hung source.
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
    for (const v1::ManifestChunk& c : manifest_chunks) writer->Write(c);
    return status;
  }
  grpc::Status GetManifests(grpc::ServerContext* context, const v1::GetManifestsRequest* request,
                            grpc::ServerWriter<v1::ManifestChunk>* writer) override {
    manifests_request = *request;
    if (!gate.Pass(context)) return grpc::Status::CANCELLED;
    for (const v1::ManifestChunk& c : manifest_chunks) writer->Write(c);
    return status;
  }
  grpc::Status FetchFiles(grpc::ServerContext* context, const v1::FetchFilesRequest* request,
                          grpc::ServerWriter<v1::FileChunk>* writer) override {
    fetch_request = *request;
    for (size_t i = 0; i < file_chunks.size(); ++i) {
      writer->Write(file_chunks[i]);
      if (i == 0 && !gate.Pass(context)) return grpc::Status::CANCELLED;
    }
    return status;
  }

  CallGate gate;
  grpc::Status status = grpc::Status::OK;
  v1::ListUsersResponse list_response;
  std::vector<v1::ManifestChunk> manifest_chunks;
  std::vector<v1::FileChunk> file_chunks;
  v1::ListUsersRequest list_request;
  v1::GetManifestRequest manifest_request;
  v1::GetManifestsRequest manifests_request;
  v1::FetchFilesRequest fetch_request;
};

class PeerClientTest : public ::testing::Test {
 protected:
  void SetUp() override {
    grpc::ServerBuilder builder;
    ConfigureServerBuilder(builder);
    int port = 0;
    EXPECT_TRUE(AddListeningPort(builder, "127.0.0.1:0", &port).ok());
    builder.RegisterService(&peer_);
    server_ = builder.BuildAndStart();
    ASSERT_NE(port, 0);
    auto channel = MakeChannel("127.0.0.1:" + std::to_string(port));
    ASSERT_TRUE(
        channel->WaitForConnected(std::chrono::system_clock::now() + std::chrono::seconds(30)));
    stub_ = v1::ReplicaPeer::NewStub(channel);
    client_ = std::make_unique<PeerClient>(stub_.get(), "s1");
    address_ = "127.0.0.1:" + std::to_string(port);
  }
  void TearDown() override {
    peer_.gate.Open();
    server_->Shutdown();
  }

  // A client with short limits, or (`forever`) limits no test reaches.
  std::unique_ptr<PeerClient> Client(bool forever, const std::atomic<bool>* cancelled = nullptr) {
    PeerTimeouts t;
    t.call = t.manifest = t.stall = forever ? absl::Hours(1) : absl::Milliseconds(300);
    return std::make_unique<PeerClient>(stub_.get(), "s1", address_, t, cancelled);
  }

  v1::ManifestChunk& AddManifestChunk() { return peer_.manifest_chunks.emplace_back(); }

  v1::FileChunk& AddFileChunk(uint32_t index, uint64_t offset, const std::string& data, bool eof) {
    v1::FileChunk& c = peer_.file_chunks.emplace_back();
    c.set_file_index(index);
    c.set_offset(offset);
    c.set_data(data);
    c.set_eof(eof);
    return c;
  }

  // Reads a whole FetchFiles stream for `paths`; the first error (from
  // Read, else from Finish) and the data read.
  absl::Status Fetch(const std::vector<std::string>& paths, std::string* data = nullptr,
                     uint64_t offset = 0) {
    std::vector<v1::FileWant> wants;
    for (const std::string& p : paths) {
      v1::FileWant& w = wants.emplace_back();
      w.set_path(p);
      w.set_offset(offset);
    }
    std::unique_ptr<FileStream> stream = client_->FetchFiles("alice", wants, 1024, nullptr);
    v1::FileChunk chunk;
    for (;;) {
      absl::StatusOr<bool> more = stream->Read(&chunk);
      if (!more.ok()) {
        stream->Cancel();
        (void)stream->Finish();
        return more.status();
      }
      if (!*more) break;
      if (data != nullptr) *data += chunk.data();
    }
    return stream->Finish();
  }

  ScriptedPeer peer_;
  std::unique_ptr<grpc::Server> server_;
  std::unique_ptr<v1::ReplicaPeer::Stub> stub_;
  std::unique_ptr<PeerClient> client_;
  std::string address_;
};

TEST_F(PeerClientTest, ListUsersNamesTheSlotAndStore) {
  peer_.list_response.set_instance_id("inst");
  absl::StatusOr<v1::ListUsersResponse> listed = client_->ListUsers("store-a");
  ASSERT_TRUE(listed.ok()) << listed.status();
  EXPECT_EQ(listed->instance_id(), "inst");
  EXPECT_EQ(peer_.list_request.slot(), "s1");
  EXPECT_EQ(peer_.list_request.store(), "store-a");
  peer_.status = grpc::Status(grpc::StatusCode::FAILED_PRECONDITION, "wrong store");
  listed = client_->ListUsers("store-b");
  EXPECT_TRUE(absl::IsFailedPrecondition(listed.status()));
  EXPECT_NE(listed.status().message().find("source slot s1"), std::string::npos);
}

TEST_F(PeerClientTest, GetManifestSortsAndRefusesBadAnswers) {
  v1::ManifestChunk& first = AddManifestChunk();
  *first.add_entries() = Entry("cur/b");
  *first.add_entries() = Entry("cur/a");
  v1::ManifestChunk& last = AddManifestChunk();
  last.set_last(true);
  last.set_generation(7);
  last.set_user_mode(040700);
  uint64_t generation = 0;
  UserDirMetadata dir;
  absl::StatusOr<Manifest> m = client_->GetManifest("alice", &generation, &dir);
  ASSERT_TRUE(m.ok()) << m.status();
  ASSERT_EQ(m->size(), 2u);
  EXPECT_EQ((*m)[0].path(), "cur/a");
  EXPECT_EQ(generation, 7u);
  EXPECT_EQ(dir.mode, 0700u);
  EXPECT_EQ(peer_.manifest_request.user(), "alice");
  EXPECT_FALSE(peer_.manifest_request.delta());

  *last.add_entries() = Entry("cur/a");  // listed twice
  EXPECT_TRUE(absl::IsInvalidArgument(client_->GetManifest("alice", nullptr).status()));
  last.clear_entries();
  *last.add_entries() = Entry("cur/c", /*with_hash=*/false);
  EXPECT_TRUE(absl::IsInvalidArgument(client_->GetManifest("alice", nullptr).status()));
  last.clear_entries();
  *last.add_entries() = Entry("../escape");
  EXPECT_TRUE(absl::IsInvalidArgument(client_->GetManifest("alice", nullptr).status()));
  last.clear_entries();
  last.set_last(false);  // the stream ends before its last chunk
  EXPECT_TRUE(absl::IsDataLoss(client_->GetManifest("alice", nullptr).status()));
}

TEST_F(PeerClientTest, GetDeltaTakesOnlyCompleteTrustworthyAnswers) {
  const InlineLimits limits{10, 15};
  v1::ManifestChunk& chunk = AddManifestChunk();
  chunk.set_delta(true);
  chunk.set_last(true);
  chunk.set_generation(9);
  *chunk.add_entries() = Entry("new/1");
  chunk.add_removed("cur/0");
  v1::InlineFile* f = chunk.add_inline_files();
  f->set_path("new/1");
  f->set_data("x");
  absl::StatusOr<std::optional<SourceDelta>> d =
      client_->GetDelta("alice", DeltaBase{"inst", 4}, limits, nullptr);
  ASSERT_TRUE(d.ok()) << d.status();
  ASSERT_TRUE(d->has_value());
  EXPECT_EQ((*d)->generation, 9u);
  EXPECT_EQ((*d)->removed, std::vector<std::string>{"cur/0"});
  EXPECT_EQ((*d)->inline_data.at("new/1"), "x");
  EXPECT_TRUE(peer_.manifest_request.delta());
  EXPECT_EQ(peer_.manifest_request.since_generation(), 4u);
  EXPECT_EQ(peer_.manifest_request.since_instance_id(), "inst");
  EXPECT_EQ(peer_.manifest_request.inline_max_file_bytes(), 10u);
  EXPECT_EQ(peer_.manifest_request.inline_max_total_bytes(), 15u);

  // More inline content than asked for: no delta.
  f->set_data(std::string(11, 'x'));
  d = client_->GetDelta("alice", DeltaBase{"inst", 4}, limits, nullptr);
  ASSERT_TRUE(d.ok());
  EXPECT_FALSE(d->has_value());
  f->set_data("x");
  // A path both changed and removed: no delta.
  chunk.add_removed("new/1");
  d = client_->GetDelta("alice", DeltaBase{"inst", 4}, limits, nullptr);
  ASSERT_TRUE(d.ok());
  EXPECT_FALSE(d->has_value());
  // The source refuses: no delta, not an error.
  peer_.status = grpc::Status(grpc::StatusCode::FAILED_PRECONDITION, "no history");
  d = client_->GetDelta("alice", DeltaBase{"inst", 4}, limits, nullptr);
  ASSERT_TRUE(d.ok());
  EXPECT_FALSE(d->has_value());
  // Cancelled by the replica.
  std::atomic<bool> cancelled{true};
  EXPECT_TRUE(absl::IsCancelled(
      client_->GetDelta("alice", DeltaBase{"inst", 4}, limits, &cancelled).status()));
}

TEST_F(PeerClientTest, GetDeltasRefusesAnswersForUsersNotAskedFor) {
  for (const char* user : {"alice", "bob"}) {
    v1::ManifestChunk& c = AddManifestChunk();
    c.set_user(user);
    c.set_delta(true);
    c.set_last(true);
  }
  peer_.manifest_chunks[1].set_refused("no history for bob");
  const std::vector<std::pair<std::string, DeltaBase>> users = {{"alice", {"inst", 1}},
                                                                {"bob", {"inst", 2}}};
  absl::StatusOr<std::map<std::string, std::optional<SourceDelta>>> d =
      client_->GetDeltas(users, InlineLimits{});
  ASSERT_TRUE(d.ok()) << d.status();
  EXPECT_TRUE(d->at("alice").has_value());
  EXPECT_FALSE(d->at("bob").has_value());
  EXPECT_EQ(peer_.manifests_request.users_size(), 2);

  AddManifestChunk().set_user("mallory");
  EXPECT_TRUE(absl::IsDataLoss(client_->GetDeltas(users, InlineLimits{}).status()));
  peer_.status = grpc::Status(grpc::StatusCode::UNIMPLEMENTED, "old source");
  EXPECT_TRUE(absl::IsUnimplemented(client_->GetDeltas(users, InlineLimits{}).status()));
}

TEST_F(PeerClientTest, FetchFilesPassesWellFormedStreams) {
  AddFileChunk(0, 0, "hello ", false);
  AddFileChunk(0, 6, "world", true);
  AddFileChunk(1, 0, "", false).set_error("changed at the source");
  std::string data;
  EXPECT_TRUE(Fetch({"cur/1", "cur/2"}, &data).ok());
  EXPECT_EQ(data, "hello world");
  EXPECT_EQ(peer_.fetch_request.slot(), "s1");
  EXPECT_EQ(peer_.fetch_request.user(), "alice");
  EXPECT_EQ(peer_.fetch_request.chunk_bytes(), 1024u);
  ASSERT_EQ(peer_.fetch_request.files_size(), 2);
  // A resumed file starts at the offset asked for.
  peer_.file_chunks.clear();
  AddFileChunk(0, 100, "rest", true);
  EXPECT_TRUE(Fetch({"cur/1"}, nullptr, 100).ok());
  EXPECT_EQ(peer_.fetch_request.files(0).offset(), 100u);
}

TEST_F(PeerClientTest, FetchFilesRefusesMalformedStreams) {
  AddFileChunk(1, 0, "x", true);  // no file 1 was asked for
  EXPECT_TRUE(absl::IsDataLoss(Fetch({"cur/1"})));
  peer_.file_chunks.clear();
  AddFileChunk(0, 0, "abc", false);
  AddFileChunk(0, 2, "c", true);  // overlaps
  EXPECT_TRUE(absl::IsDataLoss(Fetch({"cur/1"})));
  peer_.file_chunks.clear();
  AddFileChunk(0, 0, "abc", true);
  AddFileChunk(0, 3, "d", true);  // after its end
  EXPECT_TRUE(absl::IsDataLoss(Fetch({"cur/1"})));
  peer_.file_chunks.clear();
  AddFileChunk(0, 0, "abc", false);  // never ends
  absl::Status s = Fetch({"cur/1"});
  EXPECT_TRUE(absl::IsDataLoss(s)) << s;
  EXPECT_NE(s.message().find("cur/1"), std::string::npos);
  peer_.status = grpc::Status(grpc::StatusCode::UNAVAILABLE, "gone");
  s = Fetch({"cur/1"});
  EXPECT_TRUE(absl::IsUnavailable(s)) << s;
  EXPECT_NE(s.message().find("FetchFiles of user alice from source slot s1"), std::string::npos)
      << s;
}

TEST_F(PeerClientTest, FetchFilesStopsOnceCancelled) {
  AddFileChunk(0, 0, "abc", true);
  std::atomic<bool> cancelled{true};
  v1::FileWant want;
  want.set_path("cur/1");
  std::unique_ptr<FileStream> stream = client_->FetchFiles("alice", {want}, 0, &cancelled);
  v1::FileChunk chunk;
  EXPECT_TRUE(absl::IsCancelled(stream->Read(&chunk).status()));
  stream->Cancel();
}

TEST_F(PeerClientTest, AHungListUsersTimesOut) {
  peer_.gate.Close();
  absl::StatusOr<v1::ListUsersResponse> listed = Client(false)->ListUsers("store-a");
  EXPECT_TRUE(absl::IsDeadlineExceeded(listed.status())) << listed.status();
  EXPECT_NE(listed.status().message().find("ListUsers on source slot s1 at " + address_),
            std::string::npos)
      << listed.status();
  EXPECT_TRUE(peer_.gate.AwaitCancelled(1));  // the source saw the call end
}

TEST_F(PeerClientTest, AHungManifestTimesOut) {
  peer_.gate.Close();
  std::unique_ptr<PeerClient> client = Client(false);
  absl::StatusOr<Manifest> m = client->GetManifest("alice", nullptr);
  EXPECT_TRUE(absl::IsDeadlineExceeded(m.status())) << m.status();
  EXPECT_NE(m.status().message().find("GetManifest of user alice from source slot s1"),
            std::string::npos)
      << m.status();
  // A delta that times out is an error, not "no delta": the full manifest
  // would wait for the same source.
  absl::StatusOr<std::optional<SourceDelta>> d =
      client->GetDelta("alice", DeltaBase{"inst", 1}, InlineLimits{}, nullptr);
  EXPECT_TRUE(absl::IsDeadlineExceeded(d.status())) << d.status();
  std::vector<std::pair<std::string, DeltaBase>> users = {{"alice", {"inst", 1}}};
  EXPECT_TRUE(absl::IsDeadlineExceeded(client->GetDeltas(users, InlineLimits{}).status()));
}

TEST_F(PeerClientTest, AStalledFetchFilesIsCancelled) {
  AddFileChunk(0, 0, "abc", false);
  AddFileChunk(0, 3, "def", true);  // never sent: the source hangs after the first chunk
  peer_.gate.Close();
  v1::FileWant want;
  want.set_path("cur/1");
  std::unique_ptr<PeerClient> client = Client(false);
  std::unique_ptr<FileStream> stream = client->FetchFiles("alice", {want}, 0, nullptr);
  v1::FileChunk chunk;
  absl::StatusOr<bool> more = stream->Read(&chunk);
  ASSERT_TRUE(more.ok() && *more) << more.status();
  EXPECT_EQ(chunk.data(), "abc");
  more = stream->Read(&chunk);
  EXPECT_TRUE(absl::IsDeadlineExceeded(more.status())) << more.status();
  EXPECT_NE(
      more.status().message().find("FetchFiles of user alice from source slot s1 at " + address_),
      std::string::npos)
      << more.status();
  EXPECT_NE(more.status().message().find("no data for 300ms"), std::string::npos);
  stream->Cancel();
  absl::Status finished = stream->Finish();
  EXPECT_TRUE(absl::IsDeadlineExceeded(finished)) << finished;
  EXPECT_TRUE(peer_.gate.AwaitCancelled(1));
}

// Cancellation ends calls whose source never answers (limits far away).
TEST_F(PeerClientTest, CancellationEndsAHungCall) {
  peer_.gate.Close();
  std::atomic<bool> stop{false};
  std::unique_ptr<PeerClient> client = Client(true, &stop);
  std::thread canceller([&] {
    peer_.gate.AwaitHeld(1);
    stop = true;
  });
  EXPECT_TRUE(absl::IsCancelled(client->ListUsers("store-a").status()));
  canceller.join();
  EXPECT_TRUE(absl::IsCancelled(client->GetManifest("alice", nullptr).status()));
}

// A stream's own flag, set while it waits for its second chunk.
TEST_F(PeerClientTest, CancellationEndsAStalledStream) {
  peer_.gate.Close();
  AddFileChunk(0, 0, "abc", false);
  AddFileChunk(0, 3, "def", true);
  std::atomic<bool> fetch_stop{false};
  v1::FileWant want;
  want.set_path("cur/1");
  std::unique_ptr<FileStream> stream = Client(true)->FetchFiles("alice", {want}, 0, &fetch_stop);
  v1::FileChunk chunk;
  ASSERT_TRUE(stream->Read(&chunk).ok());
  std::thread fetch_canceller([&] {
    peer_.gate.AwaitHeld(1);
    fetch_stop = true;
  });
  EXPECT_TRUE(absl::IsCancelled(stream->Read(&chunk).status()));
  fetch_canceller.join();
  stream->Cancel();
  EXPECT_FALSE(stream->Finish().ok());
}

// A stream dropped without Finish (its reader gave up) ends its call.
TEST_F(PeerClientTest, ADroppedStreamEndsItsCall) {
  AddFileChunk(0, 0, "abc", false);
  AddFileChunk(0, 3, "def", true);
  peer_.gate.Close();
  v1::FileWant want;
  want.set_path("cur/1");
  {
    std::unique_ptr<FileStream> stream = Client(true)->FetchFiles("alice", {want}, 0, nullptr);
    v1::FileChunk chunk;
    ASSERT_TRUE(stream->Read(&chunk).ok());
    ASSERT_TRUE(peer_.gate.AwaitHeld(1));
  }
  EXPECT_TRUE(peer_.gate.AwaitCancelled(1));
  // And one never read from at all.
  Client(true)->FetchFiles("alice", {want}, 0, nullptr).reset();
}

}  // namespace
}  // namespace slotkeeper::sync
