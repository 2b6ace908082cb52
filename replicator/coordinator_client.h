// The agent's session with the coordinator: Register, then the Session
// stream (proto/agent.proto), kept up by one thread.
//
// A session: Register (inventory with slot contents; the coordinator's
// assignments are adopted), open Session, SessionHello; then a writer sends
// what the outbox (outbox.h) hands out, a complete HealthReport (reports.h)
// whenever one is due: at once when the health monitor signals a change,
// every heartbeat otherwise. A reader thread per session takes Pings
// (echoed in reports), LeaseRenewals (applied to the LeaseManager) and
// Commands (queued to the CommandRunner, command_runner.h, which also
// fences expired leases whether or not a session is up). When the
// coordinator cannot be reached the client retries with exponential backoff
// (capped), logging the address; ReconnectNow cuts a wait short.
//
// Owns its threads; everything passed in is not owned and outlives it.
// Start/Stop from one thread; NotifyChanged, ReconnectNow and
// SendTaskUpdate are thread-safe and never block. Stop cancels the session
// in flight and waits for the threads (a command being carried out ends
// first).
#ifndef SLOTKEEPER_REPLICATOR_COORDINATOR_CLIENT_H_
#define SLOTKEEPER_REPLICATOR_COORDINATOR_CLIENT_H_

#include <atomic>
#include <functional>
#include <memory>
#include <string>
#include <thread>

#include "absl/synchronization/mutex.h"
#include "base/clock.h"
#include "proto/agent.grpc.pb.h"
#include "replicator/command_handler.h"
#include "replicator/command_runner.h"
#include "replicator/config.pb.h"
#include "replicator/data_plane.h"
#include "replicator/failsafe.h"
#include "replicator/health_monitor.h"
#include "replicator/lease_manager.h"
#include "replicator/outbox.h"
#include "replicator/reports.h"

namespace slotkeeper::replicator {

struct ClientOptions {
  absl::Duration backoff_initial = absl::Milliseconds(100);
  absl::Duration backoff_max = absl::Seconds(2);
  // Used when the coordinator's RegisterResponse names none.
  absl::Duration default_heartbeat = absl::Seconds(1);
  // What the agent reports as its build (base/build_info.h ProductVersion;
  // replicatord.cc fills it, tests give their own).
  std::string agent_version;
  // Called with each PeerGrants the coordinator sends (who may read which
  // slot); none: ignored.
  std::function<void(const v1::PeerGrants&)> on_peer_grants;
};

// The session's figures for metrics (agent_metrics.h).
struct SessionStats {
  bool connected = false;        // a session stream is open now
  uint64_t sessions_opened = 0;  // since the client started
  uint64_t failed_attempts = 0;  // attempts that did not open a session
};

// The next reconnect delay after `previous` (zero: first failure). Pure.
absl::Duration NextBackoff(absl::Duration previous, const ClientOptions& options);

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
  // Thread-safe.
  SessionStats session_stats() const {
    return {connected_.load(), sessions_opened_.load(), failed_attempts_.load()};
  }

 private:
  using Stream = grpc::ClientReaderWriter<v1::AgentMessage, v1::CoordinatorMessage>;

  // Sessions one after the other, with backoff between failed attempts.
  void ConnectLoop();
  absl::StatusOr<v1::RegisterResponse> Register();
  // One session: Register, open the stream, write until it breaks or the
  // client stops. `opened`: whether the stream was open (the next attempt
  // then starts with the smallest backoff).
  absl::Status RunSession(bool* opened);
  // Writes what the outbox hands out until it is closed or a write fails.
  void WriteLoop(Stream* stream, absl::Duration heartbeat);
  bool WriteReport(Stream* stream, ReportContext& report, uint64_t* contents_sent);
  void ReadLoop(Stream* stream);

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
  Outbox outbox_;
  CommandRunner runner_;

  // Lock order: mu_, then the outbox's.
  absl::Mutex mu_;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  bool reconnect_now_ ABSL_GUARDED_BY(mu_) = false;
  grpc::ClientContext* session_context_ ABSL_GUARDED_BY(mu_) = nullptr;

  std::thread connect_thread_;
  std::atomic<bool> connected_{false};
  std::atomic<uint64_t> sessions_opened_{0};
  std::atomic<uint64_t> failed_attempts_{0};
};

}  // namespace slotkeeper::replicator

#endif  // SLOTKEEPER_REPLICATOR_COORDINATOR_CLIENT_H_
