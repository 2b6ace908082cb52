// slotmgrd's gRPC server: the AgentService (callback API), the Automation
// service, the standard health checking service and, when asked for, server
// reflection (off by default: it tells any caller the whole API), with
// credentials from base/grpc_util.h; and the second-opinion worker that reads
// units due to be declared lost (second_opinion.h). Used by slotmgrd's main
// and by tests that run the coordinator in-process on a loopback port.
#ifndef SLOTKEEPER_SLOTMGR_SERVER_H_
#define SLOTKEEPER_SLOTMGR_SERVER_H_

#include <grpcpp/grpcpp.h>

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "base/clock.h"
#include "base/rpc_metrics.h"
#include "slotmgr/access_policy.h"
#include "slotmgr/agent_service.h"
#include "slotmgr/automation_service.h"
#include "slotmgr/coordinator.h"
#include "slotmgr/data_verifier.h"
#include "slotmgr/second_opinion.h"

namespace slotkeeper::slotmgr {

struct SlotmgrServerOptions {
  // Who may call what (access_policy.h).
  AccessPolicy policy = AccessPolicy::Default();
  // The largest message accepted from a caller: a report or an inventory of
  // a host with thousands of slots fits well below it.
  size_t max_receive_bytes = 4 << 20;
  // gRPC server reflection (lists every service and message to any caller).
  bool enable_reflection = false;
  // Per-method call counts and latency (base/rpc_metrics.h); none when
  // null. Not owned; must outlive the server.
  RpcMetrics* rpc_metrics = nullptr;
};

// Owns the services and the gRPC server. The Coordinator and Clock are not
// owned and must outlive it. Thread-safe.
class SlotmgrServer {
 public:
  // Listens on `listen` (HOST:PORT; port 0 picks a free one). `peers`
  // reaches the agents' ReplicaPeer service (gRPC when null). Reflection is
  // registered only with `enable_reflection`.
  static absl::StatusOr<std::unique_ptr<SlotmgrServer>> Start(
      const std::string& listen, Coordinator* core, Clock* clock,
      std::unique_ptr<PeerLister> peers = nullptr, SlotmgrServerOptions options = {});
  ~SlotmgrServer();

  // "127.0.0.1:NNNN", with the port actually bound.
  const std::string& address() const { return address_; }
  // Advances the coordinator's timers and sends what it decided.
  void TickAndFlush();
  AgentServiceImpl* agent_service() { return agent_.get(); }
  // Open WatchEvents and WatchRouting streams.
  size_t open_watches() { return automation_->open_watches(); }
  // Stops accepting calls, ends watches, waits for calls in flight (at most
  // `grace`). Idempotent.
  void Shutdown(absl::Duration grace = absl::Seconds(2));

 private:
  SlotmgrServer() = default;
  Coordinator* core_ = nullptr;
  std::unique_ptr<PeerLister> opinion_peers_;
  std::unique_ptr<SecondOpinionWorker> opinions_;
  std::unique_ptr<AgentServiceImpl> agent_;
  std::unique_ptr<AutomationServiceImpl> automation_;
  std::unique_ptr<grpc::Server> server_;
  std::string address_;
  bool shut_down_ = false;
};

}  // namespace slotkeeper::slotmgr

#endif  // SLOTKEEPER_SLOTMGR_SERVER_H_
