// The coordinator through real gRPC on loopback (port 0), with a real
// RocksDB in the test's temp dir and a scripted fake agent client. The
// coordinator's clock is a FakeClock moved by the test, so timers are exact.
// The server's defences against hostile callers are server_security_test.cc.
#include "slotmgr/server.h"

#include <grpcpp/grpcpp.h>

#include <memory>
#include <thread>
#include <vector>

#include "base/grpc_util.h"
#include "gtest/gtest.h"
#include "proto/agent.grpc.pb.h"
#include "proto/automation.grpc.pb.h"
#include "proto/model_util.h"
#include "proto/peer.grpc.pb.h"
#include "slotmgr/model.h"
#include "slotmgr/operator_actions.h"
#include "slotmgr/testing/server_fixture.h"

namespace slotkeeper::slotmgr {
namespace {

using testing::FakeAgent;
using testing::FsCondition;
using testing::MakeInventory;
using testing::Ref;
using ServerTest = testing::ServerFixture;

TEST_F(ServerTest, BadInputGetsClearErrorsAndChangesNothing) {
  // Malformed registration.
  v1::HostInventory inv = MakeInventory("imap1");
  inv.set_peer_address("no-port");
  FakeAgent malformed(server_->address(), inv, &clock_);
  EXPECT_EQ(malformed.Register().error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  // Hello from a host that never registered.
  FakeAgent ghost(server_->address(), MakeInventory("ghost"), &clock_);
  ghost.set_session_id("ghost-1");
  ghost.Open();
  grpc::Status st = ghost.Close();
  EXPECT_EQ(st.error_code(), grpc::StatusCode::NOT_FOUND) << st.error_message();
  // A report before hello.
  FakeAgent eager(server_->address(), MakeInventory("imap1"), &clock_);
  ASSERT_TRUE(eager.Register().ok());
  eager.Open(/*send_hello=*/false);
  eager.Report();
  st = eager.Close();
  EXPECT_EQ(st.error_code(), grpc::StatusCode::FAILED_PRECONDITION) << st.error_message();
  const std::string before = coord_->queries().TEST_Model().hosts["imap1"].SerializeAsString();
  // A report naming a slot that does not exist.
  FakeAgent agent(server_->address(), MakeInventory("imap1"), &clock_);
  ASSERT_TRUE(agent.Register().ok());
  agent.Open();
  v1::Condition c;
  c.set_type(v1::IO_ERROR);
  c.set_subject_kind(v1::SUBJECT_SLOT);
  c.set_subject("s99");
  agent.Report({c});
  st = agent.Close();
  EXPECT_EQ(st.error_code(), grpc::StatusCode::NOT_FOUND) << st.error_message();
  EXPECT_NE(st.error_message().find("s99"), std::string::npos);
  // An ack for a command id never issued.
  ASSERT_TRUE(agent.Register().ok());
  agent.Open();
  v1::AgentMessage ack;
  ack.mutable_ack()->set_command_id("zz-unknown");
  agent.Send(ack);
  st = agent.Close();
  EXPECT_EQ(st.error_code(), grpc::StatusCode::NOT_FOUND) << st.error_message();
  // Nothing changed but the session id.
  HostRecord after = coord_->queries().TEST_Model().hosts["imap1"];
  HostRecord was;
  ASSERT_TRUE(was.ParseFromString(before));
  after.clear_session_id();
  was.clear_session_id();
  after.mutable_info()->clear_last_heard_ms();
  was.mutable_info()->clear_last_heard_ms();
  EXPECT_EQ(after.SerializeAsString(), was.SerializeAsString());
  // Automation: unknown store, malformed failover.
  grpc::ClientContext ctx1;
  v1::GetStoreRequest gs;
  gs.set_store("nope");
  v1::StoreInfo si;
  EXPECT_EQ(automation_->GetStore(&ctx1, gs, &si).error_code(), grpc::StatusCode::NOT_FOUND);
  grpc::ClientContext ctx2;
  v1::FailoverRequest fr;
  fr.set_store("a");
  fr.set_host("b");
  v1::FailoverResponse fresp;
  EXPECT_EQ(automation_->Failover(&ctx2, fr, &fresp).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
}

TEST_F(ServerTest, ReadOnlyMasterFailsOverAndStateSurvivesRestart) {
  std::vector<std::unique_ptr<FakeAgent>> agents;
  for (const char* h : {"imap1", "imap2", "imap3"}) {
    agents.push_back(std::make_unique<FakeAgent>(server_->address(), MakeInventory(h), &clock_));
    ASSERT_TRUE(agents.back()->Register().ok());
    agents.back()->Open();
  }
  ASSERT_TRUE(Eventually([&] { return server_->agent_service()->SessionCount() == 3; }));
  grpc::ClientContext ctx;
  v1::CreateStoreRequest cs;
  cs.set_store("st1");
  *cs.mutable_master() = Ref("imap1", "s01");
  cs.set_copies(3);
  v1::StoreInfo created;
  ASSERT_TRUE(automation_->CreateStore(&ctx, cs, &created).ok());
  // The agents acknowledge, seed the replicas and report them done.
  for (auto& a : agents) {
    ASSERT_TRUE(a->WaitFor([](const v1::CoordinatorMessage& m) { return m.has_ping(); }));
  }
  ASSERT_TRUE(Eventually([&] {
    for (auto& a : agents) a->AckAll();
    server_->TickAndFlush();
    auto st = coord_->queries().GetStore("st1");
    return st.ok() && st->state() == v1::STORE_HEALTHY;
  }));
  // The master's filesystem turns read-only; the agent says so at once.
  agents[0]->Report({FsCondition(v1::READ_ONLY, "/srv/du1")});
  ASSERT_TRUE(Eventually([&] { return !coord_->queries().GetHost("imap1")->slots(0).usable(); }));
  for (int i = 0; i < 12; ++i) {
    clock_.Advance(absl::Seconds(1));
    for (auto& a : agents) {
      a->Report(a->host() == "imap1"
                    ? std::vector<v1::Condition>{FsCondition(v1::READ_ONLY, "/srv/du1")}
                    : std::vector<v1::Condition>{});
      // The replicas answer the final pull from the read-only master.
      if (a->host() != "imap1") a->AckAll();
    }
    // The stream is asynchronous: the clock moves on only once every report
    // of this second has been applied, or the hosts would look silent.
    ASSERT_TRUE(Eventually([&] {
      for (auto& a : agents) {
        if (coord_->queries().GetHost(a->host())->last_heard_ms() != clock_.NowMs()) return false;
      }
      return true;
    }));
    server_->TickAndFlush();
  }
  // A promote command reaches one of the replicas' agents.
  std::optional<v1::CoordinatorMessage> promote;
  std::string promoted_host;
  for (auto& a : agents) {
    auto m = a->WaitFor(
        [](const v1::CoordinatorMessage& m) {
          return m.has_command() && m.command().has_promote() && m.command().promote().epoch() == 2;
        },
        absl::Milliseconds(500));
    if (m) {
      promote = m;
      promoted_host = a->host();
    }
  }
  ASSERT_TRUE(promote.has_value());
  EXPECT_NE(promoted_host, "imap1");
  grpc::ClientContext ectx;
  v1::ListEventsRequest er;
  v1::ListEventsResponse events;
  ASSERT_TRUE(automation_->ListEvents(&ectx, er, &events).ok());
  int failovers = 0;
  for (const auto& e : events.events()) failovers += e.kind() == "store.failover";
  EXPECT_EQ(failovers, 1);
  // LookupUser-style routing is served from the new master.
  const std::string new_master =
      model::SlotName(Ref(promoted_host, promote->command().promote().slot()));

  // Kill and restart the coordinator: the state is intact.
  for (auto& a : agents) a->Close();
  StopServer();
  Restart();
  StartServer();
  grpc::ClientContext gctx;
  v1::GetStoreRequest gs;
  gs.set_store("st1");
  v1::StoreInfo after;
  ASSERT_TRUE(automation_->GetStore(&gctx, gs, &after).ok());
  EXPECT_EQ(after.master_epoch(), 2u);
  for (const auto& c : after.copies()) {
    if (c.role() == v1::SLOT_MASTER) {
      EXPECT_EQ(model::SlotName(c.slot()), new_master);
    }
  }
}

// A ReplicaPeer that lists fixed users per slot, for ksck --verify-data.
class FakePeer final : public v1::ReplicaPeer::Service {
 public:
  grpc::Status ListUsers(grpc::ServerContext*, const v1::ListUsersRequest* req,
                         v1::ListUsersResponse* resp) override {
    resp->set_slot(req->slot());
    resp->set_store(req->store());
    for (const char* user : {"alice", "bob"}) {
      v1::UserSummary* u = resp->add_users();
      u->set_user(user);
      // A corrupt peer (imap3's in the test) holds a different bob.
      u->set_digest(std::string(user) == "bob" && corrupt_ ? "bad" : std::string("d-") + user);
    }
    return grpc::Status::OK;
  }
  bool corrupt_ = false;
};

TEST_F(ServerTest, VerifyDataComparesDigestsAcrossCopies) {
  FakePeer good, bad;
  bad.corrupt_ = true;
  std::vector<std::unique_ptr<grpc::Server>> peers;
  std::vector<std::string> peer_addresses;
  for (FakePeer* p : {&good, &good, &bad}) {
    grpc::ServerBuilder b;
    int port = 0;
    EXPECT_TRUE(AddListeningPort(b, "127.0.0.1:0", &port).ok());
    b.RegisterService(p);
    peers.push_back(b.BuildAndStart());
    peer_addresses.push_back(absl::StrCat("127.0.0.1:", port));
  }
  int i = 0;
  for (const char* h : {"imap1", "imap2", "imap3"}) {
    v1::HostInventory inv = MakeInventory(h);
    inv.set_peer_address(peer_addresses[i++]);
    RegisterHost(inv);
  }
  v1::CreateStoreRequest cs;
  cs.set_store("st1");
  *cs.mutable_master() = Ref("imap1", "s01");
  *cs.add_replicas() = Ref("imap2", "s01");
  *cs.add_replicas() = Ref("imap3", "s01");
  ASSERT_TRUE(slotmgr::CreateStore(*coord_, cs).ok());
  CompleteRunningTasks();
  grpc::ClientContext ctx;
  v1::CheckConsistencyRequest req;
  req.set_verify_data(true);
  v1::ConsistencyReport report;
  ASSERT_TRUE(automation_->CheckConsistency(&ctx, req, &report).ok());
  EXPECT_TRUE(report.data_verified());
  EXPECT_EQ(report.users_verified(), 2u);
  int mismatches = 0;
  for (const auto& p : report.problems()) {
    if (p.user() == "bob") {
      ++mismatches;
      EXPECT_EQ(p.host(), "imap3");
    }
  }
  EXPECT_EQ(mismatches, 1);
  for (auto& p : peers) p->Shutdown();
}

TEST_F(ServerTest, WatchEventsStreamsPastAndNewEvents) {
  grpc::ClientContext ctx;
  v1::WatchEventsRequest req;
  auto reader = automation_->WatchEvents(&ctx, req);
  v1::Event e;
  ASSERT_TRUE(reader->Read(&e));
  EXPECT_EQ(e.kind(), "coordinator.start");
  RegisterHost(MakeInventory("imap7"));
  bool seen = false;
  while (!seen && reader->Read(&e)) seen = e.kind() == "host.registered" && e.host() == "imap7";
  EXPECT_TRUE(seen);
  ctx.TryCancel();
  reader->Finish();
}

TEST_F(ServerTest, HundredAgentsStreamConcurrently) {
  constexpr int kAgents = 100;
  std::vector<std::unique_ptr<FakeAgent>> agents;
  for (int i = 0; i < kAgents; ++i) {
    agents.push_back(std::make_unique<FakeAgent>(
        server_->address(), MakeInventory(absl::StrCat("imap", i), 1, 2), &clock_));
    ASSERT_TRUE(agents.back()->Register().ok());
    agents.back()->Open();
  }
  ASSERT_TRUE(Eventually([&] { return server_->agent_service()->SessionCount() == kAgents; }));
  std::vector<std::thread> senders;
  for (auto& a : agents) {
    senders.emplace_back([&a] {
      for (int r = 0; r < 20; ++r) a->Report();
    });
  }
  for (int t = 0; t < 10; ++t) server_->TickAndFlush();  // pings race with the reports
  for (auto& t : senders) t.join();
  for (auto& a : agents) {
    EXPECT_TRUE(a->WaitFor([](const v1::CoordinatorMessage& m) { return m.has_ping(); }));
  }
  for (auto& a : agents) EXPECT_TRUE(a->Close().ok());
  EXPECT_TRUE(Eventually([&] { return server_->agent_service()->SessionCount() == 0; }));
  EXPECT_EQ(coord_->queries().ListHosts().hosts_size(), kAgents);
}

TEST_F(ServerTest, ReconnectedAgentGetsCommandsOnItsNewestStream) {
  FakeAgent old_stream(server_->address(), MakeInventory("imap1"), &clock_);
  ASSERT_TRUE(old_stream.Register().ok());
  old_stream.Open();
  ASSERT_TRUE(old_stream.WaitFor([](const v1::CoordinatorMessage& m) { return m.has_ping(); }));
  // The agent reconnects while its old stream still looks open.
  FakeAgent new_stream(server_->address(), MakeInventory("imap1"), &clock_);
  new_stream.set_session_id(old_stream.session_id());
  new_stream.Open();
  ASSERT_TRUE(new_stream.WaitFor([](const v1::CoordinatorMessage& m) { return m.has_ping(); }));
  RegisterHost(MakeInventory("imap2"));
  RegisterHost(MakeInventory("imap3"));
  v1::CreateStoreRequest cs;
  cs.set_store("st1");
  *cs.mutable_master() = Ref("imap1", "s01");
  *cs.add_replicas() = Ref("imap2", "s01");
  *cs.add_replicas() = Ref("imap3", "s01");
  grpc::ClientContext ctx;
  v1::StoreInfo info;
  ASSERT_TRUE(automation_->CreateStore(&ctx, cs, &info).ok());
  auto is_promote = [](const v1::CoordinatorMessage& m) {
    return m.has_command() && m.command().has_promote();
  };
  EXPECT_TRUE(new_stream.WaitFor(is_promote).has_value());
  EXPECT_FALSE(old_stream.WaitFor(is_promote, absl::Milliseconds(200)).has_value());
}

}  // namespace
}  // namespace slotkeeper::slotmgr
