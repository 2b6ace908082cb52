// The coordinator through real gRPC on loopback (port 0), with a real
// RocksDB in the test's temp dir and a scripted fake agent client. The
// coordinator's clock is a FakeClock moved by the test, so timers are exact.
#include "slotmgr/server.h"

#include <grpcpp/grpcpp.h>

#include <fstream>
#include <memory>
#include <thread>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "base/grpc_util.h"
#include "gtest/gtest.h"
#include "proto/agent.grpc.pb.h"
#include "proto/automation.grpc.pb.h"
#include "proto/model_util.h"
#include "proto/peer.grpc.pb.h"
#include "slotmgr/model.h"
#include "slotmgr/testing/coordinator_fixture.h"

namespace slotkeeper::slotmgr {
namespace {

using testing::FsCondition;
using testing::MakeInventory;
using testing::Ref;

// A scripted agent: registers, opens the session, records what it receives.
class FakeAgent {
 public:
  FakeAgent(const std::string& address, v1::HostInventory inv, Clock* clock)
      : stub_(v1::AgentService::NewStub(MakeChannel(address))),
        inv_(std::move(inv)),
        clock_(clock) {}
  ~FakeAgent() { Close(); }

  grpc::Status Register() {
    grpc::ClientContext ctx;
    v1::RegisterRequest req;
    *req.mutable_inventory() = inv_;
    v1::RegisterResponse resp;
    grpc::Status st = stub_->Register(&ctx, req, &resp);
    session_id_ = resp.session_id();
    return st;
  }

  void Open(bool send_hello = true) {
    ctx_ = std::make_unique<grpc::ClientContext>();
    stream_ = stub_->Session(ctx_.get());
    reader_ = std::thread([this] {
      v1::CoordinatorMessage m;
      while (stream_->Read(&m)) {
        absl::MutexLock lock(&mu_);
        received_.push_back(m);
      }
    });
    if (send_hello) {
      v1::AgentMessage hello;
      hello.mutable_hello()->set_host(inv_.host());
      hello.mutable_hello()->set_session_id(session_id_);
      ASSERT_TRUE(stream_->Write(hello));
    }
  }

  bool Send(const v1::AgentMessage& m) { return stream_->Write(m); }

  bool Report(std::vector<v1::Condition> conditions = {}) {
    v1::AgentMessage m;
    v1::HealthReport* r = m.mutable_report();
    r->set_report_id(++report_id_);
    r->set_agent_time_ms(clock_->NowMs());
    for (auto& c : conditions) *r->add_conditions() = c;
    {
      absl::MutexLock lock(&mu_);
      for (const auto& [slot, lease] : held_) *r->add_leases_held() = lease;
    }
    return Send(m);
  }

  // Ends the stream from our side and returns the server's status.
  grpc::Status Close() {
    if (!stream_) return grpc::Status::OK;
    stream_->WritesDone();
    grpc::Status st = stream_->Finish();
    reader_.join();
    stream_.reset();
    return st;
  }

  // Waits (real time, bounded) until a received message satisfies `pred`.
  template <typename Pred>
  std::optional<v1::CoordinatorMessage> WaitFor(Pred pred,
                                                absl::Duration timeout = absl::Seconds(10)) {
    absl::MutexLock lock(&mu_);
    std::optional<v1::CoordinatorMessage> found;
    auto ready = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
      for (const auto& m : received_) {
        if (pred(m)) {
          found = m;
          return true;
        }
      }
      return false;
    };
    mu_.AwaitWithTimeout(absl::Condition(&ready), timeout);
    return found;
  }

  // Acknowledges every command received so far (once each).
  void AckAll() {
    std::vector<v1::Command> cmds;
    {
      absl::MutexLock lock(&mu_);
      for (const auto& m : received_) {
        if (m.has_command() && acked_.insert(m.command().id()).second) cmds.push_back(m.command());
      }
    }
    for (const auto& c : cmds) {
      {
        // Like an agent: a promotion takes the lease, a demotion drops it.
        absl::MutexLock lock(&mu_);
        if (c.has_promote()) held_[c.promote().slot()] = c.promote().lease();
        if (c.has_demote()) held_.erase(c.demote().slot());
      }
      v1::AgentMessage a;
      a.mutable_ack()->set_command_id(c.id());
      a.mutable_ack()->set_ok(true);
      ASSERT_TRUE(Send(a));
      if (c.has_start_task()) {
        v1::AgentMessage u;
        u.mutable_task_update()->set_task_id(c.start_task().task_id());
        u.mutable_task_update()->set_state(v1::TASK_DONE);
        u.mutable_task_update()->set_verified(true);
        ASSERT_TRUE(Send(u));
      }
    }
  }

  const std::string& host() const { return inv_.host(); }
  const std::string& session_id() const { return session_id_; }
  void set_session_id(const std::string& id) { session_id_ = id; }

 private:
  std::unique_ptr<v1::AgentService::Stub> stub_;
  v1::HostInventory inv_;
  Clock* clock_;
  std::string session_id_;
  uint64_t report_id_ = 0;
  std::map<std::string, v1::Lease> held_ ABSL_GUARDED_BY(mu_);  // by slot
  std::unique_ptr<grpc::ClientContext> ctx_;
  std::unique_ptr<grpc::ClientReaderWriter<v1::AgentMessage, v1::CoordinatorMessage>> stream_;
  std::thread reader_;
  absl::Mutex mu_;
  std::vector<v1::CoordinatorMessage> received_ ABSL_GUARDED_BY(mu_);
  std::set<std::string> acked_;
};

class ServerTest : public testing::CoordinatorFixture {
 protected:
  void SetUp() override {
    config_.failover_grace_hard_ms = 3000;
    config_.lease_ms = 2000;
    CoordinatorFixture::SetUp();
    StartServer();
  }
  void TearDown() override {
    StopServer();
    CoordinatorFixture::TearDown();
  }

  void StartServer() {
    auto s = SlotmgrServer::Start("127.0.0.1:0", coord_.get(), &clock_);
    ASSERT_TRUE(s.ok()) << s.status();
    server_ = std::move(*s);
    automation_ = v1::Automation::NewStub(MakeChannel(server_->address()));
  }
  void StopServer() {
    if (server_) server_->Shutdown(absl::Milliseconds(100));
    server_.reset();
  }

  // Waits until the coordinator has applied what the agents sent (the
  // stream is asynchronous): polls a predicate on the model.
  template <typename Pred>
  bool Eventually(Pred pred) {
    for (int i = 0; i < 500; ++i) {
      if (pred()) return true;
      absl::SleepFor(absl::Milliseconds(10));
    }
    return false;
  }

  std::unique_ptr<SlotmgrServer> server_;
  std::unique_ptr<v1::Automation::Stub> automation_;
};

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
  const std::string before = coord_->TEST_Model().hosts["imap1"].SerializeAsString();
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
  HostRecord after = coord_->TEST_Model().hosts["imap1"];
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
  ASSERT_TRUE(coord_->CreateStore(cs).ok());
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

namespace slotkeeper::slotmgr {
namespace {

// The events of `kind` (or under it) in the journal.
std::vector<v1::Event> JournalOfKind(v1::Automation::Stub& automation, const std::string& kind) {
  grpc::ClientContext ctx;
  v1::ListEventsRequest req;
  req.set_kind(kind);
  v1::ListEventsResponse resp;
  grpc::Status st = automation.ListEvents(&ctx, req, &resp);
  EXPECT_TRUE(st.ok()) << st.error_message();
  return {resp.events().begin(), resp.events().end()};
}

TEST_F(ServerTest, AMegabyteConditionTextIsRefusedAndKeptNowhere) {
  FakeAgent agent(server_->address(), MakeInventory("imap1"), &clock_);
  ASSERT_TRUE(agent.Register().ok());
  agent.Open();
  v1::Condition c = FsCondition(v1::READ_ONLY, "/srv/du1");
  c.set_reason(std::string(1 << 20, 'x'));
  agent.Report({c});
  grpc::Status st = agent.Close();
  EXPECT_EQ(st.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << st.error_message();
  EXPECT_NE(st.error_message().find("report.conditions[0].reason is 1048576 bytes"),
            std::string::npos)
      << st.error_message();
  // Nothing of it reached the model or the journal.
  ClusterModel model = coord_->TEST_Model();
  for (const v1::FilesystemInfo& f : model.hosts["imap1"].info().filesystems()) {
    EXPECT_NE(f.state(), v1::FS_READ_ONLY);
  }
  for (const v1::Event& e : JournalOfKind(*automation_, "")) {
    EXPECT_LT(e.text().size(), 8192u) << e.kind();
  }
}

TEST_F(ServerTest, OperatorActionsAreAuditedWithTheCallerAndTheReason) {
  FakeAgent agent(server_->address(), MakeInventory("imap1"), &clock_);
  ASSERT_TRUE(agent.Register().ok());
  {
    grpc::ClientContext ctx;
    v1::DrainRequest req;
    req.set_host("imap1");
    req.set_reason("replacing du1 tonight");
    v1::DrainResponse resp;
    ASSERT_TRUE(automation_->Drain(&ctx, req, &resp).ok());
  }
  {
    // Who paused is who called, not what the request claims.
    grpc::ClientContext ctx;
    v1::SetAutomationRequest req;
    req.set_paused(true);
    req.set_reason("maintenance");
    req.set_set_by("somebody-else");
    v1::AutomationState resp;
    ASSERT_TRUE(automation_->SetAutomation(&ctx, req, &resp).ok());
    EXPECT_EQ(resp.set_by().rfind("anonymous (", 0), 0u) << resp.set_by();
  }
  {
    grpc::ClientContext ctx;
    v1::DrainRequest req;
    req.set_host("nope");
    v1::DrainResponse resp;
    EXPECT_EQ(automation_->Drain(&ctx, req, &resp).error_code(), grpc::StatusCode::NOT_FOUND);
  }
  std::vector<v1::Event> audit = JournalOfKind(*automation_, "audit");
  ASSERT_EQ(audit.size(), 3u);
  EXPECT_EQ(audit[0].kind(), "audit.call");
  EXPECT_EQ(audit[0].host(), "imap1");
  EXPECT_EQ(audit[0].actor().rfind("anonymous (ipv4:127.0.0.1:", 0), 0u) << audit[0].actor();
  EXPECT_NE(
      audit[0].text().find("called Drain {host: \"imap1\" reason: \"replacing du1 tonight\"}: OK"),
      std::string::npos)
      << audit[0].text();
  EXPECT_NE(audit[1].text().find("SetAutomation"), std::string::npos);
  EXPECT_EQ(audit[1].text().find("somebody-else"), std::string::npos) << audit[1].text();
  EXPECT_NE(audit[2].text().find("NOT_FOUND"), std::string::npos) << audit[2].text();
  // Reads are not audited.
  grpc::ClientContext ctx;
  v1::ListHostsResponse hosts;
  ASSERT_TRUE(automation_->ListHosts(&ctx, v1::ListHostsRequest(), &hosts).ok());
  EXPECT_EQ(JournalOfKind(*automation_, "audit").size(), 3u);
}

TEST_F(ServerTest, AChangedPeerAddressIsJournaled) {
  v1::HostInventory inv = MakeInventory("imap1");
  FakeAgent first(server_->address(), inv, &clock_);
  ASSERT_TRUE(first.Register().ok());
  EXPECT_TRUE(JournalOfKind(*automation_, "host.address_changed").empty());
  inv.set_peer_address("127.0.0.1:7999");
  FakeAgent moved(server_->address(), inv, &clock_);
  ASSERT_TRUE(moved.Register().ok());
  std::vector<v1::Event> changed = JournalOfKind(*automation_, "host.address_changed");
  ASSERT_EQ(changed.size(), 1u);
  EXPECT_EQ(changed[0].host(), "imap1");
  EXPECT_NE(changed[0].text().find("127.0.0.1:7999"), std::string::npos) << changed[0].text();
}

// Threads of this process now (/proc/self/status).
int ThreadCount() {
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("Threads:", 0) == 0) return std::stoi(line.substr(8));
  }
  return -1;
}

TEST_F(ServerTest, FourHundredIdleWatchersTakeNoThreadEach) {
  const int before = ThreadCount();
  ASSERT_GT(before, 0);
  constexpr int kWatchers = 400;
  std::vector<std::unique_ptr<grpc::ClientContext>> contexts;
  std::vector<std::unique_ptr<grpc::ClientReader<v1::Event>>> streams;
  for (int i = 0; i < kWatchers; ++i) {
    contexts.push_back(std::make_unique<grpc::ClientContext>());
    v1::WatchEventsRequest req;
    req.set_after_seq(coord_->queries().LastEventSeq());
    streams.push_back(automation_->WatchEvents(contexts.back().get(), req));
  }
  ASSERT_TRUE(Eventually([&] { return server_->open_watches() == kWatchers; }))
      << server_->open_watches();
  const int during = ThreadCount();
  EXPECT_LT(during - before, 50) << "threads before " << before << ", with " << kWatchers
                                 << " watchers " << during;
  // They still work: a new event reaches a watcher.
  FakeAgent agent(server_->address(), MakeInventory("imap1"), &clock_);
  ASSERT_TRUE(agent.Register().ok());
  v1::Event e;
  ASSERT_TRUE(streams.back()->Read(&e));
  EXPECT_EQ(e.kind(), "host.registered");
  for (auto& c : contexts) c->TryCancel();
  for (auto& s : streams) s->Finish();
  EXPECT_TRUE(Eventually([&] { return server_->open_watches() == 0; }));
}

TEST_F(ServerTest, AWatchEndsWhenTheServerShutsDown) {
  grpc::ClientContext ctx;
  auto stream = automation_->WatchRouting(&ctx, v1::WatchRoutingRequest());
  ASSERT_TRUE(Eventually([&] { return server_->open_watches() == 1; }));
  StopServer();
  v1::RoutingChange change;
  EXPECT_FALSE(stream->Read(&change));
  stream->Finish();
}

}  // namespace
}  // namespace slotkeeper::slotmgr
