#include "replicator/command_handler.h"

#include <sys/stat.h>

#include <fstream>
#include <sstream>
#include <thread>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "replicator/testing/recording_data_plane.h"
#include "replicator/testing/unlinked_data_plane.h"

namespace slotkeeper::replicator {
namespace {

using ::testing::HasSubstr;

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

class CommandHandlerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    static int n = 0;
    dir_ = ::testing::TempDir() + "/handler" + std::to_string(++n);
    ::mkdir(dir_.c_str(), 0755);
    config_.set_data_dir(dir_ + "/data");
    SlotConfig* s = config_.add_slots();
    s->set_name("s01");
    s->set_path("/srv/du1/s01");
    config_.mutable_hooks()->set_timeout_ms(5000);
    config_.mutable_hooks()->set_demote("echo demoted $SLOTKEEPER_SLOT >> " + dir_ + "/demotes");
    Restart();
  }

  void Restart() {
    state_ = std::make_unique<AgentStateStore>(config_.data_dir());
    ASSERT_TRUE(state_->Load().ok());
    handler_ = std::make_unique<CommandHandler>(&config_, &leases_, state_.get(), plane_.get());
  }

  static v1::Command Promote(const std::string& id, uint64_t epoch) {
    v1::Command c;
    c.set_id(id);
    v1::PromoteCommand* p = c.mutable_promote();
    p->set_slot("s01");
    p->set_store("st1");
    p->set_epoch(epoch);
    p->mutable_lease()->set_duration_ms(10'000);
    return c;
  }

  std::string dir_;
  AgentConfig config_;
  FakeClock clock_;
  LeaseManager leases_{&clock_};
  std::unique_ptr<DataPlane> plane_ = testing::MakeUnlinkedDataPlane();
  std::unique_ptr<AgentStateStore> state_;
  std::unique_ptr<CommandHandler> handler_;
};

TEST_F(CommandHandlerTest, PromoteTakesTheLeaseAndRecordsTheRole) {
  config_.mutable_hooks()->set_promote("echo started $SLOTKEEPER_STORE");
  v1::CommandAck ack = handler_->Handle(Promote("c1", 2));
  EXPECT_TRUE(ack.ok()) << ack.error();
  EXPECT_EQ(ack.hook_output(), "started st1\n");
  EXPECT_TRUE(leases_.IsMaster("s01"));
  ASSERT_EQ(state_->Roles().size(), 1u);
  EXPECT_EQ(state_->Roles()[0].role(), "master");
}

TEST_F(CommandHandlerTest, FailingPrePromoteHookVetoes) {
  config_.mutable_hooks()->set_pre_promote("echo disk not ready; false");
  v1::CommandAck ack = handler_->Handle(Promote("c1", 2));
  EXPECT_FALSE(ack.ok());
  EXPECT_THAT(ack.error(), HasSubstr("vetoed"));
  EXPECT_EQ(ack.hook_output(), "disk not ready\n");
  EXPECT_FALSE(leases_.IsMaster("s01"));
}

TEST_F(CommandHandlerTest, FailingPromoteHookGivesTheLeaseBack) {
  config_.mutable_hooks()->set_promote("exit 1");
  EXPECT_FALSE(handler_->Handle(Promote("c1", 2)).ok());
  EXPECT_FALSE(leases_.IsMaster("s01"));
}

TEST_F(CommandHandlerTest, DuplicatesAreAckedNotReappliedEvenAfterARestart) {
  config_.mutable_hooks()->set_promote("echo x >> " + dir_ + "/promotes");
  ASSERT_TRUE(handler_->Handle(Promote("c1", 2)).ok());
  v1::CommandAck again = handler_->Handle(Promote("c1", 2));
  EXPECT_TRUE(again.duplicate());
  EXPECT_TRUE(again.ok());
  Restart();
  again = handler_->Handle(Promote("c1", 2));
  EXPECT_TRUE(again.duplicate());
  EXPECT_EQ(ReadFile(dir_ + "/promotes"), "x\n");
}

TEST_F(CommandHandlerTest, DemoteDropsTheLeaseAndRunsTheHook) {
  ASSERT_TRUE(handler_->Handle(Promote("c1", 2)).ok());
  v1::Command demote;
  demote.set_id("c2");
  demote.mutable_demote()->set_slot("s01");
  demote.mutable_demote()->set_store("st1");
  demote.mutable_demote()->set_epoch(2);
  EXPECT_TRUE(handler_->Handle(demote).ok());
  EXPECT_FALSE(leases_.IsMaster("s01"));
  EXPECT_EQ(ReadFile(dir_ + "/demotes"), "demoted s01\n");
  EXPECT_EQ(state_->Roles()[0].role(), "replica");
}

TEST_F(CommandHandlerTest, ExpiredLeaseIsFencedWithTheDemoteHook) {
  ASSERT_TRUE(handler_->Handle(Promote("c1", 2)).ok());
  EXPECT_TRUE(handler_->FenceExpired().empty());
  clock_.Advance(absl::Seconds(11));
  std::vector<v1::Lease> fenced = handler_->FenceExpired();
  ASSERT_EQ(fenced.size(), 1u);
  EXPECT_EQ(fenced[0].slot(), "s01");
  EXPECT_EQ(ReadFile(dir_ + "/demotes"), "demoted s01\n");
  EXPECT_EQ(state_->Roles()[0].role(), "replica");
}

TEST_F(CommandHandlerTest, FencingOneSlotDoesNotWaitForAnotherSlotsHook) {
  SlotConfig* s2 = config_.add_slots();
  s2->set_name("s02");
  s2->set_path("/srv/du1/s02");
  const std::string go = dir_ + "/go";
  const std::string started = dir_ + "/started";
  config_.mutable_hooks()->set_promote("if [ $SLOTKEEPER_SLOT = s02 ]; then touch " + started +
                                       "; while [ ! -e " + go + " ]; do sleep 0.01; done; fi");
  ASSERT_TRUE(handler_->Handle(Promote("c1", 2)).ok());
  v1::Command p2 = Promote("c2", 1);
  p2.mutable_promote()->set_slot("s02");
  p2.mutable_promote()->set_store("st2");
  p2.mutable_promote()->mutable_lease()->set_duration_ms(1'000'000);
  std::thread slow([&] { EXPECT_TRUE(handler_->Handle(p2).ok()); });
  while (!std::ifstream(started)) absl::SleepFor(absl::Milliseconds(10));
  clock_.Advance(absl::Seconds(11));  // s01's lease runs out
  // Completes while s02's promote hook is still waiting for `go`.
  std::vector<v1::Lease> fenced = handler_->FenceExpired();
  EXPECT_EQ(ReadFile(dir_ + "/demotes"), "demoted s01\n");
  std::ofstream(go) << "go";
  slow.join();
  ASSERT_EQ(fenced.size(), 1u);
  EXPECT_EQ(fenced[0].slot(), "s01");
  EXPECT_TRUE(leases_.IsMaster("s02"));
}

TEST_F(CommandHandlerTest, UnknownSlotAndDataPathCommandsAreRefused) {
  v1::Command c = Promote("c1", 1);
  c.mutable_promote()->set_slot("s99");
  EXPECT_THAT(handler_->Handle(c).error(), HasSubstr("no slot s99"));
  v1::Command task;
  task.set_id("c2");
  task.mutable_start_task()->set_task_id("t1");
  v1::CommandAck ack = handler_->Handle(task);
  EXPECT_FALSE(ack.ok());
  EXPECT_EQ(ack.error(), "data path not linked in this build");
  v1::Command empty;
  empty.set_id("c3");
  EXPECT_FALSE(handler_->Handle(empty).ok());
}

TEST_F(CommandHandlerTest, HooksAreToldTheLeaseFileAndTheServiceAddress) {
  config_.mutable_slots(0)->set_service_address("127.0.0.1:1143");
  handler_ = std::make_unique<CommandHandler>(&config_, &leases_, state_.get(), plane_.get(),
                                              CommandHandlerOptions{nullptr, dir_ + "/leases"});
  config_.mutable_hooks()->set_promote("echo $SLOTKEEPER_LEASE_FILE $SLOTKEEPER_SERVICE_ADDRESS");
  v1::CommandAck ack = handler_->Handle(Promote("c1", 2));
  ASSERT_TRUE(ack.ok()) << ack.error();
  EXPECT_EQ(ack.hook_output(), dir_ + "/leases/s01.lease 127.0.0.1:1143\n");
}

// With a recording data plane and failsafe promises.
class CommandHandlerWithDataPlaneTest : public CommandHandlerTest {
 protected:
  void SetUp() override {
    CommandHandlerTest::SetUp();
    handler_ = std::make_unique<CommandHandler>(&config_, &leases_, state_.get(), &recording_,
                                                CommandHandlerOptions{&promises_, ""});
  }
  static v1::Command Assign(const std::string& id, uint64_t epoch) {
    v1::Command c;
    c.set_id(id);
    v1::AssignReplicaCommand* a = c.mutable_assign_replica();
    a->set_slot("s01");
    a->set_store("st1");
    a->set_epoch(epoch);
    a->set_master_peer_address("127.0.0.1:7401");
    a->set_master_slot("s02");
    return c;
  }
  testing::RecordingDataPlane recording_;
  CoordinatorContact contact_{&clock_};
  FailsafePromises promises_{
      &clock_, &contact_, FailsafeOptions(),
      [this](const std::string& slot) { return handler_->RecordedRole(slot); }};
};

TEST_F(CommandHandlerWithDataPlaneTest, CommandsThatWouldOverwriteAServingMasterAreRefused) {
  ASSERT_TRUE(handler_->Handle(Promote("c1", 2)).ok());
  v1::CommandAck ack = handler_->Handle(Assign("c2", 2));
  EXPECT_FALSE(ack.ok());
  EXPECT_THAT(ack.error(), HasSubstr("serves as master under a lease"));
  v1::Command task;
  task.set_id("c3");
  task.mutable_start_task()->set_task_id("t1");
  task.mutable_start_task()->set_target_slot("s01");
  EXPECT_THAT(handler_->Handle(task).error(), HasSubstr("serves as master"));
  v1::Command release;
  release.set_id("c4");
  release.mutable_release_slot()->set_slot("s01");
  EXPECT_THAT(handler_->Handle(release).error(), HasSubstr("serves as master"));
  EXPECT_THAT(recording_.calls(), ::testing::ElementsAre("role s01 st1@2 SLOT_MASTER"));
  // Once its lease is gone, the slot may become a replica again.
  clock_.Advance(absl::Seconds(11));
  handler_->FenceExpired();
  EXPECT_TRUE(handler_->Handle(Assign("c5", 3)).ok());
  EXPECT_EQ(handler_->RecordedRole("s01")->role(), "replica");
}

TEST_F(CommandHandlerWithDataPlaneTest, PromotionIsRefusedWhileAFailsafePromiseBinds) {
  ASSERT_TRUE(handler_->Handle(Assign("c1", 2)).ok());
  clock_.Advance(absl::Seconds(5));  // the coordinator is silent
  v1::FailsafeLeaseRequest request;
  request.set_store("st1");
  request.set_epoch(2);
  request.mutable_master()->set_host("imap1");
  request.mutable_master()->set_slot("s09");
  request.set_copy_slot("s01");
  request.set_duration_ms(10'000);
  ASSERT_TRUE(promises_.Decide(request).granted());
  v1::CommandAck ack = handler_->Handle(Promote("c2", 3));
  EXPECT_FALSE(ack.ok());
  EXPECT_THAT(ack.error(), HasSubstr("failsafe promise"));
  EXPECT_THAT(ack.error(), HasSubstr("imap1/s09"));
  EXPECT_FALSE(leases_.IsMaster("s01"));
  clock_.Advance(absl::Seconds(11));  // the promise has ended
  EXPECT_TRUE(handler_->Handle(Promote("c3", 3)).ok());
}

TEST_F(CommandHandlerWithDataPlaneTest, AdoptionResumesReplicasAndHoldsMastersWithoutALease) {
  SlotConfig* s2 = config_.add_slots();
  s2->set_name("s02");
  s2->set_path("/srv/du1/s02");
  v1::SlotAssignment replica;
  replica.set_slot("s01");
  replica.set_store("st1");
  replica.set_role(v1::SLOT_REPLICA);
  replica.set_epoch(4);
  replica.set_master_peer_address("127.0.0.1:7402");
  replica.set_master_slot("s07");
  v1::SlotAssignment master;
  master.set_slot("s02");
  master.set_store("st2");
  master.set_role(v1::SLOT_MASTER);
  master.set_epoch(9);
  handler_->Adopt({replica, master});
  EXPECT_THAT(recording_.calls(),
              ::testing::ElementsAre("assign s01 st1@4 from 127.0.0.1:7402/s07"));
  EXPECT_EQ(handler_->RecordedRole("s01")->role(), "replica");
  EXPECT_TRUE(leases_.IsMaster("s02"));
  EXPECT_FALSE(leases_.IsServing("s02"));
}

}  // namespace
}  // namespace slotkeeper::replicator
