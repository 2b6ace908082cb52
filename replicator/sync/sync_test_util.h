// Test helpers of the data path: fault-injecting and counting TargetFs, and
// a fixture with a source (PeerCore behind a real gRPC server on 127.0.0.1
// port 0, gates in front of its calls: gated_peer.h) and a target slot with
// its RocksDB, under a FakeClock. Test-only.
#ifndef SLOTKEEPER_REPLICATOR_SYNC_SYNC_TEST_UTIL_H_
#define SLOTKEEPER_REPLICATOR_SYNC_SYNC_TEST_UTIL_H_

#include <errno.h>
#include <fcntl.h>
#include <grpcpp/grpcpp.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <fstream>
#include <map>
#include <memory>
#include <sstream>
#include <string>

#include "base/clock.h"
#include "base/grpc_util.h"
#include "gtest/gtest.h"
#include "replicator/sync/gated_peer.h"
#include "replicator/sync/peer_service.h"
#include "replicator/sync/slot_layout.h"
#include "replicator/sync/store_sync.h"
#include "replicator/sync/test_files.h"
#include "replicator/sync/user_sync.h"
#include "rocksdb/db.h"

namespace slotkeeper::sync {

// Writes fail with ENOSPC after a budget, or flip a byte of the Nth write.
class FaultyFs : public TargetFs {
 public:
  std::atomic<int64_t> byte_budget{-1};  // -1: unlimited
  std::atomic<int> corrupt_write{-1};    // index of the write to corrupt
  std::atomic<int> writes{0};
  absl::Status Write(int fd, const char* data, size_t n) override {
    int index = writes.fetch_add(1);
    if (byte_budget >= 0) {
      if (static_cast<int64_t>(n) > byte_budget) return ErrnoStatus(ENOSPC, "write");
      byte_budget -= n;
    }
    if (index == corrupt_write && n > 0) {
      std::string copy(data, n);
      copy[n / 2] ^= 0x55;
      return TargetFs::Write(fd, copy.data(), n);
    }
    return TargetFs::Write(fd, data, n);
  }
};

// Counts the durability, rename and metadata calls of the data path.
class CountingFs : public TargetFs {
 public:
  std::atomic<int> fsyncs{0}, syncfs{0}, renames{0}, no_replace_renames{0}, metadata{0};
  absl::Status Sync(int fd) override {
    fsyncs++;
    return TargetFs::Sync(fd);
  }
  absl::Status SyncFilesystem(int fd) override {
    syncfs++;
    return TargetFs::SyncFilesystem(fd);
  }
  absl::Status Rename(int from_dir, const std::string& from, int to_dir,
                      const std::string& to) override {
    renames++;
    return TargetFs::Rename(from_dir, from, to_dir, to);
  }
  absl::Status RenameNoReplace(int from_dir, const std::string& from, int to_dir,
                               const std::string& to) override {
    no_replace_renames++;
    return TargetFs::RenameNoReplace(from_dir, from, to_dir, to);
  }
  absl::Status SetMetadata(int dirfd, const std::string& name, int64_t mtime_ns,
                           uint32_t mode) override {
    metadata++;
    return TargetFs::SetMetadata(dirfd, name, mtime_ns, mode);
  }
};

class SyncTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const ::testing::TestInfo* info = ::testing::UnitTest::GetInstance()->current_test_info();
    base_ = Tmp() + "/" + info->name();
    source_ = base_ + "/source";
    target_ = base_ + "/target";
    MkdirP(source_ + "/users");
    MkdirP(target_);
    source_db_ = OpenDb(base_ + "/source.db");
    target_db_ = OpenDb(base_ + "/target.db");
    source_cache_ = std::make_unique<RocksHashCache>(source_db_.get());
    StartSource("inst-1");
    absl::StatusOr<Fd> root = OpenRootDir(target_);
    ASSERT_TRUE(root.ok());
    target_root_ = *std::move(root);
    // A seeded slot: its instance file exists before the first sync, so the
    // tests count only the sync's own writes.
    ASSERT_TRUE(EnsureSlotIdentity(target_root_.get(), DefaultTargetFs()).ok());
  }
  void TearDown() override {
    if (service_ != nullptr) service_->OpenAll();
    if (server_ != nullptr) server_->Shutdown();
  }

  // (Re)starts the source's PeerCore and server: a new process instance;
  // with `same_port`, on the port it had (clients' channels reconnect).
  void StartSource(const std::string& instance_id, DeltaLimits limits = DeltaLimits(),
                   bool same_port = false) {
    if (service_ != nullptr) service_->OpenAll();
    if (server_ != nullptr) server_->Shutdown();
    stub_.reset();
    server_.reset();
    service_.reset();
    core_ = std::make_unique<PeerCore>(std::map<std::string, std::string>{{"s1", source_}},
                                       source_cache_.get(), &clock_, instance_id, absl::Minutes(10),
                                       limits);
    service_ = std::make_unique<GatedPeer>(core_.get());
    grpc::ServerBuilder builder;
    ConfigureServerBuilder(builder);
    int port = 0;
    const std::string listen =
        same_port && !source_address_.empty() ? source_address_ : "127.0.0.1:0";
    EXPECT_TRUE(AddListeningPort(builder, listen, &port).ok());
    builder.RegisterService(service_.get());
    server_ = builder.BuildAndStart();
    ASSERT_NE(port, 0);
    source_address_ = "127.0.0.1:" + std::to_string(port);
    channel_ = MakeChannel(source_address_);
    // Connect before the test starts: a loaded machine must not make the
    // first RPC fail fast.
    ASSERT_TRUE(
        channel_->WaitForConnected(std::chrono::system_clock::now() + std::chrono::seconds(30)));
    stub_ = v1::ReplicaPeer::NewStub(channel_);
  }

  std::string Msg(const std::string& user, const std::string& rel) {
    return source_ + "/users/" + user + "/" + rel;
  }

  absl::StatusOr<StoreSyncResult> Sync(const std::string& only_user = "", TargetFs* fs = nullptr,
                                       const std::atomic<bool>* cancel = nullptr,
                                       ProgressCallback progress = nullptr) {
    const PeerClient source(stub_.get(), "s1", "", timeouts_);
    StoreSyncContext ctx;
    ctx.source = &source;
    ctx.target_root = target_root_.get();
    ctx.target_slot = "t1";
    StoreSyncOptions& options = ctx.options;
    options.only_user = only_user;
    options.parallel_users = 1;
    options.user.batch_files = 3;  // several batches even in small tests
    options.user.durability = durability_;
    options.user.use_delta = use_delta_;
    options.commit_group_users = commit_group_users_;
    ctx.db = target_db_.get();
    ctx.fs = fs ? fs : DefaultTargetFs();
    ctx.clock = &clock_;
    ctx.progress = std::move(progress);
    ctx.cancelled = cancel;
    ctx.counters = &counters_;
    return SyncStore(ctx);
  }

  void ExpectEqualTrees() { EXPECT_EQ(Tree(source_ + "/users"), Tree(target_ + "/users")); }

  FakeClock clock_;
  std::string base_, source_, target_;
  std::string source_address_;  // the source's server, host:port
  std::unique_ptr<rocksdb::DB> source_db_, target_db_;
  std::unique_ptr<RocksHashCache> source_cache_;
  std::unique_ptr<PeerCore> core_;
  std::unique_ptr<GatedPeer> service_;  // gates open unless a test closes them
  std::unique_ptr<grpc::Server> server_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<v1::ReplicaPeer::Stub> stub_;
  Fd target_root_;
  SyncCounters counters_;
  Durability durability_ = Durability::kAuto;
  bool use_delta_ = false;
  size_t commit_group_users_ = 16;
  PeerTimeouts timeouts_;
};

}  // namespace slotkeeper::sync

#endif  // SLOTKEEPER_REPLICATOR_SYNC_SYNC_TEST_UTIL_H_
