// GrpcClusterClient against real sockets on loopback: an address where
// nothing listens (the one-line "cannot reach" message, exit 1, JSON too),
// and a small in-process Automation server (answers, NOT_FOUND, streams,
// UNIMPLEMENTED).
#include "tools/slotctl/grpc_cluster_client.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <sstream>

#include "absl/strings/str_cat.h"
#include "base/clock.h"
#include "base/grpc_util.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tools/slotctl/slotctl.h"
#include "tools/slotctl/test_cluster.h"

namespace slotkeeper::slotctl {
namespace {

using ::testing::HasSubstr;

// A loopback port that nothing listens on: bound by us, then closed.
int ClosedPort() {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  EXPECT_GE(fd, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  EXPECT_EQ(bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
  socklen_t len = sizeof(addr);
  EXPECT_EQ(getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len), 0);
  close(fd);
  return ntohs(addr.sin_port);
}

RunResult RunReal(const std::vector<std::string>& args) {
  std::ostringstream out, err;
  std::istringstream in;
  FakeClock clock;
  Environment env;
  env.out = &out;
  env.err = &err;
  env.in = &in;
  env.clock = &clock;
  env.connect = [](const std::string& server,
                   absl::Duration timeout) -> std::unique_ptr<ClusterClient> {
    return std::make_unique<GrpcClusterClient>(server, timeout);
  };
  RunResult r;
  r.code = RunSlotctl(args, env);
  r.out = out.str();
  r.err = err.str();
  return r;
}

TEST(UnreachableServerTest, OneLineNamingTheAddressAndExit1) {
  const std::string address = absl::StrCat("127.0.0.1:", ClosedPort());
  RunResult r = RunReal({"--server", address, "status"});
  EXPECT_EQ(r.code, 1);
  EXPECT_EQ(r.out, "");
  EXPECT_EQ(r.err,
            absl::StrCat("slotctl: cannot reach slotmgrd at ", address, ": connection refused\n"));

  r = RunReal({"--server", address, "--json", "hosts"});
  EXPECT_EQ(r.code, 1);
  EXPECT_EQ(r.err, "");
  EXPECT_TRUE(IsJsonObject(r.out)) << r.out;
  EXPECT_EQ(r.out, absl::StrCat("{\"error\":{\"code\":\"UNAVAILABLE\",\"message\":\"cannot reach "
                                "slotmgrd at ",
                                address, ": connection refused\"}}\n"));

  r = RunReal({"--server", address, "events", "--follow"});
  EXPECT_EQ(r.code, 1);
  EXPECT_THAT(r.err, HasSubstr("cannot reach slotmgrd at " + address));
}

TEST(TransportFailureReasonTest, OnlyConnectionLevelFailures) {
  EXPECT_EQ(TransportFailureReason(grpc::Status(
                grpc::StatusCode::UNAVAILABLE,
                "failed to connect to all addresses; last error: UNKNOWN: ipv4:127.0.0.1:1: "
                "Failed to connect to remote host: Connection refused")),
            "connection refused");
  EXPECT_EQ(TransportFailureReason(
                grpc::Status(grpc::StatusCode::UNAVAILABLE, "DNS resolution failed for x:1")),
            "cannot resolve host");
  // The coordinator's own "cannot act now" is passed through.
  EXPECT_EQ(TransportFailureReason(
                grpc::Status(grpc::StatusCode::UNAVAILABLE, "coordinator is loading its state")),
            "");
  EXPECT_EQ(TransportFailureReason(grpc::Status(grpc::StatusCode::NOT_FOUND, "connection refused")),
            "");
}

// Answers a few calls; everything else is UNIMPLEMENTED (the generated
// default).
class SmallAutomation final : public v1::Automation::Service {
 public:
  grpc::Status GetHost(grpc::ServerContext*, const v1::GetHostRequest* request,
                       v1::HostInfo* response) override {
    if (request->host() != "imap1") {
      return grpc::Status(grpc::StatusCode::NOT_FOUND, "no host named " + request->host());
    }
    response->set_name("imap1");
    response->set_state(v1::HOST_UP);
    return grpc::Status::OK;
  }
  grpc::Status ListQuarantine(grpc::ServerContext*, const v1::ListQuarantineItemsRequest* request,
                              v1::ListQuarantineItemsResponse* response) override {
    v1::SlotQuarantine* sq = response->add_slots();
    sq->mutable_slot()->set_host(request->host());
    sq->mutable_slot()->set_slot(request->slot());
    sq->set_store("st1");
    sq->set_total_items(7);
    return grpc::Status::OK;
  }
  grpc::Status WatchEvents(grpc::ServerContext*, const v1::WatchEventsRequest* request,
                           grpc::ServerWriter<v1::Event>* writer) override {
    for (int i = 1; i <= 3; ++i) {
      v1::Event e;
      e.set_seq(request->after_seq() + i);
      e.set_kind("host.up");
      writer->Write(e);
    }
    return grpc::Status::OK;
  }
};

class InProcessServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    grpc::ServerBuilder builder;
    int port = 0;
    EXPECT_TRUE(AddListeningPort(builder, "127.0.0.1:0", &port).ok());
    builder.RegisterService(&service_);
    server_ = builder.BuildAndStart();
    ASSERT_NE(server_, nullptr);
    address_ = absl::StrCat("127.0.0.1:", port);
  }
  void TearDown() override { server_->Shutdown(); }

  SmallAutomation service_;
  std::unique_ptr<grpc::Server> server_;
  std::string address_;
};

TEST_F(InProcessServerTest, UnaryStreamAndErrors) {
  GrpcClusterClient client(address_, absl::Seconds(10));
  v1::GetHostRequest req;
  req.set_host("imap1");
  absl::StatusOr<v1::HostInfo> host = client.GetHost(req);
  ASSERT_TRUE(host.ok()) << host.status();
  EXPECT_EQ(host->state(), v1::HOST_UP);

  req.set_host("imap9");
  EXPECT_EQ(client.GetHost(req).status(), absl::NotFoundError("no host named imap9"));

  absl::Status unimplemented = client.ListHosts({}).status();
  EXPECT_EQ(unimplemented.code(), absl::StatusCode::kUnimplemented);
  EXPECT_THAT(std::string(unimplemented.message()),
              HasSubstr("slotmgrd at " + address_ + " does not implement this call"));

  std::vector<uint64_t> seqs;
  v1::WatchEventsRequest watch;
  watch.set_after_seq(10);
  ASSERT_TRUE(client
                  .WatchEvents(watch,
                               [&](const v1::Event& e) {
                                 seqs.push_back(e.seq());
                                 return seqs.size() < 2;  // stop early
                               })
                  .ok());
  EXPECT_EQ(seqs, (std::vector<uint64_t>{11, 12}));
}

TEST_F(InProcessServerTest, DataSafetyCalls) {
  GrpcClusterClient client(address_, absl::Seconds(10));
  v1::ListQuarantineItemsRequest list;
  list.set_host("imap1");
  list.set_slot("s01");
  absl::StatusOr<v1::ListQuarantineItemsResponse> listed = client.ListQuarantine(list);
  ASSERT_TRUE(listed.ok()) << listed.status();
  ASSERT_EQ(listed->slots_size(), 1);
  EXPECT_EQ(listed->slots(0).total_items(), 7u);
  EXPECT_EQ(client.UnblockUser({}).status().code(), absl::StatusCode::kUnimplemented);

  RunResult r = RunReal({"--server", address_, "quarantine", "list", "--slot", "imap1/s01"});
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.out, "imap1/s01 (st1): 7 item(s), 0 B in quarantine; 0 shown\n");
  r = RunReal({"--server", address_, "store", "reconcile", "st1", "--dry-run"});
  EXPECT_EQ(r.code, 1);
  EXPECT_THAT(r.err, HasSubstr("does not implement this call"));
}

TEST_F(InProcessServerTest, SlotctlEndToEnd) {
  RunResult r = RunReal({"--server", address_, "host", "imap9"});
  EXPECT_EQ(r.code, 1);
  EXPECT_EQ(r.err, "slotctl: host \"imap9\": not found (no host named imap9)\n");
  r = RunReal({"--server", address_, "host", "imap1", "--json"});
  EXPECT_EQ(r.code, 0) << r.out;
  EXPECT_TRUE(IsJsonObject(r.out));
  EXPECT_THAT(r.out, HasSubstr("\"state\": \"HOST_UP\""));
}

}  // namespace
}  // namespace slotkeeper::slotctl
