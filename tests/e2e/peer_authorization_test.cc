// Peer authorization with real processes and real TLS: the coordinator
// grants each slot to the hosts holding a copy of its store, the agents
// replicate under those grants, and slotsync (the agent's own fetch path)
// with another host's certificate, an operator's, or none, cannot read the
// master's slot from its peer port.
#include <gtest/gtest.h>

#include <cstdlib>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
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
}

}  // namespace
}  // namespace slotkeeper::testing
