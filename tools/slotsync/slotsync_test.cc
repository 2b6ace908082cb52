// The slotsync binary against a source that stops answering: it exits 1
// with the deadline error instead of hanging, and completes once the source
// answers. The source is a PeerCore behind gates (gated_peer.h) in this
// process; slotsync runs as a child process.
#include <sys/wait.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>

#include "base/clock.h"
#include "base/grpc_util.h"
#include "gtest/gtest.h"
#include "replicator/sync/gated_peer.h"
#include "replicator/sync/peer_service.h"

namespace slotkeeper::sync {
namespace {

struct Outcome {
  int exit_code = -1;
  std::string output;  // stdout and stderr
};

class SlotsyncTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::string(std::getenv("TEST_TMPDIR")) + "/" +
           ::testing::UnitTest::GetInstance()->current_test_info()->name();
    std::filesystem::create_directories(dir_ + "/source/users/alice/cur");
    std::ofstream(dir_ + "/source/users/alice/cur/1.h:2,S") << "hello";
    std::ofstream(dir_ + "/source/users/alice/cur/2.h:2,S") << "world";
    core_ = std::make_unique<PeerCore>(std::map<std::string, std::string>{{"s1", dir_ + "/source"}},
                                       nullptr, RealClock(), "inst-1");
    peer_ = std::make_unique<GatedPeer>(core_.get());
    grpc::ServerBuilder builder;
    ConfigureServerBuilder(builder);
    int port = 0;
    EXPECT_TRUE(AddListeningPort(builder, "127.0.0.1:0", &port).ok());
    builder.RegisterService(peer_.get());
    server_ = builder.BuildAndStart();
    ASSERT_NE(port, 0);
    address_ = "127.0.0.1:" + std::to_string(port);
  }
  void TearDown() override {
    peer_->OpenAll();
    server_->Shutdown();
  }

  // Runs slotsync into DIR/dest with short limits and `flags`.
  Outcome Slotsync(const std::string& flags = "") {
    const std::string binary = std::string(std::getenv("TEST_SRCDIR")) + "/" +
                               std::getenv("TEST_WORKSPACE") + "/tools/slotsync/slotsync";
    const std::string command =
        binary + " --source " + address_ + " --slot s1 --dest " + dir_ +
        "/dest --insecure_loopback_only --call_timeout 300ms --manifest_timeout 300ms "
        "--stall_timeout 300ms " +
        flags + " 2>&1";
    Outcome run;
    FILE* out = popen(command.c_str(), "r");
    if (out == nullptr) return run;
    char buffer[4096];
    size_t n;
    while ((n = fread(buffer, 1, sizeof(buffer), out)) > 0) run.output.append(buffer, n);
    const int status = pclose(out);
    run.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    return run;
  }

  std::string dir_, address_;
  std::unique_ptr<PeerCore> core_;
  std::unique_ptr<GatedPeer> peer_;
  std::unique_ptr<grpc::Server> server_;
};

TEST_F(SlotsyncTest, AHungListingFailsWithTheDeadline) {
  peer_->list_users.Close();
  const Outcome run = Slotsync();
  EXPECT_EQ(run.exit_code, 1) << run.output;
  EXPECT_NE(run.output.find("FAILED: DEADLINE_EXCEEDED: ListUsers on source slot s1 at " +
                            address_ + ": no complete answer within 300ms"),
            std::string::npos)
      << run.output;
}

TEST_F(SlotsyncTest, AStalledTransferFailsWithTheDeadline) {
  peer_->fetch_after.Close();
  const Outcome run = Slotsync();
  EXPECT_EQ(run.exit_code, 1) << run.output;
  EXPECT_NE(run.output.find("FAILED: DEADLINE_EXCEEDED"), std::string::npos) << run.output;
  EXPECT_NE(run.output.find("FetchFiles of user alice from source slot s1 at " + address_ +
                            ": no data for 300ms"),
            std::string::npos)
      << run.output;

  // The source answers again: the next run completes.
  peer_->fetch_after.Open();
  const Outcome again = Slotsync();
  EXPECT_EQ(again.exit_code, 0) << again.output;
  std::ifstream copied(dir_ + "/dest/users/alice/cur/2.h:2,S");
  std::string content;
  copied >> content;
  EXPECT_EQ(content, "world");
}

TEST_F(SlotsyncTest, TimeoutsMustBePositive) {
  EXPECT_EQ(Slotsync("--stall_timeout 0s").exit_code, 2);
}

}  // namespace
}  // namespace slotkeeper::sync
