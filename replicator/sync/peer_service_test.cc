// The source side (PeerCore behind a real gRPC server on 127.0.0.1 port 0):
// what it refuses to serve, and how user generations follow the tree.
#include "replicator/sync/peer_service.h"

#include <fcntl.h>
#include <grpcpp/grpcpp.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fstream>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "replicator/sync/peer_client.h"
#include "replicator/sync/sync_test_util.h"

namespace slotkeeper::sync {
namespace {

TEST_F(SyncTest, EscapeAttemptsAreRefused) {
  WriteFile(Msg("alice", "cur/1.h:2,"), "ok");
  WriteFile(base_ + "/secret", "secret");
  ASSERT_EQ(symlink((base_ + "/secret").c_str(), Msg("alice", "cur/2.h:2,").c_str()), 0);
  ASSERT_EQ(symlink(base_.c_str(), Msg("alice", "escape").c_str()), 0);
  // The manifest never lists symlinks.
  uint64_t gen = 0;
  absl::StatusOr<Manifest> m = PeerClient(stub_.get(), "s1").GetManifest("alice", &gen);
  ASSERT_TRUE(m.ok()) << m.status();
  std::vector<std::string> files;
  for (const ManifestEntry& e : *m) {
    if (!e.directory()) files.push_back(e.path());
  }
  EXPECT_EQ(files, std::vector<std::string>{"cur/1.h:2,"});
  // FetchFiles refuses escaping paths outright and symlinks per file.
  for (const char* bad : {"../bob/cur/1", "/etc/passwd", "cur//x"}) {
    v1::FetchFilesRequest req;
    req.set_slot("s1");
    req.set_user("alice");
    req.add_files()->set_path(bad);
    grpc::ClientContext ctx;
    auto reader = stub_->FetchFiles(&ctx, req);
    v1::FileChunk chunk;
    while (reader->Read(&chunk)) ADD_FAILURE() << "data served for " << bad;
    EXPECT_EQ(reader->Finish().error_code(), grpc::StatusCode::INVALID_ARGUMENT) << bad;
  }
  for (const char* link : {"cur/2.h:2,", "escape/secret"}) {
    v1::FetchFilesRequest req;
    req.set_slot("s1");
    req.set_user("alice");
    req.add_files()->set_path(link);
    grpc::ClientContext ctx;
    auto reader = stub_->FetchFiles(&ctx, req);
    v1::FileChunk chunk;
    std::string data;
    bool error = false;
    while (reader->Read(&chunk)) {
      data += chunk.data();
      error |= !chunk.error().empty();
    }
    EXPECT_TRUE(reader->Finish().ok());
    EXPECT_TRUE(error) << link;
    EXPECT_EQ(data, "") << link;
  }
  // User names with '/' or "..".
  for (const char* user : {"alice/../bob", "..", "a/b"}) {
    grpc::ClientContext ctx;
    v1::GetManifestRequest req;
    req.set_slot("s1");
    req.set_user(user);
    auto reader = stub_->GetManifest(&ctx, req);
    v1::ManifestChunk chunk;
    while (reader->Read(&chunk)) {
    }
    EXPECT_EQ(reader->Finish().error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  }
  // A full sync copies only the real file.
  ASSERT_TRUE(Sync().ok());
  EXPECT_EQ(Tree(target_ + "/users", false).size(), 1u);
}

TEST_F(SyncTest, GenerationsChangeOnlyWhenTheTreeChanges) {
  WriteFile(Msg("alice", "cur/1.h:2,"), "a");
  v1::ListUsersRequest req;
  req.set_slot("s1");
  absl::StatusOr<v1::ListUsersResponse> a = core_->ListUsers(req);
  absl::StatusOr<v1::ListUsersResponse> b = core_->ListUsers(req);
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_EQ(a->users(0).generation(), b->users(0).generation());
  rename(Msg("alice", "cur/1.h:2,").c_str(), Msg("alice", "cur/1.h:2,S").c_str());
  absl::StatusOr<v1::ListUsersResponse> c = core_->ListUsers(req);
  ASSERT_TRUE(c.ok());
  EXPECT_GT(c->users(0).generation(), b->users(0).generation());
  EXPECT_EQ(c->instance_id(), "inst-1");
}

// ksck --verify-data --deep: digests from the disk, not from remembered
// hashes. A byte changed with size and mtime kept fools the cache, not the
// deep listing.
TEST_F(SyncTest, DeepDigestsReadTheDisk) {
  WriteFile(Msg("alice", "cur/1.h:2,"), "hello");
  v1::ListUsersRequest req;
  req.set_slot("s1");
  req.set_include_digests(true);
  absl::StatusOr<v1::ListUsersResponse> cached = core_->ListUsers(req);
  ASSERT_TRUE(cached.ok()) << cached.status();
  struct stat st;
  ASSERT_EQ(stat(Msg("alice", "cur/1.h:2,").c_str(), &st), 0);
  {
    std::fstream f(Msg("alice", "cur/1.h:2,"), std::ios::in | std::ios::out | std::ios::binary);
    f.put('J');
  }
  struct timespec times[2] = {st.st_atim, st.st_mtim};
  ASSERT_EQ(utimensat(AT_FDCWD, Msg("alice", "cur/1.h:2,").c_str(), times, 0), 0);
  absl::StatusOr<v1::ListUsersResponse> again = core_->ListUsers(req);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->users(0).digest(), cached->users(0).digest());  // the cache is believed
  req.set_deep(true);
  absl::StatusOr<v1::ListUsersResponse> deep = core_->ListUsers(req);
  ASSERT_TRUE(deep.ok()) << deep.status();
  EXPECT_NE(deep->users(0).digest(), cached->users(0).digest());
  WriteFile(Msg("alice", "cur/1.h:2,"), "hello");
  ASSERT_EQ(utimensat(AT_FDCWD, Msg("alice", "cur/1.h:2,").c_str(), times, 0), 0);
  deep = core_->ListUsers(req);
  ASSERT_TRUE(deep.ok());
  EXPECT_EQ(deep->users(0).digest(), cached->users(0).digest());
}

TEST_F(SyncTest, InotifyTracksNewFoldersAndImmediateChanges) {
  WriteFile(Msg("alice", "cur/1.h:2,"), "a");
  v1::ListUsersRequest req;
  req.set_slot("s1");
  auto gen = [&]() {
    absl::StatusOr<v1::ListUsersResponse> r = core_->ListUsers(req);
    EXPECT_TRUE(r.ok()) << r.status();
    return r.ok() && r->users_size() > 0 ? r->users(0).generation() : 0;
  };
  uint64_t g0 = gen();
  EXPECT_EQ(gen(), g0);
  MkdirP(Msg("alice", ".New/cur"));
  uint64_t g1 = gen();
  EXPECT_GT(g1, g0);
  EXPECT_EQ(gen(), g1);
  // A file in the folder created after the watches were set up.
  WriteFile(Msg("alice", ".New/cur/2.h:2,"), "b");
  uint64_t g2 = gen();
  EXPECT_GT(g2, g1);
  // Changes in quick succession are each seen (no timestamp granularity).
  rename(Msg("alice", ".New/cur/2.h:2,").c_str(), Msg("alice", ".New/cur/2.h:2,S").c_str());
  EXPECT_GT(gen(), g2);
}

// A manifest whose client went away (a deadline, a cancellation, the
// server shutting down) stops scanning instead of holding its handler.
TEST_F(SyncTest, AManifestScanStopsOnceItsCallIsCancelled) {
  for (int i = 0; i < 600; ++i) WriteFile(Msg("alice", "cur/" + std::to_string(i)), "x");
  v1::GetManifestRequest request;
  request.set_slot("s1");
  request.set_user("alice");
  int asked = 0;
  bool wrote = false;
  absl::Status s = core_->GetManifest(
      request,
      [&](const v1::ManifestChunk&) {
        wrote = true;
        return true;
      },
      [&] { return ++asked > 1; });  // the call ends during the scan
  EXPECT_TRUE(absl::IsCancelled(s)) << s;
  EXPECT_FALSE(wrote);
  EXPECT_EQ(asked, 2);
}

}  // namespace
}  // namespace slotkeeper::sync
