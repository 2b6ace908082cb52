// Mutual TLS, host identities, operator roles and audit on a real cluster:
// four slotmgrd/replicatord processes with certificates from the
// development CA (tools/certs.sh), the coordinator with a policy file that
// maps the viewer, operator and admin certificates to their roles.
//
// What must hold: a store is created and replicated as in the demo; an
// agent with host A's certificate cannot register as host B; a client
// without a certificate, or with the viewer's, cannot drain or fail over;
// every operator action's audit event names the certificate identity that
// made it. (Who may read mail from a peer port: peer_authorization_test.)
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "base/tls.h"
#include "proto/agent.grpc.pb.h"
#include "proto/automation.grpc.pb.h"
#include "tests/e2e/cluster.h"

namespace slotkeeper::testing {
namespace {

// A channel to `address` that presents `identity`'s certificate from the
// cluster's CA and expects the server to prove `server_identity`.
std::shared_ptr<grpc::Channel> ChannelAs(Cluster& c, const std::string& identity,
                                         const std::string& address,
                                         const std::string& server_identity) {
  const std::string dir = c.CertsDir();
  auto security = TransportSecurity::MutualTls(
      {dir + "/ca.pem", dir + "/" + identity + ".pem", dir + "/" + identity + ".key"});
  EXPECT_TRUE(security.ok()) << security.status();
  grpc::ChannelArguments args;
  auto creds = (*security)->ChannelCredentials(address, server_identity, args);
  EXPECT_TRUE(creds.ok()) << creds.status();
  return grpc::CreateCustomChannel(address, *creds, args);
}

std::string PeerAddress(Cluster& c, const std::string& host) {
  grpc::ClientContext ctx;
  v1::GetHostRequest req;
  req.set_host(host);
  v1::HostInfo info;
  grpc::Status st = c.api().GetHost(&ctx, req, &info);
  EXPECT_TRUE(st.ok()) << st.error_message();
  return info.peer_address();
}

TEST(SecurityTest, IdentitiesRolesAndAuditOnAClusterWithMutualTls) {
  ClusterOptions options;
  options.root = std::string(std::getenv("TEST_TMPDIR")) + "/security";
  options.hosts = {"imap1", "imap2", "imap3", "imap4"};
  options.verbose = true;
  auto created = Cluster::Create(options);
  ASSERT_TRUE(created.ok()) << created.status();
  Cluster& c = **created;
  ASSERT_TRUE(c.StartCoordinator().ok());
  ASSERT_TRUE(c.StartAllAgents().ok());
  // As in the demo: a store created by the admin, replicated to two more
  // hosts over mutual TLS.
  auto content = c.CreateStores({{"st1", "imap1", "du1s1"}}, 4, 40);
  ASSERT_TRUE(content.ok()) << content.status();
  auto store = c.Store("st1");
  ASSERT_TRUE(store.ok());

  // An agent with imap1's certificate cannot register as imap2.
  {
    auto stub =
        v1::AgentService::NewStub(ChannelAs(c, "imap1", c.coordinator_address(), "slotmgr"));
    grpc::ClientContext ctx;
    v1::RegisterRequest req;
    req.mutable_inventory()->set_host("imap2");
    req.mutable_inventory()->set_peer_address("127.0.0.1:1");
    v1::RegisterResponse resp;
    grpc::Status st = stub->Register(&ctx, req, &resp);
    EXPECT_EQ(st.error_code(), grpc::StatusCode::PERMISSION_DENIED) << st.error_message();
    EXPECT_NE(PeerAddress(c, "imap2"), "127.0.0.1:1");
  }

  // No certificate, or the viewer's: no drain, no failover.
  std::string out;
  auto code = c.SlotctlAs("", {"drain", "imap2", "--reason", "test"}, &out);
  ASSERT_TRUE(code.ok());
  EXPECT_NE(*code, 0) << out;
  code = c.SlotctlAs("viewer", {"drain", "imap2", "--reason", "test"}, &out);
  ASSERT_TRUE(code.ok());
  EXPECT_NE(*code, 0) << out;
  EXPECT_NE(out.find("needs the operator role"), std::string::npos) << out;
  code = c.SlotctlAs("viewer", {"failover", "st1", "--yes", "--reason", "test"}, &out);
  ASSERT_TRUE(code.ok());
  EXPECT_NE(*code, 0) << out;
  EXPECT_NE(out.find("needs the operator role"), std::string::npos) << out;
  // The viewer still reads.
  code = c.SlotctlAs("viewer", {"store", "st1"}, &out);
  ASSERT_TRUE(code.ok());
  EXPECT_EQ(*code, 0) << out;
  auto info = c.Store("st1");
  ASSERT_TRUE(info.ok());
  EXPECT_EQ(info->master_epoch(), store->master_epoch());

  // An operator's drain is audited with the operator's identity.
  code = c.SlotctlAs("operator", {"drain", "imap4", "--yes", "--reason", "disk swap"}, &out);
  ASSERT_TRUE(code.ok());
  EXPECT_EQ(*code, 0) << out;
  code = c.SlotctlAs("admin", {"events", "--kind", "audit", "--since", "1h", "--json"}, &out);
  ASSERT_TRUE(code.ok());
  ASSERT_EQ(*code, 0) << out;
  EXPECT_NE(out.find("\"actor\": \"operator\""), std::string::npos) << out;
  EXPECT_NE(out.find("disk swap"), std::string::npos) << out;
  EXPECT_NE(out.find("\"actor\": \"admin\""), std::string::npos) << out;   // CreateStore
  EXPECT_NE(out.find("\"actor\": \"viewer\""), std::string::npos) << out;  // the refusals
  EXPECT_NE(out.find("audit.denied"), std::string::npos) << out;
}

}  // namespace
}  // namespace slotkeeper::testing
