// replicatord: the Slotkeeper host agent (control side).
//
//   replicatord --config=/etc/slotkeeper/agent.conf
//
// Reads the config (refusing it with the line at fault), starts the health
// probes, the peer gRPC server (gRPC health only until the data path is
// linked in) and the coordinator client, and runs until SIGTERM or SIGINT.
#include <signal.h>

#include <cstdio>
#include <memory>
#include <string>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/strings/str_cat.h"
#include "base/clock.h"
#include "base/grpc_util.h"
#include "base/log.h"
#include "base/log_flags.h"
#include "grpcpp/ext/proto_server_reflection_plugin.h"
#include "grpcpp/grpcpp.h"
#include "grpcpp/health_check_service_interface.h"
#include "replicator/agent_state.h"
#include "replicator/command_handler.h"
#include "replicator/config.h"
#include "replicator/coordinator_client.h"
#include "replicator/data_plane.h"
#include "replicator/failsafe.h"
#include "replicator/failsafe_keeper.h"
#include "replicator/health_monitor.h"
#include "replicator/lease_file.h"
#include "replicator/lease_manager.h"
#include "replicator/sync_data_plane.h"

ABSL_FLAG(std::string, config, "", "Path of the agent's text-format config (required).");
ABSL_FLAG(std::string, coordinator, "", "Overrides coordinator_address of the config.");
ABSL_FLAG(std::string, peer_listen, "", "Overrides peer_listen_address of the config.");
ABSL_FLAG(std::string, data_dir, "", "Overrides data_dir of the config.");
ABSL_FLAG(std::string, kmsg, "", "Overrides probes.kmsg_path (\"-\" disables the kernel log).");
ABSL_FLAG(int64_t, backoff_max_ms, 2000, "Longest wait between reconnection attempts.");
ABSL_FLAG(int64_t, heartbeat_ms, 1000,
          "Report interval when the coordinator does not name one at registration.");
ABSL_FLAG(int64_t, sync_bandwidth_bytes_per_second, 0,
          "Limit on the bytes per second each replication task and catch-up cycle receives "
          "(0 = unlimited).");

namespace slotkeeper::replicator {
namespace {

// Whether `slot` may go on serving: no hard condition on its filesystem or
// its drive unit (a master that cannot write mail should fence, not ask for
// failsafe grants).
bool SlotMayServe(const AgentConfig& config, HealthMonitor& health, const std::string& slot) {
  std::string fs, unit;
  for (const SlotConfig& s : config.slots()) {
    if (s.name() == slot) fs = s.filesystem();
  }
  for (const FilesystemConfig& f : config.filesystems()) {
    if (f.mount_point() == fs) unit = f.unit();
  }
  for (const Condition& c : health.Snapshot().conditions) {
    if (!c.hard()) continue;
    if ((c.subject_kind() == v1::SUBJECT_FILESYSTEM && c.subject() == fs) ||
        (c.subject_kind() == v1::SUBJECT_UNIT && c.subject() == unit) ||
        (c.subject_kind() == v1::SUBJECT_SLOT && c.subject() == slot) ||
        c.subject_kind() == v1::SUBJECT_HOST) {
      return false;
    }
  }
  return true;
}

int Run() {
  const std::string config_path = absl::GetFlag(FLAGS_config);
  if (config_path.empty()) {
    LogError("agent", "--config is required");
    return 2;
  }
  absl::StatusOr<AgentConfig> loaded = LoadConfig(config_path);
  if (!loaded.ok()) {
    LogError("agent", absl::StrCat("refusing to start: ", loaded.status().message()));
    return 2;
  }
  AgentConfig config = *std::move(loaded);
  if (!absl::GetFlag(FLAGS_coordinator).empty()) {
    config.set_coordinator_address(absl::GetFlag(FLAGS_coordinator));
  }
  if (!absl::GetFlag(FLAGS_peer_listen).empty()) {
    config.set_peer_listen_address(absl::GetFlag(FLAGS_peer_listen));
  }
  if (!absl::GetFlag(FLAGS_data_dir).empty()) config.set_data_dir(absl::GetFlag(FLAGS_data_dir));
  if (!absl::GetFlag(FLAGS_kmsg).empty()) {
    config.mutable_probes()->set_kmsg_path(absl::GetFlag(FLAGS_kmsg));
  }
  // Overrides are input too: check them the same way.
  if (absl::Status s = ValidateHostPort(config.coordinator_address()); !s.ok()) {
    LogError("agent", absl::StrCat("refusing to start: coordinator: ", s.message()));
    return 2;
  }
  if (absl::Status s = ValidateHostPort(config.peer_listen_address(), true); !s.ok()) {
    LogError("agent", absl::StrCat("refusing to start: peer listen address: ", s.message()));
    return 2;
  }

  // Signals are taken synchronously below; every thread inherits the mask.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  Clock* clock = RealClock();
  AgentStateStore state(config.data_dir());
  if (absl::Status s = state.Load(); !s.ok()) {
    LogError("agent", absl::StrCat("refusing to start: ", s.message()));
    return 1;
  }
  // The fence's lease files (lease_file.h); those of an earlier process are
  // removed: its mail servers stop at once, before this one serves.
  const std::string lease_dir = absl::StrCat(config.data_dir(), "/leases");
  absl::StatusOr<std::unique_ptr<LeaseFiles>> lease_files = LeaseFiles::Open(lease_dir);
  if (!lease_files.ok()) {
    LogError("agent", absl::StrCat("refusing to start: ", lease_files.status().message()));
    return 1;
  }
  LeaseManager leases(clock, lease_files->get());
  const int64_t bandwidth = absl::GetFlag(FLAGS_sync_bandwidth_bytes_per_second);
  if (bandwidth < 0) {
    LogError("agent", "refusing to start: --sync_bandwidth_bytes_per_second must not be negative");
    return 2;
  }
  SyncDataPlaneOptions data_options;
  data_options.bandwidth_bytes_per_second = static_cast<uint64_t>(bandwidth);
  absl::StatusOr<std::unique_ptr<DataPlane>> made_data_plane =
      MakeSyncDataPlane(config, clock, data_options);
  if (!made_data_plane.ok()) {
    LogError("agent",
             absl::StrCat("refusing to start: data path: ", made_data_plane.status().message()));
    return 1;
  }
  std::unique_ptr<DataPlane> data_plane = std::move(*made_data_plane);
  CoordinatorContact contact(clock);
  FailsafeOptions failsafe_options;
  failsafe_options.coordinator_silence =
      absl::Milliseconds(config.failsafe().coordinator_silence_ms());
  failsafe_options.margin = absl::Milliseconds(config.failsafe().margin_ms());
  CommandHandler* commands_ptr = nullptr;
  FailsafePromises promises(clock, &contact, failsafe_options, [&](const std::string& slot) {
    return commands_ptr->RecordedRole(slot);
  });
  const bool failsafe_on = !config.failsafe().disabled();
  CommandHandler commands(&config, &leases, &state, data_plane.get(),
                          {failsafe_on ? &promises : nullptr, lease_dir});
  commands_ptr = &commands;
  FailsafeService failsafe_service(&promises);

  // gRPC health (and reflection, which also gives the server the synchronous
  // service it needs before the data path registers its own).
  grpc::EnableDefaultHealthCheckService(true);
  grpc::reflection::InitProtoReflectionServerBuilderPlugin();
  grpc::ServerBuilder builder;
  ConfigureServerBuilder(builder);
  int port = 0;
  builder.AddListeningPort(config.peer_listen_address(), ServerCredentials(), &port);
  data_plane->RegisterServices(builder);
  if (failsafe_on) builder.RegisterService(&failsafe_service);
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  if (server == nullptr || port == 0) {
    LogError("agent", absl::StrCat("cannot listen on ", config.peer_listen_address()));
    return 1;
  }
  // What peers are told: the listen host, or the host name when listening
  // on every interface.
  const std::string listen = config.peer_listen_address();
  std::string listen_host = listen.substr(0, listen.rfind(':'));
  if (listen_host == "0.0.0.0" || listen_host == "[::]" || listen_host.empty()) {
    listen_host = config.host();
  }
  const std::string peer_address = config.peer_advertise_address().empty()
                                       ? absl::StrCat(listen_host, ":", port)
                                       : config.peer_advertise_address();

  CoordinatorClient* client_ptr = nullptr;
  absl::Mutex client_mu;
  HealthMonitor health(&config, clock, [&] {
    absl::MutexLock lock(&client_mu);
    if (client_ptr != nullptr) client_ptr->NotifyChanged();
  });
  if (absl::Status s = health.Start(); !s.ok()) {
    LogError("agent", absl::StrCat("cannot start the health probes: ", s.message()));
    return 1;
  }
  ClientOptions options;
  options.backoff_max = absl::Milliseconds(absl::GetFlag(FLAGS_backoff_max_ms));
  options.default_heartbeat = absl::Milliseconds(absl::GetFlag(FLAGS_heartbeat_ms));
  CoordinatorClient client(&config, peer_address, options, clock, &health, &leases, &commands,
                           data_plane.get(), &contact, &promises);
  GrpcFailsafeAsker asker;
  FailsafeKeeper keeper(
      clock, &leases, &contact, failsafe_options, &asker, config.host(),
      [&](const std::string& slot) { return SlotMayServe(config, health, slot); });
  {
    absl::MutexLock lock(&client_mu);
    client_ptr = &client;
  }
  if (absl::Status s = data_plane->Start(&client); !s.ok()) {
    LogError("agent", absl::StrCat("cannot start the data path: ", s.message()));
    return 1;
  }
  client.Start();
  if (failsafe_on) keeper.Start(absl::Milliseconds(250));
  std::printf("replicatord %s peer listening on %s\n", config.host().c_str(), peer_address.c_str());
  std::fflush(stdout);
  LogInfo("agent", absl::StrCat("host ", config.host(), ": coordinator ",
                                config.coordinator_address(), ", ", config.slots_size(),
                                " slots on ", config.filesystems_size(), " filesystems"));

  int signal = 0;
  sigwait(&signals, &signal);
  LogInfo("agent", absl::StrCat("signal ", signal, ": shutting down"));
  {
    absl::MutexLock lock(&client_mu);
    client_ptr = nullptr;
  }
  keeper.Stop();
  client.Stop();
  health.Stop();
  data_plane->Stop();
  server->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(2));
  LogInfo("agent", "stopped");
  return 0;
}

}  // namespace
}  // namespace slotkeeper::replicator

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage("The Slotkeeper host agent. Usage: replicatord --config=FILE");
  absl::ParseCommandLine(argc, argv);
  if (absl::Status s = slotkeeper::InitLoggingFromFlags("replicatord"); !s.ok()) {
    slotkeeper::LogError("agent", s.ToString());
    return 2;
  }
  return slotkeeper::replicator::Run();
}
