// The real slotmgrd binary: started with --listen=127.0.0.1:0 on a fresh
// --data_dir, driven over gRPC, killed with SIGKILL, restarted on the same
// directory: the store it created and its journal are intact. Then a clean
// SIGTERM stop.
#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "base/grpc_util.h"
#include "base/http_test_client.h"
#include "gtest/gtest.h"
#include "proto/agent.grpc.pb.h"
#include "proto/automation.grpc.pb.h"
#include "slotmgr/testing/coordinator_fixture.h"

namespace slotkeeper::slotmgr {
namespace {

struct Daemon {
  pid_t pid = -1;
  std::string address;
  int http_port = 0;  // with --http_address
};

// Starts slotmgrd and reads "slotmgrd listening on ADDR" from its stdout
// (empty address if it exits first). Its stderr goes to `stderr_path` when
// given. `transport` is the transport-security flag ("" for none).
Daemon Start(const std::string& data_dir, const std::string& listen = "127.0.0.1:0",
             const std::string& stderr_path = "",
             const std::string& transport = "--insecure_loopback_only",
             const std::string& extra_flag = "") {
  int out[2];
  if (pipe(out) != 0) std::abort();
  Daemon d;
  d.pid = fork();
  if (d.pid == 0) {
    dup2(out[1], 1);
    close(out[0]);
    if (!stderr_path.empty()) {
      const int err = open(stderr_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
      if (err >= 0) dup2(err, 2);
    }
    const std::string dir = "--data_dir=" + data_dir;
    const std::string listen_flag = "--listen=" + listen;
    std::vector<const char*> argv = {"slotmgrd", listen_flag.c_str(), dir.c_str(),
                                     "--heartbeat=100ms"};
    if (!transport.empty()) argv.push_back(transport.c_str());
    if (!extra_flag.empty()) argv.push_back(extra_flag.c_str());
    argv.push_back(nullptr);
    execv("slotmgr/slotmgrd", const_cast<char* const*>(argv.data()));
    _exit(127);
  }
  close(out[1]);
  FILE* f = fdopen(out[0], "r");
  char line[256];
  while (f != nullptr && std::fgets(line, sizeof line, f) != nullptr) {
    std::string s(line);
    const std::string http = "slotmgrd http on 127.0.0.1:";
    if (absl::StartsWith(s, http) && !absl::SimpleAtoi(s.substr(http.size()), &d.http_port)) {
      d.http_port = -1;
    }
    const std::string prefix = "slotmgrd listening on ";
    if (absl::StartsWith(s, prefix)) {
      d.address = s.substr(prefix.size());
      while (!d.address.empty() && (d.address.back() == '\n')) d.address.pop_back();
      break;
    }
  }
  return d;
}

TEST(SlotmgrdTest, SurvivesSigkillAndStopsOnSigterm) {
  const std::string dir = testing::TempDir("slotmgrd_data");
  ASSERT_EQ(std::system(("rm -rf " + dir).c_str()), 0);
  Daemon d = Start(dir);
  ASSERT_FALSE(d.address.empty()) << "slotmgrd did not print its address";
  {
    auto agents = v1::AgentService::NewStub(MakeChannel(d.address));
    for (const char* h : {"imap1", "imap2", "imap3"}) {
      grpc::ClientContext ctx;
      v1::RegisterRequest req;
      *req.mutable_inventory() = testing::MakeInventory(h);
      v1::RegisterResponse resp;
      ASSERT_TRUE(agents->Register(&ctx, req, &resp).ok());
    }
    auto automation = v1::Automation::NewStub(MakeChannel(d.address));
    grpc::ClientContext ctx;
    v1::CreateStoreRequest cs;
    cs.set_store("st1");
    *cs.mutable_master() = testing::Ref("imap1", "s01");
    cs.set_copies(3);
    v1::StoreInfo info;
    grpc::Status st = automation->CreateStore(&ctx, cs, &info);
    ASSERT_TRUE(st.ok()) << st.error_message();
  }
  ASSERT_EQ(kill(d.pid, SIGKILL), 0);
  int status = 0;
  waitpid(d.pid, &status, 0);
  ASSERT_TRUE(WIFSIGNALED(status));

  Daemon again = Start(dir);
  ASSERT_FALSE(again.address.empty());
  auto automation = v1::Automation::NewStub(MakeChannel(again.address));
  grpc::ClientContext ctx;
  v1::GetStoreRequest gs;
  gs.set_store("st1");
  v1::StoreInfo info;
  ASSERT_TRUE(automation->GetStore(&ctx, gs, &info).ok());
  EXPECT_EQ(info.copies_size(), 3);
  EXPECT_EQ(info.master_epoch(), 1u);
  grpc::ClientContext tctx;
  v1::ListTasksResponse tasks;
  ASSERT_TRUE(automation->ListTasks(&tctx, v1::ListTasksRequest(), &tasks).ok());
  EXPECT_EQ(tasks.tasks_size(), 2) << "the seeding tasks survived the kill";
  grpc::ClientContext ectx;
  v1::ListEventsResponse events;
  ASSERT_TRUE(automation->ListEvents(&ectx, v1::ListEventsRequest(), &events).ok());
  int starts = 0;
  for (const auto& e : events.events()) starts += e.kind() == "coordinator.start";
  EXPECT_EQ(starts, 2);

  ASSERT_EQ(kill(again.pid, SIGTERM), 0);
  waitpid(again.pid, &status, 0);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0);
}

TEST(SlotmgrdTest, ServesItsHttpPortWhenAsked) {
  const std::string dir = testing::TempDir("slotmgrd_http");
  ASSERT_EQ(std::system(("rm -rf " + dir).c_str()), 0);
  Daemon d =
      Start(dir, "127.0.0.1:0", "", "--insecure_loopback_only", "--http_address=127.0.0.1:0");
  ASSERT_FALSE(d.address.empty());
  ASSERT_GT(d.http_port, 0) << "slotmgrd did not print its HTTP port";
  auto health = slotkeeper::testing::HttpGet(d.http_port, "/healthz");
  ASSERT_TRUE(health.ok()) << health.status();
  EXPECT_EQ(health->status, 200);
  EXPECT_EQ(health->body, "ok\n");
  ASSERT_EQ(kill(d.pid, SIGTERM), 0);
  int status = 0;
  waitpid(d.pid, &status, 0);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

TEST(SlotmgrdTest, RefusesAnHttpAddressItCannotUse) {
  const std::string dir = testing::TempDir("slotmgrd_badhttp");
  ASSERT_EQ(std::system(("rm -rf " + dir).c_str()), 0);
  const std::string err = dir + ".err";
  Daemon d =
      Start(dir, "127.0.0.1:0", err, "--insecure_loopback_only", "--http_address=localhost:1");
  EXPECT_EQ(d.http_port, 0);
  int status = 0;
  waitpid(d.pid, &status, 0);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_NE(WEXITSTATUS(status), 0);
  std::ifstream in(err);
  const std::string text((std::istreambuf_iterator<char>(in)), {});
  EXPECT_NE(text.find("--http_address"), std::string::npos) << text;
  EXPECT_NE(text.find("IP:PORT"), std::string::npos) << text;
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

// Exits with status 2 and a message naming `needle`, without serving.
void ExpectRefusal(const Daemon& d, const std::string& err, const std::string& needle) {
  EXPECT_TRUE(d.address.empty()) << "slotmgrd serves on " << d.address;
  int status = 0;
  waitpid(d.pid, &status, 0);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 2);
  EXPECT_NE(ReadFile(err).find(needle), std::string::npos) << ReadFile(err);
}

TEST(SlotmgrdTest, RefusesToStartWithoutATransportChoice) {
  const std::string err = testing::TempDir("slotmgrd_no_transport.stderr");
  ExpectRefusal(
      Start(testing::TempDir("slotmgrd_no_transport"), "127.0.0.1:0", err, ""), err,
      "give --tls_ca, --tls_cert and --tls_key (mutual TLS), or --insecure_loopback_only");
}

TEST(SlotmgrdTest, PlaintextRefusesToListenOffLoopback) {
  const std::string err = testing::TempDir("slotmgrd_wildcard.stderr");
  Daemon d = Start(testing::TempDir("slotmgrd_wildcard"), "0.0.0.0:0", err);
  EXPECT_TRUE(d.address.empty()) << "slotmgrd serves plaintext on " << d.address;
  int status = 0;
  waitpid(d.pid, &status, 0);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_NE(WEXITSTATUS(status), 0);
  EXPECT_NE(ReadFile(err).find("\"0.0.0.0:0\" is not a loopback address"), std::string::npos)
      << ReadFile(err);
}

TEST(SlotmgrdTest, ASecondCoordinatorOnTheSameAddressFailsToStart) {
  const std::string dir1 = testing::TempDir("slotmgrd_first");
  const std::string dir2 = testing::TempDir("slotmgrd_second");
  ASSERT_EQ(std::system(("rm -rf " + dir1 + " " + dir2).c_str()), 0);
  Daemon first = Start(dir1);
  ASSERT_FALSE(first.address.empty());
  const std::string err = testing::TempDir("slotmgrd_second.stderr");
  Daemon second = Start(dir2, first.address, err);
  EXPECT_TRUE(second.address.empty()) << "two coordinators serve " << first.address;
  int status = 0;
  waitpid(second.pid, &status, 0);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_NE(WEXITSTATUS(status), 0);
  FILE* f = std::fopen(err.c_str(), "r");
  ASSERT_NE(f, nullptr);
  char buf[4096] = {0};
  const size_t n = std::fread(buf, 1, sizeof(buf) - 1, f);
  std::fclose(f);
  const std::string text(buf, n);
  EXPECT_TRUE(absl::StrContains(text, "cannot listen on " + first.address)) << text;
  EXPECT_TRUE(absl::StrContains(text, "in use")) << text;
  kill(first.pid, SIGTERM);
  waitpid(first.pid, &status, 0);
}

}  // namespace
}  // namespace slotkeeper::slotmgr
