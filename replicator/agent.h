// One running host agent: every part of replicatord, built in dependency
// order and stopped in reverse. main() (replicatord.cc) only turns flags into
// an AgentConfig and waits for signals.
//
// Parts: the state file, lease files and LeaseManager (fencing), the data
// plane (//replicator/sync), failsafe promises and keeper, the command
// handler, the peer gRPC server (ReplicaPeer, Failsafe, health), the health
// probes and the coordinator client.
//
// Start() fails (and leaves nothing running) with the reason; Stop() is
// bounded (the data path cancels its calls; the server gets 2 s). Not
// thread-safe: one thread starts and stops it.
#ifndef SLOTKEEPER_REPLICATOR_AGENT_H_
#define SLOTKEEPER_REPLICATOR_AGENT_H_

#include <memory>
#include <set>
#include <string>

#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "base/clock.h"
#include "base/rpc_metrics.h"
#include "grpcpp/grpcpp.h"
#include "prometheus/registry.h"
#include "replicator/agent_metrics.h"
#include "replicator/agent_state.h"
#include "replicator/command_handler.h"
#include "replicator/config.pb.h"
#include "replicator/coordinator_client.h"
#include "replicator/data_plane.h"
#include "replicator/failsafe.h"
#include "replicator/failsafe_keeper.h"
#include "replicator/health_monitor.h"
#include "replicator/lease_file.h"
#include "replicator/lease_manager.h"
#include "replicator/sync/peer_authorizer.h"

namespace slotkeeper::replicator {

struct AgentRunOptions {
  uint64_t sync_bandwidth_bytes_per_second = 0;  // 0: unlimited
  absl::Duration backoff_max = absl::Seconds(2);
  absl::Duration default_heartbeat = absl::Seconds(1);
  std::string agent_version;
  // gRPC reflection on the peer port (off: it lists the API to any caller).
  bool enable_reflection = false;
  // Test only: every drive unit reported offline (FakeUnitsOfflineProbe).
  bool test_fake_units_offline = false;
  // Metrics (agent_metrics.h), none when null: the peer port's RPCs are
  // recorded into `rpc_metrics`, task updates counted into
  // `metrics_registry`. Not owned; must outlive the agent.
  RpcMetrics* rpc_metrics = nullptr;
  prometheus::Registry* metrics_registry = nullptr;
};

class Agent {
 public:
  static absl::StatusOr<std::unique_ptr<Agent>> Start(AgentConfig config, AgentRunOptions options,
                                                      Clock* clock);
  ~Agent();

  void Stop();
  // HOST:PORT other agents and the coordinator are told to reach us on.
  const std::string& peer_address() const { return peer_address_; }
  const AgentConfig& config() const { return config_; }
  // What a metrics scrape reads (agent_metrics.h). Thread-safe while the
  // agent runs (between Start and Stop).
  AgentMetricsSnapshot MetricsSnapshot() const;

 private:
  Agent(AgentConfig config, AgentRunOptions options, Clock* clock);
  absl::Status Init();
  absl::Status StartServer();
  absl::Status StartClient();
  // Whether `slot` may go on serving: no hard condition on its filesystem,
  // its drive unit or the host (a master that cannot write mail should fence,
  // not ask for failsafe grants).
  bool SlotMayServe(const std::string& slot);

  const AgentConfig config_;
  const AgentRunOptions options_;
  Clock* const clock_;
  bool failsafe_on_ = false;
  std::string lease_dir_;
  std::string peer_address_;
  FailsafeOptions failsafe_options_;

  std::unique_ptr<AgentStateStore> state_;
  std::unique_ptr<LeaseFiles> lease_files_;
  std::unique_ptr<LeaseManager> leases_;
  std::unique_ptr<sync::PeerAuthorizer> authorizer_;  // before the data plane that uses it
  std::unique_ptr<DataPlane> data_plane_;
  std::unique_ptr<CoordinatorContact> contact_;
  std::unique_ptr<FailsafePromises> promises_;
  std::unique_ptr<CommandHandler> commands_;
  std::unique_ptr<FailsafeService> failsafe_service_;
  std::unique_ptr<grpc::Server> server_;
  std::unique_ptr<HealthMonitor> health_;
  std::unique_ptr<CoordinatorClient> client_;
  std::unique_ptr<TaskUpdateMeter> task_meter_;  // between the data plane and client_
  std::unique_ptr<GrpcFailsafeAsker> asker_;
  std::unique_ptr<FailsafeKeeper> keeper_;

  // The health monitor's change callback reaches the client through this.
  absl::Mutex client_mu_;
  CoordinatorClient* client_ptr_ ABSL_GUARDED_BY(client_mu_) = nullptr;
  bool stopped_ = false;
};

}  // namespace slotkeeper::replicator

#endif  // SLOTKEEPER_REPLICATOR_AGENT_H_
