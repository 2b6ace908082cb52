// The coordinator client against an in-process AgentService on loopback:
// registration with inventory, hello, reports (with the ping echo), acks
// (duplicates marked), and reconnection after the coordinator was away;
// the backoff between attempts.
#include "replicator/coordinator_client.h"

#include <sys/stat.h>

#include "absl/synchronization/mutex.h"
#include "base/grpc_util.h"
#include "gmock/gmock.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "replicator/testing/unlinked_data_plane.h"

namespace slotkeeper::replicator {
namespace {

TEST(BackoffTest, DoublesUpToTheCap) {
  ClientOptions o;
  o.backoff_initial = absl::Milliseconds(100);
  o.backoff_max = absl::Milliseconds(350);
  EXPECT_EQ(NextBackoff(absl::ZeroDuration(), o), absl::Milliseconds(100));
  EXPECT_EQ(NextBackoff(absl::Milliseconds(100), o), absl::Milliseconds(200));
  EXPECT_EQ(NextBackoff(absl::Milliseconds(200), o), absl::Milliseconds(350));
  EXPECT_EQ(NextBackoff(absl::Milliseconds(350), o), absl::Milliseconds(350));
}

// Records what agents send; lets the test push messages down the stream.
class FakeCoordinator final : public v1::AgentService::Service {
 public:
  grpc::Status Register(grpc::ServerContext*, const v1::RegisterRequest* request,
                        v1::RegisterResponse* response) override {
    absl::MutexLock lock(&mu_);
    registrations_.push_back(*request);
    response->set_session_id("sess-1");
    response->set_heartbeat_ms(100);
    return grpc::Status::OK;
  }

  grpc::Status Session(
      grpc::ServerContext*,
      grpc::ServerReaderWriter<v1::CoordinatorMessage, v1::AgentMessage>* stream) override {
    {
      absl::MutexLock lock(&mu_);
      stream_ = stream;
    }
    v1::AgentMessage m;
    while (stream->Read(&m)) {
      absl::MutexLock lock(&mu_);
      received_.push_back(m);
    }
    absl::MutexLock lock(&mu_);
    stream_ = nullptr;
    return grpc::Status::OK;
  }

  void Send(const v1::CoordinatorMessage& m) {
    absl::MutexLock lock(&mu_);
    mu_.Await(absl::Condition(
        +[](grpc::ServerReaderWriter<v1::CoordinatorMessage, v1::AgentMessage>** s) {
          return *s != nullptr;
        },
        &stream_));
    stream_->Write(m);
  }

  // Waits (up to 20 s) until `pred` holds for the received messages.
  bool WaitFor(std::function<bool(const std::vector<v1::AgentMessage>&)> pred) {
    absl::MutexLock lock(&mu_);
    struct Args {
      std::function<bool(const std::vector<v1::AgentMessage>&)>* pred;
      std::vector<v1::AgentMessage>* received;
    } args{&pred, &received_};
    return mu_.AwaitWithTimeout(absl::Condition(
                                    +[](Args* a) { return (*a->pred)(*a->received); }, &args),
                                absl::Seconds(20));
  }

  std::vector<v1::RegisterRequest> registrations() {
    absl::MutexLock lock(&mu_);
    return registrations_;
  }

 private:
  absl::Mutex mu_;
  std::vector<v1::RegisterRequest> registrations_;
  std::vector<v1::AgentMessage> received_;
  grpc::ServerReaderWriter<v1::CoordinatorMessage, v1::AgentMessage>* stream_ = nullptr;
};

std::unique_ptr<grpc::Server> Serve(FakeCoordinator* service, const std::string& address,
                                    int* port) {
  grpc::ServerBuilder builder;
  EXPECT_TRUE(AddListeningPort(builder, address, port).ok());
  builder.RegisterService(service);
  return builder.BuildAndStart();
}

class CoordinatorClientTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const std::string dir = ::testing::TempDir() + "/client";
    ::mkdir(dir.c_str(), 0755);
    config_.set_host("h1");
    config_.set_data_dir(dir + "/data");
    config_.mutable_units()->Add()->set_name("du1");
    config_.mutable_probes()->set_kmsg_path("-");
    config_.mutable_probes()->set_mountinfo_path("/proc/self/mountinfo");
    config_.mutable_probes()->set_sysfs_root("/sys");
    ProbeConfig& p = *config_.mutable_probes();
    p.set_mount_reread_ms(1000);
    p.set_write_interval_ms(1000);
    p.set_unit_interval_ms(1000);
    p.set_write_deadline_ms(1000);
    p.set_capacity_interval_ms(1000);
    p.set_slot_usage_interval_ms(1000);
    p.set_kernel_clear_after_ms(1000);
    state_ = std::make_unique<AgentStateStore>(config_.data_dir());
    ASSERT_TRUE(state_->Load().ok());
    handler_ = std::make_unique<CommandHandler>(&config_, &leases_, state_.get(), plane_.get());
    health_ = std::make_unique<HealthMonitor>(&config_, RealClock(), nullptr);
    ASSERT_TRUE(health_->Start().ok());
  }

  void TearDown() override {
    if (client_) client_->Stop();
    health_->Stop();
  }

  void StartClient() {
    ClientOptions options;
    options.backoff_max = absl::Milliseconds(200);
    client_ =
        std::make_unique<CoordinatorClient>(&config_, "127.0.0.1:9", options, RealClock(),
                                            health_.get(), &leases_, handler_.get(), plane_.get());
    client_->Start();
  }

  AgentConfig config_;
  LeaseManager leases_{RealClock()};
  std::unique_ptr<DataPlane> plane_ = testing::MakeUnlinkedDataPlane();
  std::unique_ptr<AgentStateStore> state_;
  std::unique_ptr<CommandHandler> handler_;
  std::unique_ptr<HealthMonitor> health_;
  std::unique_ptr<CoordinatorClient> client_;
};

int Count(const std::vector<v1::AgentMessage>& ms, v1::AgentMessage::BodyCase body) {
  int n = 0;
  for (const v1::AgentMessage& m : ms) n += m.body_case() == body;
  return n;
}

TEST_F(CoordinatorClientTest, ReconnectsRegistersReportsEchoesAndAcks) {
  // Find a free port, then leave it closed: the coordinator is "down".
  FakeCoordinator service;
  int port = 0;
  Serve(&service, "127.0.0.1:0", &port)->Shutdown();
  ASSERT_NE(port, 0);
  config_.set_coordinator_address("127.0.0.1:" + std::to_string(port));
  StartClient();
  absl::SleepFor(absl::Milliseconds(500));  // a few failed attempts
  std::unique_ptr<grpc::Server> server =
      Serve(&service, "127.0.0.1:" + std::to_string(port), &port);
  ASSERT_NE(server, nullptr);

  ASSERT_TRUE(service.WaitFor([](const auto& ms) {
    return !ms.empty() && ms[0].has_hello() && Count(ms, v1::AgentMessage::kReport) >= 2;
  }));
  ASSERT_EQ(service.registrations().size(), 1u);
  EXPECT_EQ(service.registrations()[0].inventory().host(), "h1");
  EXPECT_EQ(service.registrations()[0].inventory().peer_address(), "127.0.0.1:9");

  v1::CoordinatorMessage ping;
  ping.mutable_ping()->set_coordinator_time_ms(123456);
  service.Send(ping);
  EXPECT_TRUE(service.WaitFor([](const auto& ms) {
    for (const v1::AgentMessage& m : ms) {
      if (m.has_report() && m.report().echo_coordinator_time_ms() == 123456) return true;
    }
    return false;
  }));

  v1::CoordinatorMessage command;
  command.mutable_command()->set_id("c1");
  command.mutable_command()->mutable_cancel_task()->set_task_id("t1");
  service.Send(command);
  service.Send(command);
  EXPECT_TRUE(service.WaitFor([](const auto& ms) {
    std::vector<v1::CommandAck> acks;
    for (const v1::AgentMessage& m : ms) {
      if (m.has_ack()) acks.push_back(m.ack());
    }
    return acks.size() == 2 && !acks[0].duplicate() && acks[1].duplicate() && !acks[1].ok() &&
           acks[1].error() == "data path not linked in this build";
  }));
  client_->Stop();  // ends the session, so the server can shut down
  server->Shutdown();
}

}  // namespace
}  // namespace slotkeeper::replicator
