// The agent's connection to the coordinator: Register, then the Session
// stream (proto/agent.proto).
//
// One thread keeps a session up: Register (inventory with slot contents),
// open Session, SessionHello, then it writes a complete HealthReport at once
// when the health monitor signals a change and every heartbeat otherwise,
// plus CommandAcks and TaskUpdates. When the coordinator cannot be reached it
// retries with exponential backoff (capped), logging the address. Nothing is
// queued while disconnected but acks and the newest update per task: a
// report is built from the newest state when it is sent.
//
// A reader thread per session takes Pings (echoed in reports), LeaseRenewals
// (applied to the LeaseManager) and Commands (queued to a worker thread that
// runs CommandHandler::Handle, since hooks block). A lease thread fences
// expired leases whether or not connected.
//
// Owns its threads; everything passed in is not owned and outlives it.
// Start/Stop from one thread; NotifyChanged and SendTaskUpdate are
// thread-safe.
#ifndef SLOTKEEPER_REPLICATOR_COORDINATOR_CLIENT_H_
#define SLOTKEEPER_REPLICATOR_COORDINATOR_CLIENT_H_

#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <thread>

#include "absl/synchronization/mutex.h"
#include "base/clock.h"
#include "proto/agent.grpc.pb.h"
#include "replicator/command_handler.h"
#include "replicator/config.pb.h"
#include "replicator/data_plane.h"
#include "replicator/failsafe.h"
#include "replicator/health_monitor.h"
#include "replicator/lease_manager.h"

namespace slotkeeper::replicator {

struct ClientOptions {
  absl::Duration backoff_initial = absl::Milliseconds(100);
  absl::Duration backoff_max = absl::Seconds(2);
  // Used when the coordinator's RegisterResponse names none.
  absl::Duration default_heartbeat = absl::Seconds(1);
  std::string agent_version = "replicatord/0.1";
  // Called with each PeerGrants the coordinator sends (who may read which
  // slot); none: ignored.
  std::function<void(const v1::PeerGrants&)> on_peer_grants;
};

// The next reconnect delay after `previous` (zero: first failure). Pure.
absl::Duration NextBackoff(absl::Duration previous, const ClientOptions& options);

// Everything a report carries besides the health snapshot.
struct ReportContext {
  uint64_t report_id = 0;
  int64_t agent_time_ms = 0;
  int64_t echo_coordinator_time_ms = 0;  // 0: no ping yet
  int64_t echo_held_ms = 0;
  bool include_contents = false;
  std::vector<v1::FailsafePromise> failsafe_promises;
};

// Builds a complete HealthReport. Pure.
v1::HealthReport BuildReport(const HealthSnapshot& health,
                             const std::vector<v1::Lease>& leases_held,
                             const std::vector<v1::ReplicationStatus>& replication,
                             const ReportContext& context);

// The inventory sent at registration. Pure.
v1::HostInventory BuildInventory(const AgentConfig& config, const HealthSnapshot& health,
                                 const std::string& peer_address, const std::string& agent_version);

class CoordinatorClient : public TaskUpdateSink {
 public:
  // `peer_address`: the address peers reach this agent on (the bound one).
  // `contact` (told of every message from the coordinator) and `promises`
  // (reported) may be null in tests.
  CoordinatorClient(const AgentConfig* config, std::string peer_address, ClientOptions options,
                    Clock* clock, HealthMonitor* health, LeaseManager* leases,
                    CommandHandler* commands, DataPlane* data_plane,
                    CoordinatorContact* contact = nullptr,
                    const FailsafePromises* promises = nullptr);
  ~CoordinatorClient() override;

  void Start();
  void Stop();

  // The health state changed: send a report now.
  void NotifyChanged();
  // The coordinator is known to be up (a peer hears it): when waiting to
  // reconnect, try again now.
  void ReconnectNow();
  void SendTaskUpdate(const v1::TaskUpdate& update) override;

 private:
  using Stream = grpc::ClientReaderWriter<v1::AgentMessage, v1::CoordinatorMessage>;

  void ConnectLoop();
  absl::StatusOr<v1::RegisterResponse> Register();
  // One session: Register, open the stream, write until it breaks.
  absl::Status RunSession();
  // Sends pending acks and task updates, and a report when something changed
  // or a heartbeat is due, until the session breaks or the client stops.
  void WriteLoop(Stream* stream, absl::Duration heartbeat);
  bool WriteReport(Stream* stream, ReportContext& report, uint64_t* contents_sent);
  void ReadLoop(Stream* stream);
  void CommandLoop();
  void LeaseLoop();

  const AgentConfig* const config_;
  const std::string peer_address_;
  const ClientOptions options_;
  Clock* const clock_;
  HealthMonitor* const health_;
  LeaseManager* const leases_;
  CommandHandler* const commands_;
  DataPlane* const data_plane_;
  CoordinatorContact* const contact_;
  const FailsafePromises* const promises_;
  std::unique_ptr<v1::AgentService::Stub> stub_;

  absl::Mutex mu_;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  bool changed_ ABSL_GUARDED_BY(mu_) = true;
  bool session_broken_ ABSL_GUARDED_BY(mu_) = false;
  bool reconnect_now_ ABSL_GUARDED_BY(mu_) = false;
  grpc::ClientContext* session_context_ ABSL_GUARDED_BY(mu_) = nullptr;
  std::deque<v1::Command> command_queue_ ABSL_GUARDED_BY(mu_);
  std::deque<v1::CommandAck> pending_acks_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, v1::TaskUpdate> pending_tasks_ ABSL_GUARDED_BY(mu_);
  int64_t ping_coordinator_ms_ ABSL_GUARDED_BY(mu_) = 0;
  absl::Duration ping_received_ ABSL_GUARDED_BY(mu_);  // clock monotonic
  uint64_t next_report_id_ ABSL_GUARDED_BY(mu_) = 1;

  std::thread connect_thread_;
  std::thread command_thread_;
  std::thread lease_thread_;
};

}  // namespace slotkeeper::replicator

#endif  // SLOTKEEPER_REPLICATOR_COORDINATOR_CLIENT_H_
