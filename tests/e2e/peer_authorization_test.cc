// Peer authorization with real processes and real TLS: the coordinator
// grants each slot to the hosts holding a copy of its store, the agents
// replicate under those grants, and slotsync (the agent's own fetch path)
// with another host's certificate, an operator's, or none, cannot read the
// master's slot from its peer port. Likewise a failsafe lease is asked for a
// master only by the master's own host.
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include <cstdlib>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "base/tls.h"
#include "proto/failsafe.grpc.pb.h"
#include "tests/e2e/cluster.h"

namespace slotkeeper::testing {
namespace {

struct FetchRun {
  int code = -1;
  std::string out;
};

// slotsync of `slot` from `source` (expected to prove `source_host`) into a
// fresh directory, as `identity` ("" for no certificate).
FetchRun Fetch(Cluster& c, const std::string& root, const std::string& identity,
               const std::string& source, const std::string& source_host, const std::string& slot) {
  static int n = 0;
  std::vector<std::string> argv = {
      Runfile("tools/slotsync/slotsync"),           "--source=" + source,
      "--source_identity=" + source_host,           "--slot=" + slot,
      absl::StrCat("--dest=", root, "/fetch", ++n), "--quiet"};
  for (std::string& flag : c.TransportFlags(identity)) argv.push_back(std::move(flag));
  FetchRun run;
  absl::StatusOr<int> code = RunCommand(argv, &run.out, absl::Seconds(60));
  EXPECT_TRUE(code.ok()) << code.status();
  if (code.ok()) run.code = *code;
  return run;
}

// Asks the agent at `peer_address` (host `peer_host`) for a failsafe lease on
// its `copy_slot` of `store`, for the master slot `master`, as `identity`.
grpc::Status AskFailsafe(Cluster& c, const std::string& identity, const std::string& peer_address,
                         const std::string& peer_host, const std::string& store,
                         const v1::SlotRef& master, uint64_t epoch, const std::string& copy_slot,
                         v1::FailsafeLeaseResponse* response) {
  const std::string dir = c.CertsDir();
  auto tls = TransportSecurity::MutualTls(
      {dir + "/ca.pem", dir + "/" + identity + ".pem", dir + "/" + identity + ".key"});
  if (!tls.ok()) return grpc::Status(grpc::StatusCode::INTERNAL, tls.status().ToString());
  grpc::ChannelArguments args;
  auto creds = (*tls)->ChannelCredentials(peer_address, peer_host, args);
  if (!creds.ok()) return grpc::Status(grpc::StatusCode::INTERNAL, creds.status().ToString());
  auto stub = v1::Failsafe::NewStub(grpc::CreateCustomChannel(peer_address, *creds, args));
  v1::FailsafeLeaseRequest request;
  request.set_store(store);
  request.set_epoch(epoch);
  *request.mutable_master() = master;
  request.set_copy_slot(copy_slot);
  request.set_duration_ms(10'000);
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
  return stub->RequestLease(&ctx, request, response);
}

TEST(PeerAuthorizationTest, OnlyHostsWithACopyReadASlot) {
  ClusterOptions options;
  options.root = std::string(std::getenv("TEST_TMPDIR")) + "/peer_authorization";
  options.verbose = true;
  auto cluster = Cluster::Create(options);
  ASSERT_TRUE(cluster.ok()) << cluster.status();
  Cluster& c = **cluster;
  ASSERT_TRUE(c.StartCoordinator().ok());
  ASSERT_TRUE(c.StartAllAgents().ok());
  // Three copies on four hosts, made under the grants: replication works.
  auto made = c.CreateStores({{"st1", "imap1", "du1s1"}}, 5, 100, 3);
  ASSERT_TRUE(made.ok()) << made.status();
  auto store = c.Store("st1");
  ASSERT_TRUE(store.ok()) << store.status();
  std::string with_copy, without_copy;
  for (const std::string host : {"imap2", "imap3", "imap4"}) {
    (HasCopyOn(*store, host) ? with_copy : without_copy) = host;
  }
  ASSERT_FALSE(with_copy.empty());
  ASSERT_FALSE(without_copy.empty()) << store->DebugString();

  grpc::ClientContext ctx;
  v1::GetHostRequest request;
  request.set_host("imap1");
  v1::HostInfo imap1;
  ASSERT_TRUE(c.api().GetHost(&ctx, request, &imap1).ok());
  const std::string source = imap1.peer_address();

  FetchRun allowed = Fetch(c, options.root, with_copy, source, "imap1", "du1s1");
  EXPECT_EQ(allowed.code, 0) << allowed.out;

  FetchRun stranger = Fetch(c, options.root, without_copy, source, "imap1", "du1s1");
  EXPECT_NE(stranger.code, 0) << stranger.out;
  EXPECT_TRUE(absl::StrContains(stranger.out, "PERMISSION_DENIED")) << stranger.out;
  EXPECT_TRUE(absl::StrContains(stranger.out,
                                absl::StrCat("slot du1s1: ", without_copy, " may not read it")))
      << stranger.out;

  FetchRun viewer = Fetch(c, options.root, "viewer", source, "imap1", "du1s1");
  EXPECT_NE(viewer.code, 0) << viewer.out;
  EXPECT_TRUE(absl::StrContains(viewer.out, "slot du1s1: viewer may not read it")) << viewer.out;

  // No certificate: plaintext, which the TLS peer port does not accept.
  FetchRun anonymous = Fetch(c, options.root, "", source, "imap1", "du1s1");
  EXPECT_NE(anonymous.code, 0) << anonymous.out;

  // Failsafe leases: the replica on `with_copy` hears the coordinator, so it
  // refuses the master's own request (an answer, not an error); another
  // host's certificate or an operator's is refused before it is considered.
  std::string copy_slot;
  v1::SlotRef master;
  for (const v1::Copy& copy : store->copies()) {
    if (copy.slot().host() == with_copy) copy_slot = copy.slot().slot();
    if (copy.role() == v1::SLOT_MASTER) master = copy.slot();
  }
  ASSERT_FALSE(copy_slot.empty());
  ASSERT_EQ(master.host(), "imap1");
  grpc::ClientContext host_ctx;
  v1::GetHostRequest host_request;
  host_request.set_host(with_copy);
  v1::HostInfo replica_host;
  ASSERT_TRUE(c.api().GetHost(&host_ctx, host_request, &replica_host).ok());
  const uint64_t epoch = store->master_epoch();
  v1::FailsafeLeaseResponse answer;
  grpc::Status own = AskFailsafe(c, "imap1", replica_host.peer_address(), with_copy, "st1", master,
                                 epoch, copy_slot, &answer);
  ASSERT_TRUE(own.ok()) << own.error_message();
  EXPECT_FALSE(answer.granted());
  EXPECT_TRUE(answer.copy_hears_coordinator()) << answer.refusal();
  for (const std::string& stranger_identity : {without_copy, std::string("operator")}) {
    v1::FailsafeLeaseResponse refused;
    grpc::Status st = AskFailsafe(c, stranger_identity, replica_host.peer_address(), with_copy,
                                  "st1", master, epoch, copy_slot, &refused);
    EXPECT_EQ(st.error_code(), grpc::StatusCode::PERMISSION_DENIED)
        << stranger_identity << ": " << st.error_message();
    EXPECT_TRUE(absl::StrContains(st.error_message(), "may be asked only by that host"))
        << st.error_message();
  }
}

}  // namespace
}  // namespace slotkeeper::testing
