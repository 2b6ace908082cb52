#include "replicator/agent.h"

#include "absl/strings/str_cat.h"
#include "base/grpc_util.h"
#include "base/log.h"
#include "base/tls.h"
#include "grpcpp/ext/proto_server_reflection_plugin.h"
#include "grpcpp/health_check_service_interface.h"
#include "replicator/host_probes.h"
#include "replicator/sync_data_plane.h"

namespace slotkeeper::replicator {

Agent::Agent(AgentConfig config, AgentRunOptions options, Clock* clock)
    : config_(std::move(config)), options_(std::move(options)), clock_(clock) {}

Agent::~Agent() { Stop(); }

absl::StatusOr<std::unique_ptr<Agent>> Agent::Start(AgentConfig config, AgentRunOptions options,
                                                    Clock* clock) {
  std::unique_ptr<Agent> agent(new Agent(std::move(config), std::move(options), clock));
  if (absl::Status s = agent->Init(); !s.ok()) return s;
  if (absl::Status s = agent->StartServer(); !s.ok()) return s;
  if (absl::Status s = agent->StartClient(); !s.ok()) return s;
  return agent;
}

absl::Status Agent::Init() {
  state_ = std::make_unique<AgentStateStore>(config_.data_dir());
  if (absl::Status s = state_->Load(); !s.ok()) return s;
  // The fence's lease files (lease_file.h); those of an earlier process are
  // removed: its mail servers stop at once, before this one serves.
  lease_dir_ = absl::StrCat(config_.data_dir(), "/leases");
  absl::StatusOr<std::unique_ptr<LeaseFiles>> files = LeaseFiles::Open(lease_dir_);
  if (!files.ok()) return files.status();
  lease_files_ = std::move(*files);
  leases_ = std::make_unique<LeaseManager>(clock_, lease_files_.get());

  // Peers read a slot only when the coordinator granted it to their host;
  // the coordinator itself always; anonymous callers only in plaintext.
  authorizer_ = std::make_unique<sync::PeerAuthorizer>(
      !ProcessTransportSecurity()->is_tls(),
      std::set<std::string>{config_.tls().coordinator_identity()});
  SyncDataPlaneOptions data_options;
  data_options.bandwidth_bytes_per_second = options_.sync_bandwidth_bytes_per_second;
  data_options.authorizer = authorizer_.get();
  absl::StatusOr<std::unique_ptr<DataPlane>> plane =
      MakeSyncDataPlane(config_, clock_, data_options);
  if (!plane.ok())
    return absl::Status(plane.status().code(),
                        absl::StrCat("data path: ", plane.status().message()));
  data_plane_ = std::move(*plane);

  failsafe_on_ = !config_.failsafe().disabled();
  failsafe_options_.coordinator_silence =
      absl::Milliseconds(config_.failsafe().coordinator_silence_ms());
  failsafe_options_.margin = absl::Milliseconds(config_.failsafe().margin_ms());
  contact_ = std::make_unique<CoordinatorContact>(clock_);
  promises_ = std::make_unique<FailsafePromises>(
      clock_, contact_.get(), failsafe_options_,
      [this](const std::string& slot) { return commands_->RecordedRole(slot); });
  commands_ = std::make_unique<CommandHandler>(
      &config_, leases_.get(), state_.get(), data_plane_.get(),
      CommandHandlerOptions{failsafe_on_ ? promises_.get() : nullptr, lease_dir_});
  // A host asks for failsafe leases only for its own masters (anonymous
  // callers only in plaintext).
  failsafe_service_ =
      std::make_unique<FailsafeService>(promises_.get(), !ProcessTransportSecurity()->is_tls());
  return absl::OkStatus();
}

absl::Status Agent::StartServer() {
  // gRPC health, and reflection only when asked for.
  grpc::EnableDefaultHealthCheckService(true);
  if (options_.enable_reflection) grpc::reflection::InitProtoReflectionServerBuilderPlugin();
  grpc::ServerBuilder builder;
  ConfigureServerBuilder(builder);
  int port = 0;
  if (absl::Status s = AddListeningPort(builder, config_.peer_listen_address(), &port); !s.ok()) {
    return absl::Status(s.code(), absl::StrCat("peer listen address: ", s.message()));
  }
  data_plane_->RegisterServices(builder);
  if (failsafe_on_) builder.RegisterService(failsafe_service_.get());
  if (options_.rpc_metrics != nullptr) {
    std::vector<std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>> creators;
    creators.push_back(options_.rpc_metrics->InterceptorFactory());
    builder.experimental().SetInterceptorCreators(std::move(creators));
  }
  server_ = builder.BuildAndStart();
  if (server_ == nullptr || port == 0) {
    return absl::UnavailableError(absl::StrCat("cannot listen on ", config_.peer_listen_address(),
                                               " (in use by another process?)"));
  }
  // What peers are told: the configured advertise address, else the listen
  // host, or the host name when listening on every interface.
  const std::string& listen = config_.peer_listen_address();
  std::string listen_host = listen.substr(0, listen.rfind(':'));
  if (listen_host == "0.0.0.0" || listen_host == "[::]" || listen_host.empty()) {
    listen_host = config_.host();
  }
  peer_address_ = config_.peer_advertise_address().empty() ? absl::StrCat(listen_host, ":", port)
                                                           : config_.peer_advertise_address();
  return absl::OkStatus();
}

absl::Status Agent::StartClient() {
  health_ = std::make_unique<HealthMonitor>(&config_, clock_, [this] {
    absl::MutexLock lock(&client_mu_);
    if (client_ptr_ != nullptr) client_ptr_->NotifyChanged();
  });
  if (options_.test_fake_units_offline) {
    LogWarning("agent", "TEST FLAG: every drive unit is reported offline");
    health_->AddProbe(std::make_unique<FakeUnitsOfflineProbe>(
        std::vector<UnitConfig>(config_.units().begin(), config_.units().end())));
  }
  if (absl::Status s = health_->Start(); !s.ok()) {
    return absl::Status(s.code(), absl::StrCat("health probes: ", s.message()));
  }
  ClientOptions options;
  options.backoff_max = options_.backoff_max;
  options.default_heartbeat = options_.default_heartbeat;
  if (!options_.agent_version.empty()) options.agent_version = options_.agent_version;
  options.on_peer_grants = [this](const v1::PeerGrants& grants) { authorizer_->Update(grants); };
  client_ = std::make_unique<CoordinatorClient>(&config_, peer_address_, options, clock_,
                                                health_.get(), leases_.get(), commands_.get(),
                                                data_plane_.get(), contact_.get(), promises_.get());
  asker_ = std::make_unique<GrpcFailsafeAsker>();
  keeper_ = std::make_unique<FailsafeKeeper>(
      clock_, leases_.get(), contact_.get(), failsafe_options_, asker_.get(), config_.host(),
      [this](const std::string& slot) { return SlotMayServe(slot); },
      [this] { client_->ReconnectNow(); });
  {
    absl::MutexLock lock(&client_mu_);
    client_ptr_ = client_.get();
  }
  TaskUpdateSink* sink = client_.get();
  if (options_.metrics_registry != nullptr) {
    task_meter_ = std::make_unique<TaskUpdateMeter>(sink, clock_, *options_.metrics_registry);
    sink = task_meter_.get();
  }
  if (absl::Status s = data_plane_->Start(sink); !s.ok()) {
    return absl::Status(s.code(), absl::StrCat("data path: ", s.message()));
  }
  client_->Start();
  if (failsafe_on_) keeper_->Start(absl::Milliseconds(250));
  return absl::OkStatus();
}

AgentMetricsSnapshot Agent::MetricsSnapshot() const {
  AgentMetricsSnapshot out;
  out.health = health_->Snapshot();
  out.leases = leases_->Held();
  out.replication = data_plane_->ReplicationStatus();
  out.session = client_->session_stats();
  out.catch_up = data_plane_->CatchUp();
  return out;
}

bool Agent::SlotMayServe(const std::string& slot) {
  std::string fs, unit;
  for (const SlotConfig& s : config_.slots()) {
    if (s.name() == slot) fs = s.filesystem();
  }
  for (const FilesystemConfig& f : config_.filesystems()) {
    if (f.mount_point() == fs) unit = f.unit();
  }
  for (const Condition& c : health_->Snapshot().conditions) {
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

void Agent::Stop() {
  if (stopped_) return;
  stopped_ = true;
  {
    absl::MutexLock lock(&client_mu_);
    client_ptr_ = nullptr;
  }
  if (keeper_) keeper_->Stop();
  if (client_) client_->Stop();
  if (health_) health_->Stop();
  if (data_plane_) data_plane_->Stop();
  if (server_) server_->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(2));
}

}  // namespace slotkeeper::replicator
