// A replica synced from a hostile source (a ScriptedPeer over real gRPC on
// 127.0.0.1 answering whatever the test scripts) into a real target slot:
// what the replica refuses to write, whatever the source claims.
#include <sys/stat.h>

#include <atomic>
#include <memory>
#include <string>

#include "gtest/gtest.h"
#include "replicator/sync/scripted_peer.h"
#include "replicator/sync/store_sync.h"
#include "replicator/sync/sync_test_util.h"

namespace slotkeeper::sync {
namespace {

constexpr int64_t kMtimeNs = 1'700'000'000'000'000'000;

std::string HashOf(const std::string& data) {
  ContentHasher hasher;
  hasher.Update(data.data(), data.size());
  return hasher.Finish();
}

// Counts the bytes the replica writes, whatever file they go to.
class WriteCountingFs : public TargetFs {
 public:
  std::atomic<uint64_t> bytes{0};
  absl::Status Write(int fd, const char* data, size_t n) override {
    bytes += n;
    return TargetFs::Write(fd, data, n);
  }
};

class HostileSourceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const ::testing::TestInfo* info = ::testing::UnitTest::GetInstance()->current_test_info();
    const std::string base = Tmp() + "/" + info->name();
    target_ = base + "/target";
    MkdirP(target_);
    db_ = OpenDb(base + "/target.db");
    absl::StatusOr<Fd> root = OpenRootDir(target_);
    ASSERT_TRUE(root.ok());
    target_root_ = *std::move(root);
    ASSERT_TRUE(EnsureSlotIdentity(target_root_.get(), DefaultTargetFs()).ok());
    std::shared_ptr<grpc::Channel> channel;
    server_ = ServeOnLoopback(&peer_, &channel, &address_);
    ASSERT_NE(server_, nullptr);
    stub_ = v1::ReplicaPeer::NewStub(channel);
    peer_.list_response.set_slot("s1");
    peer_.list_response.set_instance_id("hostile");
    v1::UserSummary* alice = peer_.list_response.add_users();
    alice->set_user("alice");
    alice->set_generation(1);
  }
  void TearDown() override {
    peer_.gate.Open();
    if (server_ != nullptr) server_->Shutdown();
  }

  // A full manifest of one chunk (the last), listing `entries`.
  v1::ManifestChunk& Manifest(std::initializer_list<ManifestEntry> entries) {
    v1::ManifestChunk& c = peer_.manifest_chunks.emplace_back();
    for (const ManifestEntry& e : entries) *c.add_entries() = e;
    c.set_last(true);
    return c;
  }

  static ManifestEntry File(const std::string& path, const std::string& content, uint32_t mode) {
    ManifestEntry e;
    e.set_path(path);
    e.set_size(content.size());
    e.set_mtime_ns(kMtimeNs);
    e.set_mode(mode);
    e.set_hash(HashOf(content));
    return e;
  }

  static ManifestEntry Dir(const std::string& path, uint32_t mode) {
    ManifestEntry e;
    e.set_path(path);
    e.set_directory(true);
    e.set_mode(mode);
    return e;
  }

  v1::FileChunk& Chunk(uint64_t offset, const std::string& data, bool eof) {
    v1::FileChunk& c = peer_.file_chunks.emplace_back();
    c.set_offset(offset);
    c.set_data(data);
    c.set_eof(eof);
    return c;
  }

  absl::StatusOr<StoreSyncResult> Sync(TargetFs* fs, StoreSyncResult* partial) {
    const PeerClient source(stub_.get(), "s1", address_);
    StoreSyncContext ctx;
    ctx.source = &source;
    ctx.target_root = target_root_.get();
    ctx.target_slot = "t1";
    ctx.options.parallel_users = 1;
    ctx.db = db_.get();
    ctx.fs = fs;
    ctx.clock = &clock_;
    ctx.counters = &counters_;
    return SyncStore(ctx, partial);
  }

  mode_t ModeOf(const std::string& rel) {
    struct stat st;
    EXPECT_EQ(lstat((target_ + "/users/alice/" + rel).c_str(), &st), 0) << rel;
    return st.st_mode & 07777;
  }

  ScriptedPeer peer_;
  std::unique_ptr<grpc::Server> server_;
  std::unique_ptr<v1::ReplicaPeer::Stub> stub_;
  std::string address_;
  std::string target_;
  std::unique_ptr<rocksdb::DB> db_;
  Fd target_root_;
  FakeClock clock_;
  SyncCounters counters_;
};

// The agent runs as root: a setuid-root file on a replica would be a root
// shell for whoever can run it. Modes from a source are permission bits
// only, on files, directories and the user directory alike.
TEST_F(HostileSourceTest, SetuidSetgidAndStickyBitsNeverReachTheReplica) {
  Manifest({Dir("cur", 07777), File("cur/1.h:2,S", "mail", 06755)}).set_user_mode(07755);
  Chunk(0, "mail", true).set_mode(06755);
  StoreSyncResult partial;
  absl::StatusOr<StoreSyncResult> r = Sync(DefaultTargetFs(), &partial);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(ReadFile(target_ + "/users/alice/cur/1.h:2,S"), "mail");
  EXPECT_EQ(ModeOf("cur/1.h:2,S"), 0755u);
  EXPECT_EQ(ModeOf("cur"), 0777u);
  EXPECT_EQ(ModeOf(""), 0755u);
}

// A 10-byte manifest entry and a source that keeps sending: the file is
// abandoned at its 11th byte, not at the end of the stream.
TEST_F(HostileSourceTest, AFileLargerThanDeclaredIsAbortedAtOnce) {
  Manifest({File("cur/1.h:2,S", "0123456789", 0600)});
  const std::string block(64 * 1024, 'x');
  constexpr int kBlocks = 40;  // 2.5 MiB for a file of 10 bytes
  for (int i = 0; i < kBlocks; ++i) Chunk(uint64_t{64} * 1024 * i, block, i + 1 == kBlocks);
  WriteCountingFs fs;
  StoreSyncResult partial;
  absl::StatusOr<StoreSyncResult> r = Sync(&fs, &partial);
  ASSERT_FALSE(r.ok());
  ASSERT_EQ(partial.failed_users.size(), 1u);
  const std::string& why = partial.failed_users[0];
  EXPECT_NE(why.find("alice"), std::string::npos) << why;
  EXPECT_NE(why.find("cur/1.h:2,S"), std::string::npos) << why;
  EXPECT_NE(why.find("declared size of 10 bytes"), std::string::npos) << why;
  EXPECT_LE(fs.bytes.load(), 10u);
  EXPECT_FALSE(Exists(target_ + "/users/alice/cur/1.h:2,S"));
  for (const auto& [path, content] : Tree(target_ + "/users", false)) {
    ADD_FAILURE() << "left behind: " << path;
  }
}

// A file name a source must never send: refused before anything is
// written.
TEST_F(HostileSourceTest, FileNamesWithControlCharactersAreRefused) {
  Manifest({File("cur/1\n.h:2,S", "mail", 0600)});
  Chunk(0, "mail", true);
  StoreSyncResult partial;
  absl::StatusOr<StoreSyncResult> r = Sync(DefaultTargetFs(), &partial);
  ASSERT_FALSE(r.ok());
  ASSERT_EQ(partial.failed_users.size(), 1u);
  EXPECT_NE(partial.failed_users[0].find("control character"), std::string::npos)
      << partial.failed_users[0];
  EXPECT_TRUE(Tree(target_ + "/users", false).empty());
}

}  // namespace
}  // namespace slotkeeper::sync
