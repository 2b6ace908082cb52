// Which files the source side serves (PeerCore behind a real gRPC server on
// 127.0.0.1 port 0, real files): regular files of the slot only, never a
// FIFO or device, never a hard link to a file the user does not own.
#include <fcntl.h>
#include <grpcpp/grpcpp.h>
#include <sys/stat.h>
#include <unistd.h>

#include <string>
#include <thread>
#include <vector>

#include "absl/synchronization/notification.h"
#include "gtest/gtest.h"
#include "replicator/sync/peer_client.h"
#include "replicator/sync/sync_test_util.h"

namespace slotkeeper::sync {
namespace {

// What a FetchFiles call of one path brings back.
struct Served {
  std::string data;
  std::string error;
  grpc::Status status;
};

Served FetchOne(v1::ReplicaPeer::Stub* stub, const std::string& user, const std::string& path) {
  v1::FetchFilesRequest req;
  req.set_slot("s1");
  req.set_user(user);
  req.add_files()->set_path(path);
  grpc::ClientContext ctx;
  auto reader = stub->FetchFiles(&ctx, req);
  v1::FileChunk chunk;
  Served out;
  while (reader->Read(&chunk)) {
    out.data += chunk.data();
    if (!chunk.error().empty()) out.error = chunk.error();
  }
  out.status = reader->Finish();
  return out;
}

std::vector<std::string> ListedFiles(v1::ReplicaPeer::Stub* stub, const std::string& user) {
  absl::StatusOr<Manifest> m = PeerClient(stub, "s1").GetManifest(user, nullptr);
  EXPECT_TRUE(m.ok()) << m.status();
  std::vector<std::string> files;
  if (!m.ok()) return files;
  for (const ManifestEntry& e : *m) {
    if (!e.directory()) files.push_back(e.path());
  }
  return files;
}

// A FIFO in a Maildir (a local user's mkfifo): never listed, and a replica
// asking for it gets an error chunk at once instead of a source thread
// blocked in open() for good.
TEST_F(SyncTest, AFifoIsNeitherListedNorOpenedBlocking) {
  WriteFile(Msg("alice", "cur/1.h:2,S"), "mail");
  const std::string fifo = Msg("alice", "cur/2.h:2,S");
  ASSERT_EQ(mkfifo(fifo.c_str(), 0600), 0);
  EXPECT_EQ(ListedFiles(stub_.get(), "alice"), std::vector<std::string>{"cur/1.h:2,S"});

  absl::Notification served;
  Served result;
  std::thread fetch([&] {
    result = FetchOne(stub_.get(), "alice", "cur/2.h:2,S");
    served.Notify();
  });
  // A hang shows as a failure, not as a test that never ends: a writer
  // opening the FIFO releases an open() blocked on it.
  const bool answered = served.WaitForNotificationWithTimeout(absl::Seconds(20));
  if (!answered) {
    int unblock = open(fifo.c_str(), O_WRONLY | O_NONBLOCK | O_CLOEXEC);
    if (unblock >= 0) close(unblock);
  }
  fetch.join();
  EXPECT_TRUE(answered) << "FetchFiles of a FIFO blocked the source";
  EXPECT_TRUE(result.status.ok()) << result.status.error_message();
  EXPECT_EQ(result.data, "");
  EXPECT_NE(result.error.find("not a regular file"), std::string::npos) << result.error;
}

// A hard link into a Maildir of a file from outside the slot (/etc/shadow
// when the slot shares the root filesystem), owned by someone other than
// the user directory's owner: never listed, never served, never copied.
// Dovecot's own links (one delivery to several users, a copy between
// folders), all owned by the mail user, are served as before.
TEST_F(SyncTest, AHardLinkToAFileTheUserDoesNotOwnIsNotServed) {
  constexpr uid_t kMail = 4321;
  WriteFile(base_ + "/probe", "");
  if (chown((base_ + "/probe").c_str(), kMail, kMail) != 0) {
    GTEST_SKIP() << "cannot give files other owners here (needs root outside a user namespace)";
  }
  WriteFile(Msg("alice", "cur/1.h:2,S"), "mail");
  WriteFile(Msg("bob", "cur/9.h:2,S"), "bob's");
  WriteFile(base_ + "/shadow", "root:$6$secret", 1700000000, 0600);  // owned by root
  for (const std::string& p : {Msg("alice", ""), Msg("alice", "cur"), Msg("alice", "cur/1.h:2,S"),
                               Msg("bob", ""), Msg("bob", "cur"), Msg("bob", "cur/9.h:2,S")}) {
    ASSERT_EQ(chown(p.c_str(), kMail, kMail), 0) << p;
  }
  ASSERT_EQ(link((base_ + "/shadow").c_str(), Msg("alice", "cur/2.h:2,S").c_str()), 0);
  // Dovecot: one delivery to two users, one message copied between folders.
  ASSERT_EQ(link(Msg("alice", "cur/1.h:2,S").c_str(), Msg("bob", "cur/1.h:2,S").c_str()), 0);
  MkdirP(Msg("alice", ".Archive/cur"));
  ASSERT_EQ(link(Msg("bob", "cur/9.h:2,S").c_str(), Msg("alice", ".Archive/cur/9.h:2,S").c_str()),
            0);

  EXPECT_EQ(ListedFiles(stub_.get(), "alice"),
            (std::vector<std::string>{".Archive/cur/9.h:2,S", "cur/1.h:2,S"}));
  Served secret = FetchOne(stub_.get(), "alice", "cur/2.h:2,S");
  EXPECT_TRUE(secret.status.ok());
  EXPECT_EQ(secret.data, "");
  EXPECT_NE(secret.error.find("hard link"), std::string::npos) << secret.error;
  EXPECT_EQ(FetchOne(stub_.get(), "bob", "cur/1.h:2,S").data, "mail");

  ASSERT_TRUE(Sync().ok());
  EXPECT_FALSE(Exists(target_ + "/users/alice/cur/2.h:2,S"));
  EXPECT_EQ(ReadFile(target_ + "/users/alice/cur/1.h:2,S"), "mail");
  EXPECT_EQ(ReadFile(target_ + "/users/bob/cur/1.h:2,S"), "mail");
  EXPECT_EQ(ReadFile(target_ + "/users/alice/.Archive/cur/9.h:2,S"), "bob's");
}

}  // namespace
}  // namespace slotkeeper::sync
