// The agent-facing facade: two engines (master host, replica host) talking
// over real gRPC on 127.0.0.1.
#include "replicator/sync/engine.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <fstream>
#include <thread>

#include "absl/synchronization/notification.h"
#include "gtest/gtest.h"
#include "replicator/sync/quarantine.h"

namespace slotkeeper::sync {
namespace {

void Write(const std::string& path, const std::string& content) {
  std::string dir = path.substr(0, path.rfind('/'));
  std::string cmd = "mkdir -p '" + dir + "'";
  ASSERT_EQ(system(cmd.c_str()), 0);
  std::ofstream(path) << content;
}

bool Exists(const std::string& path) {
  struct stat st;
  return stat(path.c_str(), &st) == 0;
}

class EngineTest : public ::testing::Test {
 protected:
  void SetUp() override {
    base_ = std::string(getenv("TEST_TMPDIR")) + "/" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name();
    ASSERT_EQ(system(("mkdir -p " + base_ + "/m/slot1 " + base_ + "/r/slot7").c_str()), 0);
    Write(base_ + "/m/slot1/.slotkeeper-store", "store-a\n");
    Write(base_ + "/m/slot1/users/alice/cur/1.h:2,S", "hello");
    Write(base_ + "/m/slot1/users/bob/new/2.h", "world");
    auto master = SyncEngine::Create(base_ + "/m/db", {{"slot1", base_ + "/m/slot1"}}, &clock_,
                                     DefaultTargetFs(), EngineOptions());
    ASSERT_TRUE(master.ok()) << master.status();
    master_ = *std::move(master);
    auto replica = SyncEngine::Create(base_ + "/r/db", {{"slot7", base_ + "/r/slot7"}}, &clock_,
                                      DefaultTargetFs(), EngineOptions());
    ASSERT_TRUE(replica.ok()) << replica.status();
    replica_ = *std::move(replica);
    grpc::ServerBuilder builder;
    int port = 0;
    builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port);
    master_->RegisterService(&builder);
    server_ = builder.BuildAndStart();
    address_ = "127.0.0.1:" + std::to_string(port);
    ASSERT_TRUE(
        grpc::CreateChannel(address_, grpc::InsecureChannelCredentials())
            ->WaitForConnected(std::chrono::system_clock::now() + std::chrono::seconds(30)));
  }
  void TearDown() override {
    replica_.reset();
    server_->Shutdown();
  }

  TaskOutcome Run(v1::TaskKind kind) {
    absl::Notification done;
    TaskOutcome outcome;
    int progress_calls = 0;
    absl::Status s = replica_->StartTask(
        "t1", kind, "store-a", "slot7", address_, "slot1",
        [&](const std::string&, const v1::TaskProgress&) { ++progress_calls; },
        [&](const TaskOutcome& o) {
          outcome = o;
          done.Notify();
        });
    EXPECT_TRUE(s.ok()) << s;
    done.WaitForNotification();
    if (kind != v1::TASK_VERIFY) {
      EXPECT_GT(progress_calls, 0);
    }
    return outcome;
  }

  FakeClock clock_;
  std::string base_, address_;
  std::unique_ptr<SyncEngine> master_, replica_;
  std::unique_ptr<grpc::Server> server_;
};

TEST_F(EngineTest, ReReplicationCopiesVerifiesAndWritesTheStoreMarker) {
  TaskOutcome o = Run(v1::TASK_RE_REPLICATE);
  EXPECT_EQ(o.state, v1::TASK_DONE) << o.error;
  EXPECT_TRUE(o.verified);
  EXPECT_EQ(o.progress.users_done(), 2u);
  EXPECT_TRUE(Exists(base_ + "/r/slot7/users/alice/cur/1.h:2,S"));
  std::ifstream marker(base_ + "/r/slot7/.slotkeeper-store");
  std::string name;
  marker >> name;
  EXPECT_EQ(name, "store-a");
}

TEST_F(EngineTest, VerifyReportsDifferences) {
  EXPECT_EQ(Run(v1::TASK_RE_REPLICATE).state, v1::TASK_DONE);
  Write(base_ + "/r/slot7/users/alice/cur/1.h:2,S", "HELLO");  // bit rot on the replica
  TaskOutcome o = Run(v1::TASK_VERIFY);
  EXPECT_EQ(o.state, v1::TASK_FAILED);
  EXPECT_FALSE(o.verified);
  EXPECT_NE(o.error.find("alice/cur/1.h:2,S content differs"), std::string::npos) << o.error;
}

TEST_F(EngineTest, WrongStoreIsRefused) {
  absl::Notification done;
  TaskOutcome outcome;
  ASSERT_TRUE(replica_
                  ->StartTask("t2", v1::TASK_RE_REPLICATE, "store-b", "slot7", address_, "slot1",
                              nullptr,
                              [&](const TaskOutcome& o) {
                                outcome = o;
                                done.Notify();
                              })
                  .ok());
  done.WaitForNotification();
  EXPECT_EQ(outcome.state, v1::TASK_FAILED);
  EXPECT_FALSE(Exists(base_ + "/r/slot7/users/alice"));
}

TEST_F(EngineTest, BadInputsAreRefused) {
  EXPECT_TRUE(absl::IsNotFound(replica_->StartTask("t", v1::TASK_RE_REPLICATE, "s", "nope",
                                                   address_, "slot1", nullptr, nullptr)));
  EXPECT_TRUE(absl::IsInvalidArgument(replica_->StartTask(
      "t", v1::TASK_RE_REPLICATE, "s", "slot7", "not an address", "slot1", nullptr, nullptr)));
  EXPECT_TRUE(absl::IsNotFound(replica_->CancelTask("nope")));
}

TEST_F(EngineTest, RollingCatchUpAndRelease) {
  // The catch-up loop sleeps on the fake clock between cycles: keep time
  // moving so that it cycles and can be stopped.
  std::atomic<bool> done{false};
  std::thread ticker([&]() {
    while (!done) {
      clock_.Advance(absl::Milliseconds(100));
      usleep(2000);
    }
  });
  ASSERT_TRUE(replica_->AssignReplica("slot7", "store-a", address_, "slot1").ok());
  // The first cycle runs at once; wait (real time, generous) for it.
  for (int i = 0; i < 200; ++i) {
    std::vector<ReplicaState> st = replica_->ReplicationStatus();
    if (!st.empty() && st[0].in_sync) break;
    usleep(20000);
  }
  std::vector<ReplicaState> st = replica_->ReplicationStatus();
  ASSERT_EQ(st.size(), 1u);
  EXPECT_TRUE(st[0].in_sync) << st[0].last_error;
  EXPECT_TRUE(Exists(base_ + "/r/slot7/users/bob/new/2.h"));
  ASSERT_TRUE(replica_->ReleaseSlot("slot7", "store-a").ok());
  EXPECT_TRUE(replica_->ReplicationStatus().empty());
  EXPECT_FALSE(Exists(base_ + "/r/slot7/users/bob"));
  EXPECT_TRUE(
      Exists(base_ + "/r/slot7/.quarantine/" + QuarantineDay(clock_.Now()) + "/bob/new/2.h"));
  EXPECT_FALSE(Exists(base_ + "/r/slot7/.slotkeeper-store"));
  done = true;
  ticker.join();
}

}  // namespace
}  // namespace slotkeeper::sync
