// SyncEngine's data safety end to end: two engines (hosts m and r) serving
// each other over real gRPC on 127.0.0.1, real slot directories, a FakeClock
// moved by the test (catch_up_interval 5 s).
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <fstream>
#include <string>
#include <thread>

#include "gtest/gtest.h"
#include "replicator/sync/engine.h"
#include "replicator/sync/gated_peer.h"
#include "replicator/sync/sync_test_util.h"

namespace slotkeeper::sync {
namespace {

// A server on 127.0.0.1 with what `add` registers; its address.
std::string Serve(const std::function<void(grpc::ServerBuilder*)>& add,
                  std::unique_ptr<grpc::Server>* server) {
  grpc::ServerBuilder builder;
  ConfigureServerBuilder(builder);
  int port = 0;
  builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port);
  add(&builder);
  *server = builder.BuildAndStart();
  const std::string address = "127.0.0.1:" + std::to_string(port);
  grpc::CreateChannel(address, grpc::InsecureChannelCredentials())
      ->WaitForConnected(std::chrono::system_clock::now() + std::chrono::seconds(30));
  return address;
}

class EngineSafetyTest : public ::testing::Test {
 protected:
  void SetUp() override {
    base_ = Tmp() + "/" + ::testing::UnitTest::GetInstance()->current_test_info()->name();
    m_slot_ = base_ + "/m/slot1";
    r_slot_ = base_ + "/r/slot7";
    MkdirP(m_slot_);
    MkdirP(r_slot_);
    WriteFile(m_slot_ + "/.slotkeeper-store", "store-a\n");
    WriteFile(m_slot_ + "/users/alice/cur/1.h:2,S", "hello");
    WriteFile(m_slot_ + "/users/bob/new/2.h", "world");
    options_.peer.call = absl::Seconds(2);
    auto m = SyncEngine::Create(base_ + "/m/db", {{"slot1", m_slot_}}, &clock_, DefaultTargetFs(),
                                options_);
    ASSERT_TRUE(m.ok()) << m.status();
    m_ = *std::move(m);
    m_address_ = Serve([this](grpc::ServerBuilder* b) { m_->RegisterService(b); }, &m_server_);
    gated_ = std::make_unique<GatedPeer>(m_->peer());
    gated_address_ =
        Serve([this](grpc::ServerBuilder* b) { b->RegisterService(gated_.get()); }, &gated_server_);
    StartReplicaEngine(DefaultTargetFs());
  }
  void TearDown() override {
    stop_ticking_ = true;
    if (ticker_.joinable()) ticker_.join();
    gated_->OpenAll();
    for (auto* s : {&r_server_, &m_server_, &gated_server_}) {
      if (*s) (*s)->Shutdown();
    }
    r_.reset();
    m_.reset();
  }

  void StartReplicaEngine(TargetFs* fs) {
    if (r_server_) r_server_->Shutdown();
    r_.reset();
    auto r = SyncEngine::Create(base_ + "/r/db", {{"slot7", r_slot_}}, &clock_, fs, options_);
    ASSERT_TRUE(r.ok()) << r.status();
    r_ = *std::move(r);
    r_address_ = Serve([this](grpc::ServerBuilder* b) { r_->RegisterService(b); }, &r_server_);
  }

  // Keeps the fake clock moving (100 ms every 2 ms of real time) so that
  // catch-up loops cycle.
  void Tick() {
    ticker_ = std::thread([this] {
      while (!stop_ticking_) {
        clock_.Advance(absl::Milliseconds(100));
        usleep(2000);
      }
    });
  }

  // The state of `slot` once `done` holds (real time, up to a minute).
  template <typename Pred>
  ReplicaState Await(SyncEngine* engine, const std::string& slot, Pred done) {
    ReplicaState last;
    for (int i = 0; i < 3000; ++i) {
      for (const ReplicaState& s : engine->ReplicationStatus()) {
        if (s.slot != slot) continue;
        last = s;
        if (done(s)) return s;
      }
      usleep(20000);
    }
    ADD_FAILURE() << "slot " << slot << " never reached the state; last error: " << last.last_error;
    return last;
  }

  std::string base_, m_slot_, r_slot_, m_address_, r_address_, gated_address_;
  FakeClock clock_;
  // These tests follow a master by polling (their cycles are scripted on
  // the FakeClock); push replication has its own tests.
  EngineOptions options_ = [] {
    EngineOptions o;
    o.push = false;
    return o;
  }();
  std::unique_ptr<SyncEngine> m_, r_;
  std::unique_ptr<grpc::Server> m_server_, r_server_, gated_server_;
  std::unique_ptr<GatedPeer> gated_;
  std::atomic<bool> stop_ticking_{false};
  std::thread ticker_;
};

// A replica emptied behind the agent's back: the next cycle sees the
// instance file gone, reports identity_changed and not in sync while it
// cannot refill, then refills, verifies and is in sync again.
TEST_F(EngineSafetyTest, AnEmptiedReplicaIsDetectedRefilledAndVerified) {
  Tick();
  ASSERT_TRUE(r_->AssignReplica("slot7", "store-a", gated_address_, "slot1").ok());
  Await(r_.get(), "slot7", [](const ReplicaState& s) { return s.in_sync; });
  ASSERT_TRUE(Exists(r_slot_ + "/.slotkeeper-instance"));
  gated_->list_users.Close();  // the master cannot be read for a while
  ASSERT_EQ(system(("rm -rf " + r_slot_ + "/* " + r_slot_ + "/.[a-z]*").c_str()), 0);
  ReplicaState s = Await(r_.get(), "slot7",
                         [](const ReplicaState& st) { return st.identity_changed && !st.in_sync; });
  EXPECT_NE(s.last_error.find("identity changed"), std::string::npos) << s.last_error;
  gated_->list_users.Open();
  s = Await(r_.get(), "slot7",
            [](const ReplicaState& st) { return st.in_sync && !st.identity_changed; });
  EXPECT_EQ(Tree(r_slot_ + "/users"), Tree(m_slot_ + "/users"));
}

// Only users/ emptied (the slot directory and its instance file kept): a
// user whose directory is gone is not skipped at its checkpoint, and a
// single file deleted is found by the scrub (the master lists it) and
// fetched again.
TEST_F(EngineSafetyTest, MailDeletedFromAReplicaBehindTheAgentsBackComesBack) {
  Tick();
  ASSERT_TRUE(r_->AssignReplica("slot7", "store-a", m_address_, "slot1").ok());
  Await(r_.get(), "slot7", [](const ReplicaState& s) { return s.in_sync; });
  ASSERT_EQ(system(("rm -rf " + r_slot_ + "/users/alice").c_str()), 0);
  Await(r_.get(), "slot7",
        [this](const ReplicaState&) { return Exists(r_slot_ + "/users/alice/cur/1.h:2,S"); });
  ASSERT_EQ(unlink((r_slot_ + "/users/bob/new/2.h").c_str()), 0);
  r_->RunMaintenance(/*scrub=*/true);
  ReplicaState s =
      Await(r_.get(), "slot7", [](const ReplicaState& st) { return st.scrub.repaired() == 1; });
  ASSERT_EQ(s.scrub.recent_corrupt_size(), 1);
  EXPECT_EQ(s.scrub.recent_corrupt(0), "bob/new/2.h");
  EXPECT_EQ(ReadFile(r_slot_ + "/users/bob/new/2.h"), "world");
  EXPECT_EQ(Tree(r_slot_ + "/users"), Tree(m_slot_ + "/users"));
}

// The slot directory replaced by an older copy of itself (its instance file
// included): another inode, so the checkpoints, which say the newest mail is
// there, are not believed, and the copy is refilled.
TEST_F(EngineSafetyTest, AReplicaReplacedByAnOlderCopyIsRefilled) {
  Tick();
  ASSERT_TRUE(r_->AssignReplica("slot7", "store-a", m_address_, "slot1").ok());
  Await(r_.get(), "slot7", [](const ReplicaState& s) { return s.in_sync; });
  ASSERT_EQ(system(("cp -a " + r_slot_ + " " + base_ + "/older").c_str()), 0);
  WriteFile(m_slot_ + "/users/alice/new/3.h", "later mail");
  Await(r_.get(), "slot7",
        [this](const ReplicaState&) { return Exists(r_slot_ + "/users/alice/new/3.h"); });
  ASSERT_EQ(system(("rm -rf " + r_slot_ + " && mv " + base_ + "/older " + r_slot_).c_str()), 0);
  Await(r_.get(), "slot7", [this](const ReplicaState& s) {
    return s.in_sync && Exists(r_slot_ + "/users/alice/new/3.h");
  });
  EXPECT_EQ(Tree(r_slot_ + "/users"), Tree(m_slot_ + "/users"));
}

// A byte of a replica's message changed on disk with its size and mtime
// kept (silent corruption): the scrub reads the disk, not the hash cache,
// finds it, and the next catch-up sets it aside and fetches it again.
TEST_F(EngineSafetyTest, TheScrubFindsSilentCorruptionAndTheCatchUpRepairsIt) {
  Tick();
  ASSERT_TRUE(r_->AssignReplica("slot7", "store-a", m_address_, "slot1").ok());
  Await(r_.get(), "slot7", [](const ReplicaState& s) { return s.in_sync; });
  const std::string file = r_slot_ + "/users/alice/cur/1.h:2,S";
  struct stat st;
  ASSERT_EQ(stat(file.c_str(), &st), 0);
  {
    std::fstream f(file, std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(4);
    f.put('O');
  }
  struct timespec times[2] = {st.st_atim, st.st_mtim};
  ASSERT_EQ(utimensat(AT_FDCWD, file.c_str(), times, 0), 0);
  r_->RunMaintenance(/*scrub=*/true);
  ReplicaState s =
      Await(r_.get(), "slot7", [](const ReplicaState& st) { return st.scrub.repaired() == 1; });
  EXPECT_EQ(s.scrub.corrupt_found(), 1u);
  ASSERT_EQ(s.scrub.recent_corrupt_size(), 1);
  EXPECT_EQ(s.scrub.recent_corrupt(0), "alice/cur/1.h:2,S");
  EXPECT_GT(s.scrub.last_full_pass_ms(), 0);
  EXPECT_EQ(ReadFile(file), "hello");
  EXPECT_EQ(s.quarantine_items, 1u);  // the bad copy, kept aside
  // A second pass finds nothing more.
  r_->RunMaintenance(/*scrub=*/true);
  s = Await(r_.get(), "slot7", [](const ReplicaState& st) { return st.in_sync; });
  EXPECT_EQ(s.scrub.corrupt_found(), 1u);
}

// The master fails over to r; m, the old master, got mail r never saw, and
// r's user deleted a message m still holds. When m comes back as r's
// replica, the new mail is stranded (listed, kept), the deleted message is
// not; reconcile copies the stranded mail to r once, never the deleted one.
TEST_F(EngineSafetyTest, StrandedMailIsListedAndReconciledWithoutResurrection) {
  // alice's two messages both leave m below: one deleted (the guard counts
  // it), one stranded (kept and listed: the guard does not count it).
  Tick();
  m_->OnRoleChanged("slot1", v1::SLOT_MASTER);
  ASSERT_TRUE(r_->AssignReplica("slot7", "store-a", m_address_, "slot1").ok());
  Await(r_.get(), "slot7", [](const ReplicaState& s) { return s.in_sync; });
  r_->RunMaintenance();  // the replica's message index: the deletion log's baseline
  // m's unit fails; r is promoted. Mail reached m after r's last sync.
  r_->OnRoleChanged("slot7", v1::SLOT_MASTER);
  WriteFile(m_slot_ + "/users/alice/new/9.h", "stranded mail");
  // The user deletes a message; m asks for r's deletion log at once, before
  // any maintenance round ran: the log is brought up to date when asked.
  ASSERT_EQ(unlink((r_slot_ + "/users/alice/cur/1.h:2,S").c_str()), 0);
  // m comes back and becomes r's replica.
  ASSERT_TRUE(m_->AssignReplica("slot1", "store-a", r_address_, "slot7").ok());
  ReplicaState s = Await(m_.get(), "slot1", [](const ReplicaState& st) {
    return st.in_sync && st.stranded_messages == 1;
  });
  EXPECT_FALSE(Exists(m_slot_ + "/users/alice/new/9.h"));
  EXPECT_FALSE(Exists(m_slot_ + "/users/alice/cur/1.h:2,S"));
  auto stub = v1::ReplicaPeer::NewStub(MakeChannel(m_address_));
  const PeerClient old_master(stub.get(), "slot1", m_address_, PeerTimeouts());
  absl::StatusOr<v1::ListStrandedResponse> stranded = old_master.ListStranded();
  ASSERT_TRUE(stranded.ok()) << stranded.status();
  EXPECT_EQ(stranded->store(), "store-a");
  ASSERT_EQ(stranded->messages_size(), 1);
  EXPECT_EQ(stranded->messages(0).user(), "alice");
  EXPECT_EQ(stranded->messages(0).maildir_key(), "9.h");

  absl::StatusOr<ReconcileReport> report =
      r_->safety()->Reconcile("store-a", "slot7", m_address_, "slot1");
  ASSERT_TRUE(report.ok()) << report.status();
  EXPECT_EQ(report->placed, 1u) << report->Summary();
  EXPECT_EQ(ReadFile(r_slot_ + "/users/alice/new/9.h"), "stranded mail");
  EXPECT_FALSE(Exists(r_slot_ + "/users/alice/cur/1.h:2,S"));  // deleted stays deleted
  report = r_->safety()->Reconcile("store-a", "slot7", m_address_, "slot1");
  ASSERT_TRUE(report.ok()) << report.status();
  EXPECT_EQ(report->placed, 0u);
  EXPECT_EQ(report->already_present, 1u);
  // m syncs the message back from r: no longer stranded (its maintenance
  // round sees the name in the mailbox again).
  s = Await(m_.get(), "slot1", [](const ReplicaState& st) { return st.stranded_messages == 0; });
  EXPECT_TRUE(Exists(m_slot_ + "/users/alice/new/9.h"));
}

// An operator restores a quarantined message into the master: it comes back
// where it was, and not twice.
TEST_F(EngineSafetyTest, RestoreBringsAQuarantinedMessageBackOnce) {
  Tick();
  ASSERT_TRUE(r_->AssignReplica("slot7", "store-a", m_address_, "slot1").ok());
  Await(r_.get(), "slot7", [](const ReplicaState& s) { return s.in_sync; });
  r_->OnRoleChanged("slot7", v1::SLOT_MASTER);  // a failover to r
  ASSERT_TRUE(m_->AssignReplica("slot1", "store-a", r_address_, "slot7").ok());
  WriteFile(r_slot_ + "/users/alice/cur/5.h:2,S", "keep me");
  Await(m_.get(), "slot1",
        [this](const ReplicaState&) { return Exists(m_slot_ + "/users/alice/cur/5.h:2,S"); });
  ASSERT_EQ(unlink((r_slot_ + "/users/alice/cur/5.h:2,S").c_str()), 0);
  ReplicaState s =
      Await(m_.get(), "slot1", [](const ReplicaState& st) { return st.quarantine_items >= 1; });
  auto stub = v1::ReplicaPeer::NewStub(MakeChannel(m_address_));
  const PeerClient holder(stub.get(), "slot1", m_address_, PeerTimeouts());
  absl::StatusOr<v1::ListQuarantineResponse> listed = holder.ListQuarantine("alice", 0);
  ASSERT_TRUE(listed.ok()) << listed.status();
  std::string id;
  for (const v1::QuarantineItem& item : listed->items()) {
    if (item.path() == "cur/5.h:2,S") id = item.id();
  }
  ASSERT_FALSE(id.empty());
  ASSERT_TRUE(r_->safety()->RestoreQuarantined("slot7", m_address_, "slot1", id).ok());
  EXPECT_EQ(ReadFile(r_slot_ + "/users/alice/cur/5.h:2,S"), "keep me");
  // Again, or with the flags changed meanwhile: a duplicate, refused.
  ASSERT_EQ(rename((r_slot_ + "/users/alice/cur/5.h:2,S").c_str(),
                   (r_slot_ + "/users/alice/cur/5.h:2,RS").c_str()),
            0);
  absl::Status again = r_->safety()->RestoreQuarantined("slot7", m_address_, "slot1", id);
  EXPECT_TRUE(absl::IsFailedPrecondition(again)) << again;
  EXPECT_FALSE(Exists(r_slot_ + "/users/alice/cur/5.h:2,S"));
  // Restoring into a slot that is not a master is refused.
  EXPECT_TRUE(absl::IsFailedPrecondition(
      m_->safety()->RestoreQuarantined("slot1", r_address_, "slot7", id)));
}

// Before a failover the replica pulls once more from the old master: what
// arrived after its last sync is there; a source that hangs ends the pull
// at its deadline, and the catch-up loop goes on afterwards.
TEST_F(EngineSafetyTest, FinalPullCopiesTheLatestMailOrStopsAtItsDeadline) {
  Tick();
  ASSERT_TRUE(r_->AssignReplica("slot7", "store-a", gated_address_, "slot1").ok());
  Await(r_.get(), "slot7", [](const ReplicaState& s) { return s.in_sync; });
  WriteFile(m_slot_ + "/users/bob/new/7.h", "just delivered");
  ASSERT_TRUE(r_->FinalPull("store-a", "slot7", gated_address_, "slot1", absl::Seconds(30)).ok());
  EXPECT_EQ(ReadFile(r_slot_ + "/users/bob/new/7.h"), "just delivered");
  gated_->list_users.Close();
  absl::Status hung = r_->FinalPull("store-a", "slot7", gated_address_, "slot1", absl::Seconds(1));
  EXPECT_TRUE(absl::IsDeadlineExceeded(hung) || absl::IsCancelled(hung)) << hung;
  gated_->list_users.Open();
  Await(r_.get(), "slot7", [](const ReplicaState& s) { return s.in_sync; });
}

// A complete final pull from the replica's own master is a complete
// catch-up: the replica is in sync as soon as the pull ends, before its
// loop's next cycle (here one that cannot reach the master), so that the
// coordinator promotes the copy it just pulled into rather than another.
TEST_F(EngineSafetyTest, AReplicaIsInSyncRightAfterAFinalPull) {
  Tick();
  ASSERT_TRUE(r_->AssignReplica("slot7", "store-a", gated_address_, "slot1").ok());
  Await(r_.get(), "slot7", [](const ReplicaState& s) { return s.in_sync; });
  gated_->list_users.Close();  // the loop's cycles cannot complete from now on
  WriteFile(m_slot_ + "/users/bob/new/8.h", "just delivered");
  ASSERT_TRUE(r_->FinalPull("store-a", "slot7", m_address_, "slot1", absl::Seconds(30)).ok());
  EXPECT_EQ(ReadFile(r_slot_ + "/users/bob/new/8.h"), "just delivered");
  bool found = false;
  for (const ReplicaState& s : r_->ReplicationStatus()) {
    if (s.slot != "slot7") continue;
    found = true;
    EXPECT_TRUE(s.in_sync) << s.last_error;
  }
  EXPECT_TRUE(found);
}

// The disk fills mid-sync: the error is reported, nothing is half there,
// and the sync completes once there is space again.
TEST_F(EngineSafetyTest, DiskFullIsReportedAndTheSyncResumes) {
  FaultyFs full;
  full.byte_budget = 50;  // the store marker, the instance file, one message
  StartReplicaEngine(&full);
  Tick();
  ASSERT_TRUE(r_->AssignReplica("slot7", "store-a", m_address_, "slot1").ok());
  ReplicaState s = Await(r_.get(), "slot7", [](const ReplicaState& st) {
    return st.last_error.find("write") != std::string::npos;
  });
  EXPECT_FALSE(s.in_sync);
  for (const auto& [path, content] : Tree(r_slot_, false)) {
    EXPECT_EQ(path.find(".slotsync-"), std::string::npos) << path;
  }
  full.byte_budget = -1;  // space again
  Await(r_.get(), "slot7", [](const ReplicaState& st) { return st.in_sync; });
  EXPECT_EQ(Tree(r_slot_ + "/users"), Tree(m_slot_ + "/users"));
}

// The maintenance thread purges the quarantine by age on its own, without
// a command: what a replica moved aside is gone once older than keep_days.
TEST_F(EngineSafetyTest, TheQuarantineIsPurgedByAgeOnItsOwn) {
  Tick();
  ASSERT_TRUE(r_->AssignReplica("slot7", "store-a", m_address_, "slot1").ok());
  Await(r_.get(), "slot7", [](const ReplicaState& s) { return s.in_sync; });
  ASSERT_EQ(unlink((m_slot_ + "/users/bob/new/2.h").c_str()), 0);
  ReplicaState s =
      Await(r_.get(), "slot7", [](const ReplicaState& st) { return st.quarantine_items == 1; });
  EXPECT_EQ(s.quarantine_bytes, 5u);
  clock_.Advance(absl::Hours(24 * 15));
  s = Await(r_.get(), "slot7", [](const ReplicaState& st) { return st.quarantine_items == 0; });
  EXPECT_EQ(s.quarantine_bytes, 0u);
  EXPECT_FALSE(
      Exists(r_slot_ + "/.quarantine/" + QuarantineDay(clock_.Now() - absl::Hours(24 * 15))));
}

// A master that loses most of a user's mail: the replica's sync of that
// user stops, the user is reported blocked, across an agent restart too,
// until an operator unblocks it; then the replica follows the master.
TEST_F(EngineSafetyTest, ABlockedUserIsReportedAcrossARestartUntilUnblocked) {
  for (int i = 10; i < 30; ++i) {
    WriteFile(m_slot_ + "/users/alice/cur/" + std::to_string(i) + ".h:2,S", "mail");
  }
  Tick();
  ASSERT_TRUE(r_->AssignReplica("slot7", "store-a", m_address_, "slot1").ok());
  Await(r_.get(), "slot7", [](const ReplicaState& s) { return s.in_sync; });
  ASSERT_EQ(system(("rm -rf " + m_slot_ + "/users/alice/cur").c_str()), 0);
  auto blocked = [](const ReplicaState& s) {
    return !s.in_sync && s.blocked_users == std::vector<std::string>{"alice"};
  };
  ReplicaState s = Await(r_.get(), "slot7", blocked);
  EXPECT_NE(s.last_error.find("mass-deletion guard"), std::string::npos) << s.last_error;
  StartReplicaEngine(DefaultTargetFs());  // the agent restarts
  ASSERT_TRUE(r_->AssignReplica("slot7", "store-a", m_address_, "slot1").ok());
  Await(r_.get(), "slot7", blocked);
  EXPECT_TRUE(Exists(r_slot_ + "/users/alice/cur/10.h:2,S"));
  ASSERT_TRUE(r_->safety()->UnblockUser("slot7", "alice").ok());
  s = Await(r_.get(), "slot7", [](const ReplicaState& st) { return st.in_sync; });
  EXPECT_TRUE(s.blocked_users.empty());
  EXPECT_FALSE(Exists(r_slot_ + "/users/alice/cur/10.h:2,S"));
  EXPECT_EQ(s.quarantine_items, 21u);  // every message kept aside
}

// A master slot replaced behind the agent's back is reported (it cannot be
// verified against itself; the coordinator raises the event).
TEST_F(EngineSafetyTest, AMasterWhoseSlotWasReplacedIsReported) {
  m_->OnRoleChanged("slot1", v1::SLOT_MASTER);
  m_->RunMaintenance();  // the instance file is written and the identity recorded
  ASSERT_TRUE(Exists(m_slot_ + "/.slotkeeper-instance"));
  std::vector<ReplicaState> st = m_->ReplicationStatus();
  ASSERT_EQ(st.size(), 1u);
  EXPECT_EQ(st[0].role, v1::SLOT_MASTER);
  EXPECT_EQ(st[0].store, "store-a");
  EXPECT_FALSE(st[0].identity_changed);
  ASSERT_EQ(system(("cp -a " + m_slot_ + " " + base_ + "/copy && rm -rf " + m_slot_ + " && mv " +
                    base_ + "/copy " + m_slot_)
                       .c_str()),
            0);
  m_->RunMaintenance();
  st = m_->ReplicationStatus();
  ASSERT_EQ(st.size(), 1u);
  EXPECT_TRUE(st[0].identity_changed);
}

}  // namespace
}  // namespace slotkeeper::sync
