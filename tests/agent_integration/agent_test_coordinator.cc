// A minimal coordinator for the agent's integration test and latency
// benchmark: a real AgentService on loopback that prints, one line each,
// what it hears:
//   LISTENING 127.0.0.1:PORT
//   HELLO host session
//   RAISE <unix_ms> TYPE SUBJECT :: reason      (a condition appeared)
//   CLEAR <unix_ms> TYPE SUBJECT                (a condition disappeared)
//   ACK id ok|fail duplicate error
//   LEASES n                                    (leases_held changed)
// It pings every --ping_ms, can send one PromoteCommand (--promote_slot,
// --promote_store, --lease_ms) after the hello, and renews leases on every
// report while --renew is true. Test code: not a model of the real one.
#include <chrono>
#include <cstdio>
#include <map>
#include <set>
#include <string>
#include <thread>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "base/grpc_util.h"
#include "grpcpp/grpcpp.h"
#include "proto/agent.grpc.pb.h"

ABSL_FLAG(std::string, listen, "127.0.0.1:0", "Address to listen on.");
ABSL_FLAG(int64_t, heartbeat_ms, 1000, "Heartbeat interval given to agents.");
ABSL_FLAG(int64_t, ping_ms, 500, "Ping interval.");
ABSL_FLAG(std::string, promote_slot, "", "Send a PromoteCommand for this slot after the hello.");
ABSL_FLAG(std::string, promote_store, "store1", "Store of that promotion.");
ABSL_FLAG(int64_t, lease_ms, 3000, "Lease duration.");
ABSL_FLAG(bool, renew, true, "Renew leases on every report.");

namespace slotkeeper::testing {
namespace {

absl::Mutex out_mu;
void Print(const std::string& line) {
  absl::MutexLock lock(&out_mu);
  std::fputs((line + "\n").c_str(), stdout);
  std::fflush(stdout);
}

class Coordinator final : public v1::AgentService::Service {
 public:
  grpc::Status Register(grpc::ServerContext*, const v1::RegisterRequest* request,
                        v1::RegisterResponse* response) override {
    response->set_session_id(absl::StrCat(request->inventory().host(), "-", ++sessions_));
    response->set_heartbeat_ms(absl::GetFlag(FLAGS_heartbeat_ms));
    response->set_coordinator_time_ms(absl::ToUnixMillis(absl::Now()));
    Print(absl::StrCat("REGISTER ", request->inventory().host(), " slots ",
                       request->inventory().slots_size(), " contents ",
                       request->inventory().contents_size()));
    return grpc::Status::OK;
  }

  grpc::Status Session(
      grpc::ServerContext* context,
      grpc::ServerReaderWriter<v1::CoordinatorMessage, v1::AgentMessage>* stream) override {
    absl::Mutex write_mu;
    bool done = false;
    std::thread pinger([&] {
      while (true) {
        {
          absl::MutexLock lock(&write_mu);
          if (write_mu.AwaitWithTimeout(absl::Condition(&done),
                                        absl::Milliseconds(absl::GetFlag(FLAGS_ping_ms)))) {
            return;
          }
          v1::CoordinatorMessage m;
          m.mutable_ping()->set_coordinator_time_ms(absl::ToUnixMillis(absl::Now()));
          if (!stream->Write(m)) return;
        }
      }
    });
    std::set<std::string> current;
    int leases = -1;
    v1::AgentMessage message;
    while (stream->Read(&message)) {
      if (message.has_hello()) {
        Print(absl::StrCat("HELLO ", message.hello().host(), " ", message.hello().session_id()));
        if (!absl::GetFlag(FLAGS_promote_slot).empty()) {
          v1::CoordinatorMessage m;
          v1::Command* c = m.mutable_command();
          c->set_id("promote-1");
          v1::PromoteCommand* p = c->mutable_promote();
          p->set_slot(absl::GetFlag(FLAGS_promote_slot));
          p->set_store(absl::GetFlag(FLAGS_promote_store));
          p->set_epoch(1);
          p->mutable_lease()->set_duration_ms(absl::GetFlag(FLAGS_lease_ms));
          absl::MutexLock lock(&write_mu);
          stream->Write(m);
        }
      } else if (message.has_report()) {
        const int64_t now = absl::ToUnixMillis(absl::Now());
        const v1::HealthReport& r = message.report();
        std::set<std::string> seen;
        for (const v1::Condition& c : r.conditions()) {
          const std::string key = absl::StrCat(v1::ConditionType_Name(c.type()), " ", c.subject());
          seen.insert(key);
          if (!current.count(key)) Print(absl::StrCat("RAISE ", now, " ", key, " :: ", c.reason()));
        }
        for (const std::string& key : current) {
          if (!seen.count(key)) Print(absl::StrCat("CLEAR ", now, " ", key));
        }
        current = std::move(seen);
        if (r.leases_held_size() != leases) {
          leases = r.leases_held_size();
          Print(absl::StrCat("LEASES ", leases));
        }
        if (absl::GetFlag(FLAGS_renew) && r.leases_held_size() > 0) {
          v1::CoordinatorMessage m;
          m.mutable_lease_renewal()->set_report_id(r.report_id());
          for (const v1::Lease& l : r.leases_held()) {
            v1::Lease* renewed = m.mutable_lease_renewal()->add_leases();
            *renewed = l;
            renewed->set_duration_ms(absl::GetFlag(FLAGS_lease_ms));
          }
          absl::MutexLock lock(&write_mu);
          stream->Write(m);
        }
      } else if (message.has_ack()) {
        const v1::CommandAck& a = message.ack();
        Print(absl::StrCat("ACK ", a.command_id(), " ", a.ok() ? "ok" : "fail", " ",
                           a.duplicate() ? "duplicate" : "first", " ", a.error()));
      }
    }
    {
      absl::MutexLock lock(&write_mu);
      done = true;
    }
    pinger.join();
    Print("SESSION-END");
    (void)context;
    return grpc::Status::OK;
  }

 private:
  std::atomic<int> sessions_{0};
};

int Run() {
  Coordinator service;
  grpc::ServerBuilder builder;
  int port = 0;
  const std::string listen = absl::GetFlag(FLAGS_listen);
  if (absl::Status s = AddListeningPort(builder, listen, &port); !s.ok()) {
    std::fprintf(stderr, "--listen: %s\n", std::string(s.message()).c_str());
    return 2;
  }
  builder.RegisterService(&service);
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  if (server == nullptr || port == 0) {
    std::fprintf(stderr, "cannot listen on %s\n", listen.c_str());
    return 1;
  }
  Print(absl::StrCat("LISTENING ", listen.substr(0, listen.rfind(':')), ":", port));
  server->Wait();
  return 0;
}

}  // namespace
}  // namespace slotkeeper::testing

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  return slotkeeper::testing::Run();
}
