// The coordinator's server against hostile or careless callers, through
// real gRPC on loopback: oversized condition texts, audited operator
// actions, changed peer addresses, hundreds of idle watchers.
#include <grpcpp/grpcpp.h>

#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "proto/agent.grpc.pb.h"
#include "proto/automation.grpc.pb.h"
#include "proto/model_util.h"
#include "slotmgr/server.h"
#include "slotmgr/testing/server_fixture.h"

namespace slotkeeper::slotmgr {
namespace {

using testing::FakeAgent;
using testing::FsCondition;
using testing::MakeInventory;
using ServerTest = testing::ServerFixture;

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
  ClusterModel model = coord_->queries().TEST_Model();
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
