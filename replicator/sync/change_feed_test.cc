// Push replication end to end in one process: a source PeerCore behind a
// real gRPC server on 127.0.0.1 with real files and inotify, its change
// feed (change_feed.h) read raw and through a ChangeFollower
// (change_follower.h). Waits are bounded by generous deadlines; nothing
// here asserts a timing.
#include "replicator/sync/change_feed.h"

#include <grpcpp/grpcpp.h>

#include <atomic>
#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "gtest/gtest.h"
#include "replicator/sync/change_follower.h"
#include "replicator/sync/slot_layout.h"
#include "replicator/sync/sync_test_util.h"

namespace slotkeeper::sync {
namespace {

constexpr absl::Duration kPatience = absl::Seconds(30);

// A raw WatchChanges call.
class RawFeed {
 public:
  RawFeed(v1::ReplicaPeer::Stub* stub, const std::string& store, uint32_t heartbeat_ms = 0) {
    v1::WatchChangesRequest request;
    request.set_slot("s1");
    request.set_store(store);
    request.set_heartbeat_ms(heartbeat_ms);
    context_.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(60));
    reader_ = stub->WatchChanges(&context_, request);
  }
  ~RawFeed() {
    if (finished_) return;
    context_.TryCancel();
    v1::ChangeNotice drain;
    while (reader_->Read(&drain)) {
    }
    (void)reader_->Finish();
  }
  bool Read(v1::ChangeNotice* notice) { return reader_->Read(notice); }
  // Once, after Read returned false.
  grpc::Status Finish() {
    finished_ = true;
    return reader_->Finish();
  }
  // Reads until a notice names a user; false when the stream ended.
  bool ReadChange(v1::ChangeNotice* notice) {
    while (Read(notice)) {
      if (notice->users_size() > 0) return true;
    }
    return false;
  }

 private:
  grpc::ClientContext context_;
  std::unique_ptr<grpc::ClientReader<v1::ChangeNotice>> reader_;
  bool finished_ = false;
};

class ChangeFeedTest : public SyncTest {
 protected:
  void SetUp() override {
    SyncTest::SetUp();
    absl::StatusOr<Fd> root = OpenRootDir(source_);
    ASSERT_TRUE(root.ok());
    ASSERT_TRUE(WriteStoreMarker(root->get(), "st1", DefaultTargetFs()).ok());
    for (const char* user : {"alice", "bob"}) {
      for (const char* dir : {"cur", "new", "tmp"}) MkdirP(Msg(user, dir));
      WriteFile(Msg(user, "cur/1.host:2,S"), "old mail");
    }
    // The watches were set up when the core started, before these users.
    StartSource("inst-1");
  }

  // Delivers a message the way an LDA does: tmp/, then rename into new/.
  void Deliver(const std::string& user, const std::string& name) {
    WriteFile(Msg(user, "tmp/" + name), "Subject: hi\n\nbody\n");
    ASSERT_EQ(rename(Msg(user, "tmp/" + name).c_str(), Msg(user, "new/" + name).c_str()), 0);
  }
};

TEST_F(ChangeFeedTest, FirstNoticeListsEveryUserThenOnlyTheChangedOnes) {
  RawFeed feed(stub_.get(), "st1");
  v1::ChangeNotice first;
  ASSERT_TRUE(feed.Read(&first));
  EXPECT_TRUE(first.complete());
  EXPECT_EQ(first.instance_id(), "inst-1");
  ASSERT_EQ(first.users_size(), 2);
  EXPECT_EQ(first.users(0).user(), "alice");
  EXPECT_EQ(first.users(1).user(), "bob");
  const uint64_t bob_before = first.users(1).generation();

  Deliver("bob", "2.host");
  v1::ChangeNotice next;
  ASSERT_TRUE(feed.ReadChange(&next));
  EXPECT_FALSE(next.complete());
  ASSERT_EQ(next.users_size(), 1);
  EXPECT_EQ(next.users(0).user(), "bob");
  EXPECT_GT(next.users(0).generation(), bob_before);
  // Dated by the source's clock, at or before the notice.
  EXPECT_GT(next.users(0).changed_ms(), 0);
  EXPECT_LE(next.users(0).changed_ms(), next.source_time_ms());
}

TEST_F(ChangeFeedTest, HeartbeatsCarryNoUsers) {
  RawFeed feed(stub_.get(), "st1", /*heartbeat_ms=*/100);
  v1::ChangeNotice n;
  ASSERT_TRUE(feed.Read(&n));
  // The feed's heartbeat runs on the source's (fake) clock.
  clock_.Advance(absl::Seconds(1));
  ASSERT_TRUE(feed.Read(&n));
  EXPECT_FALSE(n.complete());
  EXPECT_EQ(n.users_size(), 0);
  EXPECT_EQ(n.source_time_ms(), clock_.NowMs());
}

TEST_F(ChangeFeedTest, RefusesBadRequestsAndAnotherStore) {
  {
    RawFeed feed(stub_.get(), "");
    v1::ChangeNotice n;
    EXPECT_FALSE(feed.Read(&n));
    grpc::Status s = feed.Finish();
    EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
    EXPECT_NE(s.error_message().find("store is required"), std::string::npos);
  }
  {
    RawFeed feed(stub_.get(), "st1", /*heartbeat_ms=*/5);
    v1::ChangeNotice n;
    EXPECT_FALSE(feed.Read(&n));
    grpc::Status s = feed.Finish();
    EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
    EXPECT_NE(s.error_message().find("heartbeat_ms 5"), std::string::npos);
  }
  {
    RawFeed feed(stub_.get(), "st2");
    v1::ChangeNotice n;
    EXPECT_FALSE(feed.Read(&n));
    grpc::Status s = feed.Finish();
    EXPECT_EQ(s.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
    EXPECT_NE(s.error_message().find("does not hold store \"st2\""), std::string::npos);
  }
}

TEST_F(ChangeFeedTest, FeedEndsWhenTheSlotStopsHoldingTheStore) {
  RawFeed feed(stub_.get(), "st1");
  v1::ChangeNotice n;
  ASSERT_TRUE(feed.Read(&n));
  absl::StatusOr<Fd> root = OpenRootDir(source_);
  ASSERT_TRUE(root.ok());
  ASSERT_TRUE(WriteStoreMarker(root->get(), "other", DefaultTargetFs()).ok());
  Deliver("alice", "3.host");
  while (feed.Read(&n)) {
  }
  grpc::Status s = feed.Finish();
  EXPECT_EQ(s.error_code(), grpc::StatusCode::FAILED_PRECONDITION) << s.error_message();
}

// A replica that never reads its feed holds only its own handler: another
// replica's feed still announces every change.
TEST_F(ChangeFeedTest, StalledReaderDoesNotHoldBackAnother) {
  RawFeed stalled(stub_.get(), "st1");
  RawFeed live(stub_.get(), "st1");
  uint64_t alice_seen = 0;
  auto read = [&](v1::ChangeNotice* n) {
    if (!live.Read(n)) return false;
    for (const v1::ChangedUser& u : n->users()) {
      if (u.user() == "alice") alice_seen = u.generation();
    }
    return true;
  };
  v1::ChangeNotice n;
  ASSERT_TRUE(read(&n));
  for (int i = 0; i < 200; ++i) {
    Deliver(i % 2 ? "alice" : "bob", absl::StrCat(100 + i, ".host"));
    if (i % 20 == 0) ASSERT_TRUE(read(&n));
  }
  absl::StatusOr<UserGeneration> now =
      core_->tracker()->RefreshUser(*core_->SlotRoot("s1"), "s1", "alice");
  ASSERT_TRUE(now.ok());
  // Every change up to the last delivery is announced on the live feed.
  const absl::Time deadline = absl::Now() + kPatience;
  while (alice_seen < now->generation && absl::Now() < deadline) {
    clock_.Advance(absl::Seconds(2));  // a heartbeat when nothing is new
    ASSERT_TRUE(read(&n));
  }
  EXPECT_EQ(alice_seen, now->generation);
}

class FollowerTest : public ChangeFeedTest {
 protected:
  std::unique_ptr<ChangeFollower> Follow(FollowerOptions options = FollowerOptions()) {
    return std::make_unique<ChangeFollower>(
        v1::ReplicaPeer::NewStub(channel_), "s1", "st1", &clock_, &stop_, [this] { wakes_++; },
        options);
  }
  // Waits (real time) until `f` holds.
  template <typename F>
  bool Eventually(F f) {
    const absl::Time deadline = absl::Now() + kPatience;
    while (absl::Now() < deadline) {
      if (f()) return true;
      absl::SleepFor(absl::Milliseconds(5));
    }
    return f();
  }
  std::atomic<bool> stop_{false};
  std::atomic<int> wakes_{0};
};

TEST_F(FollowerTest, BaseThenChangesThenCaughtUp) {
  auto follower = Follow();
  ASSERT_TRUE(Eventually([&] { return follower->View(clock_.Monotonic()).pending == 2; }));
  FollowerView v = follower->View(clock_.Monotonic());
  EXPECT_TRUE(v.live);
  // Nothing of the base is durable yet: no catch-up to claim.
  EXPECT_FALSE(v.caught_up_to.has_value());
  std::optional<v1::ListUsersResponse> base = follower->TakeBatch(10);
  ASSERT_TRUE(base.has_value());
  EXPECT_EQ(base->instance_id(), "inst-1");
  EXPECT_EQ(base->users_size(), 2);
  EXPECT_FALSE(follower->TakeBatch(1).has_value()) << "more pending than the batch allows";
  follower->Synced(*base, {});
  v = follower->View(clock_.Monotonic());
  EXPECT_EQ(v.pending, 0u);
  ASSERT_TRUE(v.caught_up_to.has_value());
  EXPECT_FALSE(v.oldest_pending.has_value());

  const int wakes = wakes_;
  clock_.Advance(absl::Seconds(3));
  Deliver("alice", "5.host");
  ASSERT_TRUE(Eventually([&] { return follower->View(clock_.Monotonic()).pending == 1; }));
  EXPECT_GT(wakes_, wakes);
  v = follower->View(clock_.Monotonic());
  ASSERT_TRUE(v.oldest_pending.has_value());
  // The lag counts from the change, on this host's clock.
  clock_.Advance(absl::Seconds(2));
  EXPECT_GE(clock_.Monotonic() - *follower->View(clock_.Monotonic()).oldest_pending,
            absl::Seconds(2));
  std::optional<v1::ListUsersResponse> batch = follower->TakeBatch(10);
  ASSERT_TRUE(batch.has_value());
  ASSERT_EQ(batch->users_size(), 1);
  EXPECT_EQ(batch->users(0).user(), "alice");
  // Blocked (not synced) users stay pending.
  follower->Synced(*batch, {"alice"});
  EXPECT_EQ(follower->View(clock_.Monotonic()).pending, 1u);
  follower->Synced(*batch, {});
  EXPECT_EQ(follower->View(clock_.Monotonic()).pending, 0u);
}

TEST_F(FollowerTest, SourceRestartIsANewBase) {
  auto follower = Follow({.retry_min = absl::Milliseconds(20)});
  ASSERT_TRUE(Eventually([&] { return follower->View(clock_.Monotonic()).pending == 2; }));
  follower->Synced(*follower->TakeBatch(10), {});
  ASSERT_TRUE(follower->View(clock_.Monotonic()).caught_up_to.has_value());
  StartSource("inst-2", DeltaLimits(), /*same_port=*/true);
  // A listing of the old instance clears nothing of the new one's.
  ASSERT_TRUE(Eventually([&] {
    std::optional<v1::ListUsersResponse> b = follower->TakeBatch(10);
    return b.has_value() && b->instance_id() == "inst-2" && b->users_size() == 2;
  }));
  FollowerView v = follower->View(clock_.Monotonic());
  EXPECT_FALSE(v.caught_up_to.has_value()) << "the new base is not synced yet";
  v1::ListUsersResponse old;
  old.set_instance_id("inst-1");
  old.add_users()->set_user("alice");
  follower->Synced(old, {});
  EXPECT_EQ(follower->View(clock_.Monotonic()).pending, 2u);
}

// A master that announces a hostile user name: the notice is refused
// whole, nothing of it becomes pending, and the reason is kept.
class HostileFeed final : public v1::ReplicaPeer::Service {
 public:
  grpc::Status WatchChanges(grpc::ServerContext*, const v1::WatchChangesRequest*,
                            grpc::ServerWriter<v1::ChangeNotice>* writer) override {
    v1::ChangeNotice n;
    n.set_instance_id("evil");
    n.set_complete(true);
    n.add_users()->set_user("alice");
    n.add_users()->set_user("../../etc");
    writer->Write(n);
    return grpc::Status::OK;
  }
};

TEST(FollowerHostileTest, RefusesABadUserName) {
  HostileFeed service;
  grpc::ServerBuilder builder;
  int port = 0;
  builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port);
  builder.RegisterService(&service);
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  ASSERT_NE(port, 0);
  auto channel =
      grpc::CreateChannel(absl::StrCat("127.0.0.1:", port), grpc::InsecureChannelCredentials());
  FakeClock clock;
  std::atomic<bool> stop{false};
  ChangeFollower follower(v1::ReplicaPeer::NewStub(channel), "s1", "st1", &clock, &stop, nullptr);
  const absl::Time deadline = absl::Now() + kPatience;
  FollowerView v;
  while (absl::Now() < deadline) {
    v = follower.View(clock.Monotonic());
    if (v.last_error.find("refused") != std::string::npos) break;
    absl::SleepFor(absl::Milliseconds(5));
  }
  EXPECT_NE(v.last_error.find("change notice refused"), std::string::npos) << v.last_error;
  EXPECT_EQ(v.pending, 0u);
  EXPECT_FALSE(v.live);
  stop = true;
  server->Shutdown();
}

}  // namespace
}  // namespace slotkeeper::sync
