// The agent-facing facade: two engines (master host, replica host) talking
// over real gRPC on 127.0.0.1.
#include "replicator/sync/engine.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <fstream>
#include <optional>
#include <thread>

#include "absl/synchronization/notification.h"
#include "gtest/gtest.h"
#include "replicator/sync/gated_peer.h"
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

// These tests follow a master by polling (its timing is what they script
// on the FakeClock); push replication has its own tests
// (catch_up_push_test, //tests/e2e:push_replication_test).
EngineOptions PollingOptions() {
  EngineOptions options;
  options.push = false;
  return options;
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
                                     DefaultTargetFs(), PollingOptions());
    ASSERT_TRUE(master.ok()) << master.status();
    master_ = *std::move(master);
    auto replica = SyncEngine::Create(base_ + "/r/db", {{"slot7", base_ + "/r/slot7"}}, &clock_,
                                      DefaultTargetFs(), PollingOptions());
    ASSERT_TRUE(replica.ok()) << replica.status();
    replica_ = *std::move(replica);
    grpc::ServerBuilder builder;
    ConfigureServerBuilder(builder);
    int port = 0;
    builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port);
    master_->RegisterService(&builder);
    server_ = builder.BuildAndStart();
    address_ = "127.0.0.1:" + std::to_string(port);
    ASSERT_TRUE(
        grpc::CreateChannel(address_, grpc::InsecureChannelCredentials())
            ->WaitForConnected(std::chrono::system_clock::now() + std::chrono::seconds(30)));
    // The same source behind gates: a source that hangs when a test says so.
    gated_ = std::make_unique<GatedPeer>(master_->peer());
    grpc::ServerBuilder gated_builder;
    ConfigureServerBuilder(gated_builder);
    int gated_port = 0;
    gated_builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &gated_port);
    gated_builder.RegisterService(gated_.get());
    gated_server_ = gated_builder.BuildAndStart();
    gated_address_ = "127.0.0.1:" + std::to_string(gated_port);
  }
  void TearDown() override {
    replica_.reset();
    gated_->OpenAll();
    gated_server_->Shutdown();
    server_->Shutdown();
  }

  // A new replica engine (the old one closed first: same database).
  void RestartReplica(const EngineOptions& options) {
    replica_.reset();
    auto replica = SyncEngine::Create(base_ + "/r/db", {{"slot7", base_ + "/r/slot7"}}, &clock_,
                                      DefaultTargetFs(), options);
    ASSERT_TRUE(replica.ok()) << replica.status();
    replica_ = *std::move(replica);
  }

  // A re-replication into slot7 running on its own; Wait() gives its
  // outcome (nullopt when it has not ended within a minute, real time).
  struct Started {
    absl::Notification done;
    TaskOutcome outcome;
    std::optional<TaskOutcome> Wait() {
      if (!done.WaitForNotificationWithTimeout(absl::Seconds(60))) return std::nullopt;
      return outcome;
    }
  };
  std::unique_ptr<Started> Start(const std::string& task_id, const std::string& address,
                                 const std::string& store = "store-a") {
    auto started = std::make_unique<Started>();
    Started* raw = started.get();
    absl::Status s = replica_->StartTask(task_id, v1::TASK_RE_REPLICATE, store, "slot7", address,
                                         "slot1", nullptr, [raw](const TaskOutcome& o) {
                                           raw->outcome = o;
                                           raw->done.Notify();
                                         });
    EXPECT_TRUE(s.ok()) << s;
    return started;
  }

  // Limits no test reaches: only a cancellation ends a hung call.
  static EngineOptions PatientOptions() {
    EngineOptions options = PollingOptions();
    options.peer.call = options.peer.manifest = options.peer.stall = absl::Hours(1);
    return options;
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
  std::unique_ptr<GatedPeer> gated_;
  std::unique_ptr<grpc::Server> gated_server_;
  std::string gated_address_;
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
  std::optional<TaskOutcome> outcome = Start("t2", address_, "store-b")->Wait();
  ASSERT_TRUE(outcome.has_value());
  EXPECT_EQ(outcome->state, v1::TASK_FAILED);
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

// A source that stops mid-copy: the task fails with the stall, naming the
// source and the user, instead of waiting forever.
TEST_F(EngineTest, AStalledSourceFailsTheTask) {
  EngineOptions options = PollingOptions();
  options.peer.stall = absl::Milliseconds(300);
  RestartReplica(options);
  gated_->fetch_after.Close();
  std::unique_ptr<Started> task = Start("t1", gated_address_);
  std::optional<TaskOutcome> o = task->Wait();
  ASSERT_TRUE(o.has_value());
  EXPECT_EQ(o->state, v1::TASK_FAILED);
  EXPECT_NE(o->error.find("FetchFiles of user "), std::string::npos) << o->error;
  EXPECT_NE(o->error.find("from source slot slot1 at " + gated_address_ + ": no data for 300ms"),
            std::string::npos)
      << o->error;
}

// The work's calls are cancelled: CancelTask, UnassignReplica, StopPulling
// and Stop return while the source hangs, and the source sees its calls
// end.
TEST_F(EngineTest, CancelTaskEndsATaskWhoseSourceHangs) {
  RestartReplica(PatientOptions());
  gated_->fetch_after.Close();
  std::unique_ptr<Started> task = Start("t1", gated_address_);
  ASSERT_TRUE(gated_->fetch_after.AwaitHeld(1));
  ASSERT_TRUE(replica_->CancelTask("t1").ok());
  std::optional<TaskOutcome> o = task->Wait();
  ASSERT_TRUE(o.has_value());
  EXPECT_EQ(o->state, v1::TASK_CANCELLED) << o->error;
  EXPECT_TRUE(gated_->fetch_after.AwaitCancelled(1));
}

TEST_F(EngineTest, UnassignAndStopPullingReturnWhileTheSourceHangs) {
  RestartReplica(PatientOptions());
  gated_->list_users.Close();
  ASSERT_TRUE(replica_->AssignReplica("slot7", "store-a", gated_address_, "slot1").ok());
  ASSERT_TRUE(gated_->list_users.AwaitHeld(1));
  ASSERT_TRUE(replica_->UnassignReplica("slot7").ok());
  EXPECT_TRUE(replica_->ReplicationStatus().empty());
  EXPECT_TRUE(gated_->list_users.AwaitCancelled(1));

  // Promoted while a task copies into it and its loop waits for a listing.
  gated_->list_users.Open();
  gated_->fetch_after.Close();
  std::unique_ptr<Started> task = Start("t2", gated_address_);
  ASSERT_TRUE(gated_->fetch_after.AwaitHeld(1));
  gated_->list_users.Close();
  ASSERT_TRUE(replica_->AssignReplica("slot7", "store-a", gated_address_, "slot1").ok());
  ASSERT_TRUE(gated_->list_users.AwaitHeld(1));
  replica_->StopPulling("slot7");
  EXPECT_TRUE(replica_->ReplicationStatus().empty());
  std::optional<TaskOutcome> o = task->Wait();
  ASSERT_TRUE(o.has_value());
  EXPECT_EQ(o->state, v1::TASK_CANCELLED) << o->error;
}

TEST_F(EngineTest, ReleaseAndStopReturnWhileTheSourceHangs) {
  RestartReplica(PatientOptions());
  ASSERT_EQ(Run(v1::TASK_RE_REPLICATE).state, v1::TASK_DONE);
  gated_->list_users.Close();
  ASSERT_TRUE(replica_->AssignReplica("slot7", "store-a", gated_address_, "slot1").ok());
  ASSERT_TRUE(gated_->list_users.AwaitHeld(1));
  // The loop's call is cancelled and the loop has ended before the users go
  // to the quarantine.
  ASSERT_TRUE(replica_->ReleaseSlot("slot7", "store-a").ok());
  EXPECT_FALSE(Exists(base_ + "/r/slot7/users/bob"));
  EXPECT_TRUE(gated_->list_users.AwaitCancelled(1));

  // A loop and a task both wait for a listing.
  ASSERT_TRUE(replica_->AssignReplica("slot7", "store-a", gated_address_, "slot1").ok());
  ASSERT_TRUE(replica_
                  ->StartTask("t2", v1::TASK_RE_REPLICATE, "store-a", "slot7", gated_address_,
                              "slot1", nullptr, nullptr)
                  .ok());
  ASSERT_TRUE(gated_->list_users.AwaitHeld(2));
  replica_->Stop();
  EXPECT_TRUE(gated_->list_users.AwaitCancelled(3));
  EXPECT_TRUE(absl::IsFailedPrecondition(
      replica_->AssignReplica("slot7", "store-a", gated_address_, "slot1")));
}

// Polls (real time, bounded) until the slot's state satisfies `done`.
template <typename Pred>
ReplicaState AwaitState(SyncEngine* engine, Pred done) {
  for (int i = 0; i < 3000; ++i) {
    std::vector<ReplicaState> st = engine->ReplicationStatus();
    if (st.size() == 1 && done(st[0])) return st[0];
    usleep(20000);
  }
  ADD_FAILURE() << "replica state not reached";
  return ReplicaState();
}

ReplicaState StateOf(SyncEngine* engine) {
  std::vector<ReplicaState> st = engine->ReplicationStatus();
  EXPECT_EQ(st.size(), 1u);
  return st.empty() ? ReplicaState() : st[0];
}

// After a restart the replica is not in sync until a catch-up of this
// process completed, although the disk and the checkpoints are current; a
// source that fails or hangs ends in_sync, and the lag grows meanwhile. The
// engine's clock is moved by the test alone (catch_up_interval 5 s,
// stale_after 30 s).
TEST_F(EngineTest, InSyncOnlyAfterACatchUpOfThisProcessAndNeverWhileTheSourceFails) {
  EngineOptions options = PollingOptions();
  options.peer.call = absl::Milliseconds(300);
  RestartReplica(options);
  ASSERT_EQ(Run(v1::TASK_RE_REPLICATE).state, v1::TASK_DONE);  // an earlier process copied it
  RestartReplica(options);                                     // the agent restarts

  gated_->list_users.Close();
  ASSERT_TRUE(replica_->AssignReplica("slot7", "store-a", gated_address_, "slot1").ok());
  ASSERT_TRUE(gated_->list_users.AwaitHeld(1));
  ReplicaState s = StateOf(replica_.get());
  EXPECT_FALSE(s.in_sync);
  EXPECT_NE(s.last_error.find("no catch-up has completed since the agent started"),
            std::string::npos)
      << s.last_error;
  s = AwaitState(replica_.get(), [](const ReplicaState& r) {
    return r.last_error.find("no complete answer within 300ms") != std::string::npos;
  });
  EXPECT_FALSE(s.in_sync);
  clock_.Advance(absl::Seconds(4));
  s = StateOf(replica_.get());
  EXPECT_FALSE(s.in_sync);
  EXPECT_EQ(s.lag_ms, 4000);  // since the assignment

  gated_->list_users.Open();
  clock_.Advance(absl::Seconds(1));  // the next cycle
  s = AwaitState(replica_.get(), [](const ReplicaState& r) { return r.in_sync; });
  EXPECT_EQ(s.lag_ms, 0);
  EXPECT_EQ(s.last_error, "");
  // The coordinator sends the same assignment again: nothing restarts.
  ASSERT_TRUE(replica_->AssignReplica("slot7", "store-a", gated_address_, "slot1").ok());
  EXPECT_TRUE(StateOf(replica_.get()).in_sync);

  // The source hangs in the next cycle (5 s after the last one started).
  gated_->list_users.Close();
  clock_.Advance(absl::Seconds(5));
  ASSERT_TRUE(gated_->list_users.AwaitHeld(1));
  EXPECT_TRUE(StateOf(replica_.get()).in_sync);  // the last success is 5 s old
  clock_.Advance(absl::Seconds(26));
  s = StateOf(replica_.get());
  EXPECT_FALSE(s.in_sync);  // 31 s old, the cycle still waiting
  EXPECT_EQ(s.lag_ms, 31'000);
  s = AwaitState(replica_.get(), [](const ReplicaState& r) {
    return r.last_error.find("did not complete") != std::string::npos;
  });
  EXPECT_FALSE(s.in_sync);
  EXPECT_NE(s.last_error.find("ListUsers on source slot slot1 at " + gated_address_),
            std::string::npos)
      << s.last_error;
  clock_.Advance(absl::Seconds(10));
  EXPECT_EQ(StateOf(replica_.get()).lag_ms, 41'000);
}

// A verification against the master that finds a difference ends in_sync
// until one finds none; a completed catch-up does not clear it (it does not
// look at users at their checkpoint).
TEST_F(EngineTest, AFailedVerificationEndsInSyncUntilOnePasses) {
  ASSERT_TRUE(replica_->AssignReplica("slot7", "store-a", address_, "slot1").ok());
  ReplicaState s = AwaitState(replica_.get(), [](const ReplicaState& r) { return r.in_sync; });
  Write(base_ + "/r/slot7/users/alice/cur/1.h:2,S", "HELLO");
  EXPECT_EQ(Run(v1::TASK_VERIFY).state, v1::TASK_FAILED);
  s = StateOf(replica_.get());
  EXPECT_FALSE(s.in_sync);
  EXPECT_NE(s.last_error.find("a verification found differences"), std::string::npos)
      << s.last_error;
  const int64_t before = s.last_success_ms;
  clock_.Advance(absl::Seconds(5));
  s = AwaitState(replica_.get(),
                 [before](const ReplicaState& r) { return r.last_success_ms > before; });
  EXPECT_FALSE(s.in_sync);
  Write(base_ + "/r/slot7/users/alice/cur/1.h:2,S", "hello");
  EXPECT_EQ(Run(v1::TASK_VERIFY).state, v1::TASK_DONE);
  EXPECT_TRUE(StateOf(replica_.get()).in_sync);
}

}  // namespace
}  // namespace slotkeeper::sync
