// Test support for the coordinator's gRPC server: a scripted fake agent on a
// real AgentService session, and a fixture that serves a CoordinatorFixture's
// coordinator on loopback (port 0) with an Automation stub.
#ifndef SLOTKEEPER_SLOTMGR_TESTING_SERVER_FIXTURE_H_
#define SLOTKEEPER_SLOTMGR_TESTING_SERVER_FIXTURE_H_

#include <grpcpp/grpcpp.h>

#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "base/clock.h"
#include "base/grpc_util.h"
#include "gtest/gtest.h"
#include "proto/agent.grpc.pb.h"
#include "proto/automation.grpc.pb.h"
#include "slotmgr/server.h"
#include "slotmgr/testing/coordinator_fixture.h"

namespace slotkeeper::slotmgr::testing {

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

// The coordinator's lease and grace shortened for tests, served on loopback.
class ServerFixture : public CoordinatorFixture {
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

}  // namespace slotkeeper::slotmgr::testing

#endif  // SLOTKEEPER_SLOTMGR_TESTING_SERVER_FIXTURE_H_
