// SyncDataPlane over a real SyncEngine: a start re-sent for a task attempt
// this agent already finished reports the same outcome again instead of
// running it twice; a new attempt runs. The methods the control side calls
// with its locks held return while the source hangs.
#include "replicator/sync_data_plane.h"

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "base/grpc_util.h"
#include "gtest/gtest.h"
#include "replicator/sync/gated_peer.h"

namespace slotkeeper::replicator {
namespace {

class RecordingSink : public TaskUpdateSink {
 public:
  void SendTaskUpdate(const v1::TaskUpdate& update) override {
    absl::MutexLock lock(&mu_);
    updates_.push_back(update);
  }
  std::vector<v1::TaskUpdate> Updates() {
    absl::MutexLock lock(&mu_);
    return updates_;
  }
  // Waits (real time, bounded) until `n` updates arrived.
  bool AwaitCount(size_t n, absl::Duration timeout) {
    absl::MutexLock lock(&mu_);
    auto enough = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return updates_.size() >= n; };
    return mu_.AwaitWithTimeout(absl::Condition(&enough), timeout);
  }

 private:
  absl::Mutex mu_;
  std::vector<v1::TaskUpdate> updates_ ABSL_GUARDED_BY(mu_);
};

TEST(SyncDataPlaneTest, RestartOfAFinishedTaskReportsItsOutcomeAgain) {
  const std::string dir = std::string(std::getenv("TEST_TMPDIR")) + "/sync_data_plane";
  std::filesystem::create_directories(dir + "/slot1");
  std::filesystem::create_directories(dir + "/data");
  AgentConfig config;
  config.set_data_dir(dir + "/data");
  SlotConfig* slot = config.add_slots();
  slot->set_name("slot1");
  slot->set_path(dir + "/slot1");
  auto plane = MakeSyncDataPlane(config, RealClock());
  ASSERT_TRUE(plane.ok()) << plane.status();
  RecordingSink sink;
  ASSERT_TRUE((*plane)->Start(&sink).ok());

  // The source is unreachable: the task fails at once.
  v1::StartTaskCommand start;
  start.set_task_id("t1");
  start.set_kind(v1::TASK_RE_REPLICATE);
  start.set_store("st1");
  start.set_target_slot("slot1");
  start.set_source_peer_address("127.0.0.1:1");
  start.set_source_slot("s");
  start.set_attempt(1);
  ASSERT_TRUE((*plane)->StartTask(start).ok());
  ASSERT_TRUE(sink.AwaitCount(1, absl::Seconds(60)));
  const v1::TaskUpdate first = sink.Updates().back();
  ASSERT_EQ(first.state(), v1::TASK_FAILED) << first.ShortDebugString();

  // Started again (as the coordinator does after a restart): the outcome is
  // reported again before StartTask returns, not after a second run.
  ASSERT_TRUE((*plane)->StartTask(start).ok());
  std::vector<v1::TaskUpdate> updates = sink.Updates();
  ASSERT_EQ(updates.size(), 2u);
  EXPECT_EQ(updates[1].SerializeAsString(), first.SerializeAsString());

  // The next attempt of the same task is not answered from the cache: it
  // runs, and here it is refused at once (its target slot does not exist).
  v1::StartTaskCommand retry = start;
  retry.set_attempt(2);
  retry.set_target_slot("no-such-slot");
  EXPECT_FALSE((*plane)->StartTask(retry).ok());
  EXPECT_EQ(sink.Updates().size(), 2u);

  // Another task id runs.
  start.set_task_id("t2");
  ASSERT_TRUE((*plane)->StartTask(start).ok());
  ASSERT_TRUE(sink.AwaitCount(3, absl::Seconds(60)));
  EXPECT_EQ(sink.Updates()[2].task_id(), "t2");
  (*plane)->Stop();
}

// Promotion (OnRoleChanged), ReleaseSlot and Stop while the slot's catch-up
// waits for a source that never answers: each returns, and the source sees
// the call cancelled.
TEST(SyncDataPlaneTest, RoleChangeReleaseAndStopReturnWhileTheSourceHangs) {
  const std::string dir = std::string(std::getenv("TEST_TMPDIR")) + "/hung_source";
  std::filesystem::create_directories(dir + "/source/users/alice/cur");
  std::ofstream(dir + "/source/.slotkeeper-store") << "st1\n";
  std::ofstream(dir + "/source/users/alice/cur/1.h:2,S") << "hello";
  std::filesystem::create_directories(dir + "/replica");
  std::filesystem::create_directories(dir + "/data");
  sync::PeerCore core({{"src", dir + "/source"}}, nullptr, RealClock(), "inst-1");
  sync::GatedPeer source(&core);
  grpc::ServerBuilder builder;
  ConfigureServerBuilder(builder);
  int port = 0;
  EXPECT_TRUE(AddListeningPort(builder, "127.0.0.1:0", &port).ok());
  builder.RegisterService(&source);
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  ASSERT_NE(port, 0);

  AgentConfig config;
  config.set_data_dir(dir + "/data");
  config.mutable_data_path()->set_scrub_disabled(true);  // only the catch-up calls the source
  SlotConfig* slot = config.add_slots();
  slot->set_name("slot1");
  slot->set_path(dir + "/replica");
  SyncDataPlaneOptions options;  // limits no test reaches: only cancellation ends a call
  options.peer.call = options.peer.manifest = options.peer.stall = absl::Hours(1);
  auto plane = MakeSyncDataPlane(config, RealClock(), options);
  ASSERT_TRUE(plane.ok()) << plane.status();
  RecordingSink sink;
  ASSERT_TRUE((*plane)->Start(&sink).ok());
  v1::AssignReplicaCommand assign;
  assign.set_slot("slot1");
  assign.set_store("st1");
  assign.set_master_peer_address("127.0.0.1:" + std::to_string(port));
  assign.set_master_slot("src");

  source.list_users.Close();
  ASSERT_TRUE((*plane)->AssignReplica(assign).ok());
  ASSERT_TRUE(source.list_users.AwaitHeld(1));
  (*plane)->OnRoleChanged("slot1", "st1", v1::SLOT_MASTER, 2);
  // No replica left: the slot reports as a master (its data-safety figures).
  std::vector<v1::ReplicationStatus> status = (*plane)->ReplicationStatus();
  ASSERT_EQ(status.size(), 1u);
  EXPECT_EQ(status[0].role(), v1::SLOT_MASTER);
  EXPECT_TRUE(source.list_users.AwaitCancelled(1));

  ASSERT_TRUE((*plane)->AssignReplica(assign).ok());
  ASSERT_TRUE(source.list_users.AwaitHeld(1));
  v1::ReleaseSlotCommand release;
  release.set_slot("slot1");
  release.set_store("st1");
  EXPECT_TRUE((*plane)->ReleaseSlot(release).ok());
  EXPECT_TRUE(source.list_users.AwaitCancelled(2));

  ASSERT_TRUE((*plane)->AssignReplica(assign).ok());
  ASSERT_TRUE(source.list_users.AwaitHeld(1));
  (*plane)->Stop();
  EXPECT_TRUE(source.list_users.AwaitCancelled(3));
  source.OpenAll();
  server->Shutdown();
}

// The data-safety commands are carried out (not UNIMPLEMENTED) and refuse
// what is wrong: an unknown slot, a bad user name, a missing source, a
// restore into a slot that is not a master. A master's status carries the
// data-safety figures.
TEST(SyncDataPlaneTest, DataSafetyCommandsAreServedAndChecked) {
  const std::string dir = std::string(std::getenv("TEST_TMPDIR")) + "/safety_commands";
  std::filesystem::create_directories(dir + "/slot1/users/alice/cur");
  std::filesystem::create_directories(dir + "/data");
  AgentConfig config;
  config.set_data_dir(dir + "/data");
  config.mutable_data_path()->set_scrub_disabled(true);
  SlotConfig* slot = config.add_slots();
  slot->set_name("slot1");
  slot->set_path(dir + "/slot1");
  auto plane = MakeSyncDataPlane(config, RealClock());
  ASSERT_TRUE(plane.ok()) << plane.status();
  RecordingSink sink;
  ASSERT_TRUE((*plane)->Start(&sink).ok());

  v1::UnblockUserCommand unblock;
  unblock.set_slot("slot1");
  unblock.set_user("alice");
  EXPECT_TRUE((*plane)->UnblockUser(unblock).ok());  // not blocked: nothing to do
  unblock.set_user("../bob");
  EXPECT_TRUE(absl::IsInvalidArgument((*plane)->UnblockUser(unblock)));
  unblock.set_slot("nope");
  unblock.set_user("alice");
  EXPECT_TRUE(absl::IsNotFound((*plane)->UnblockUser(unblock)));

  v1::PurgeQuarantineCommand purge;
  purge.set_slot("slot1");
  purge.add_item_ids("2026-01-01/alice/cur/1");
  EXPECT_TRUE((*plane)->PurgeQuarantine(purge).ok());  // unknown ids: already gone
  purge.set_slot("nope");
  EXPECT_TRUE(absl::IsNotFound((*plane)->PurgeQuarantine(purge)));

  v1::FinalPullCommand pull;
  pull.set_store("st1");
  pull.set_target_slot("slot1");
  pull.set_source_slot("src");
  EXPECT_TRUE(absl::IsInvalidArgument((*plane)->FinalPull(pull)));  // no source address

  v1::RestoreQuarantinedCommand restore;
  restore.set_target_slot("slot1");
  restore.set_source_peer_address("127.0.0.1:1");
  restore.set_source_slot("slot9");
  restore.set_item_id("2026-01-01/alice/cur/1");
  EXPECT_TRUE(absl::IsFailedPrecondition((*plane)->RestoreQuarantined(restore)));
  v1::ReconcileCommand reconcile;
  reconcile.set_store("st1");
  reconcile.set_target_slot("slot1");
  reconcile.set_source_peer_address("127.0.0.1:1");
  reconcile.set_source_slot("slot9");
  EXPECT_TRUE(absl::IsFailedPrecondition((*plane)->Reconcile(reconcile)));

  (*plane)->OnRoleChanged("slot1", "st1", v1::SLOT_MASTER, 1);
  std::vector<v1::ReplicationStatus> status = (*plane)->ReplicationStatus();
  ASSERT_EQ(status.size(), 1u);
  EXPECT_EQ(status[0].role(), v1::SLOT_MASTER);
  EXPECT_EQ(status[0].quarantine_items(), 0u);
  EXPECT_FALSE(status[0].identity_changed());
  (*plane)->Stop();
}

}  // namespace
}  // namespace slotkeeper::replicator
