#include "replicator/coordinator_client.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "base/grpc_util.h"
#include "base/log.h"

namespace slotkeeper::replicator {
namespace {

constexpr size_t kMaxPendingAcks = 1000;
constexpr absl::Duration kRegisterDeadline = absl::Seconds(3);

}  // namespace

absl::Duration NextBackoff(absl::Duration previous, const ClientOptions& options) {
  if (previous <= absl::ZeroDuration()) return options.backoff_initial;
  return std::min(previous * 2, options.backoff_max);
}

v1::HealthReport BuildReport(const HealthSnapshot& health,
                             const std::vector<v1::Lease>& leases_held,
                             const std::vector<v1::ReplicationStatus>& replication,
                             const ReportContext& context) {
  v1::HealthReport r;
  r.set_report_id(context.report_id);
  r.set_agent_time_ms(context.agent_time_ms);
  r.set_echo_coordinator_time_ms(context.echo_coordinator_time_ms);
  r.set_echo_held_ms(context.echo_held_ms);
  for (const Condition& c : health.conditions) *r.add_conditions() = c;
  for (const v1::FilesystemUsage& f : health.filesystems) *r.add_filesystems() = f;
  for (const v1::SlotUsage& s : health.slots) *r.add_slots() = s;
  for (const v1::ReplicationStatus& s : replication) *r.add_replication() = s;
  for (const v1::Lease& l : leases_held) *r.add_leases_held() = l;
  for (const v1::FailsafePromise& p : context.failsafe_promises) *r.add_failsafe_promises() = p;
  if (context.include_contents) {
    for (const v1::SlotContents& c : health.contents) *r.add_contents() = c;
  }
  return r;
}

v1::HostInventory BuildInventory(const AgentConfig& config, const HealthSnapshot& health,
                                 const std::string& peer_address,
                                 const std::string& agent_version) {
  v1::HostInventory inv;
  inv.set_host(config.host());
  inv.set_peer_address(peer_address);
  inv.set_agent_version(agent_version);
  for (const UnitConfig& u : config.units()) {
    v1::DriveUnit* d = inv.add_units();
    d->set_name(u.name());
    for (const std::string& dev : u.devices()) d->add_devices(dev);
  }
  for (const FilesystemConfig& f : config.filesystems()) {
    v1::Filesystem* fs = inv.add_filesystems();
    fs->set_mount_point(f.mount_point());
    fs->set_unit(f.unit());
    fs->set_device(f.device());
  }
  for (const SlotConfig& s : config.slots()) {
    v1::Slot* slot = inv.add_slots();
    slot->set_name(s.name());
    slot->set_path(s.path());
    slot->set_filesystem(s.filesystem());
    slot->set_capacity_bytes(s.capacity_bytes());
    slot->set_service_address(s.service_address());
  }
  for (const v1::SlotContents& c : health.contents) *inv.add_contents() = c;
  return inv;
}

CoordinatorClient::CoordinatorClient(const AgentConfig* config, std::string peer_address,
                                     ClientOptions options, Clock* clock, HealthMonitor* health,
                                     LeaseManager* leases, CommandHandler* commands,
                                     DataPlane* data_plane, CoordinatorContact* contact,
                                     const FailsafePromises* promises)
    : config_(config),
      peer_address_(std::move(peer_address)),
      options_(std::move(options)),
      clock_(clock),
      health_(health),
      leases_(leases),
      commands_(commands),
      data_plane_(data_plane),
      contact_(contact),
      promises_(promises),
      stub_(v1::AgentService::NewStub(
          MakeChannel(config->coordinator_address(), config->tls().coordinator_identity()))) {}

CoordinatorClient::~CoordinatorClient() { Stop(); }

void CoordinatorClient::Start() {
  connect_thread_ = std::thread([this] { ConnectLoop(); });
  command_thread_ = std::thread([this] { CommandLoop(); });
  lease_thread_ = std::thread([this] { LeaseLoop(); });
}

void CoordinatorClient::Stop() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
    if (session_context_ != nullptr) session_context_->TryCancel();
  }
  for (std::thread* t : {&connect_thread_, &command_thread_, &lease_thread_}) {
    if (t->joinable()) t->join();
  }
}

void CoordinatorClient::NotifyChanged() {
  absl::MutexLock lock(&mu_);
  changed_ = true;
}

void CoordinatorClient::ReconnectNow() {
  absl::MutexLock lock(&mu_);
  reconnect_now_ = true;
}

void CoordinatorClient::SendTaskUpdate(const v1::TaskUpdate& update) {
  absl::MutexLock lock(&mu_);
  pending_tasks_[update.task_id()] = update;  // the newest per task
}

void CoordinatorClient::ConnectLoop() {
  absl::Duration backoff = absl::ZeroDuration();
  std::string last_error;
  absl::Duration last_logged = clock_->Monotonic();
  int failures = 0;
  while (true) {
    bool established = false;
    absl::Status s = RunSession();
    {
      absl::MutexLock lock(&mu_);
      if (stopping_) return;
      established = session_broken_;  // set only once a session was open
      session_broken_ = false;
    }
    backoff = established ? options_.backoff_initial : NextBackoff(backoff, options_);
    const std::string error(s.message());
    failures = established ? 1 : failures + 1;
    // Say it when something changes, and again every 30 s while it lasts, so
    // a long outage is visible without flooding the log.
    if (established || error != last_error ||
        clock_->Monotonic() - last_logged >= absl::Seconds(30)) {
      LogWarning("agent", absl::StrCat(error, "; attempt ", failures, ", retrying in ",
                                       absl::FormatDuration(backoff), " (backoff up to ",
                                       absl::FormatDuration(options_.backoff_max), ")"));
      last_error = error;
      last_logged = clock_->Monotonic();
    }
    absl::MutexLock lock(&mu_);
    reconnect_now_ = false;
    auto wake = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return stopping_ || reconnect_now_; };
    mu_.AwaitWithTimeout(absl::Condition(&wake), backoff);
    if (stopping_) return;
    if (reconnect_now_) backoff = absl::ZeroDuration();  // the next failure starts small again
  }
}

absl::StatusOr<v1::RegisterResponse> CoordinatorClient::Register() {
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() +
                       absl::ToChronoMilliseconds(kRegisterDeadline));
  {
    absl::MutexLock lock(&mu_);
    if (stopping_) return absl::CancelledError("stopping");
    session_context_ = &context;
  }
  v1::RegisterRequest request;
  *request.mutable_inventory() =
      BuildInventory(*config_, health_->Snapshot(), peer_address_, options_.agent_version);
  request.set_agent_time_ms(clock_->NowMs());
  v1::RegisterResponse response;
  grpc::Status status = stub_->Register(&context, request, &response);
  {
    absl::MutexLock lock(&mu_);
    session_context_ = nullptr;
  }
  if (!status.ok()) {
    return absl::UnavailableError(
        absl::StrCat("coordinator ", config_->coordinator_address(),
                     " unreachable (Register): ", status.error_message()));
  }
  if (contact_ != nullptr) contact_->Heard();
  return response;
}

absl::Status CoordinatorClient::RunSession() {
  const std::string& address = config_->coordinator_address();
  absl::StatusOr<v1::RegisterResponse> response = Register();
  if (!response.ok()) return response.status();
  commands_->Adopt({response->assignments().begin(), response->assignments().end()});
  const absl::Duration heartbeat = response->heartbeat_ms() > 0
                                       ? absl::Milliseconds(response->heartbeat_ms())
                                       : options_.default_heartbeat;

  grpc::ClientContext context;
  {
    absl::MutexLock lock(&mu_);
    if (stopping_) return absl::CancelledError("stopping");
    session_context_ = &context;
    changed_ = true;  // the first report of a session goes at once
  }
  std::unique_ptr<Stream> stream = stub_->Session(&context);
  v1::AgentMessage hello;
  hello.mutable_hello()->set_host(config_->host());
  hello.mutable_hello()->set_session_id(response->session_id());
  if (!stream->Write(hello)) {
    absl::MutexLock lock(&mu_);
    session_context_ = nullptr;
    grpc::Status s = stream->Finish();
    return absl::UnavailableError(
        absl::StrCat("coordinator ", address, " closed the session: ", s.error_message()));
  }
  LogInfo("agent", absl::StrCat("session ", response->session_id(), " open with coordinator ",
                                address, ", heartbeat ", absl::FormatDuration(heartbeat)));
  std::thread reader([this, s = stream.get()] { ReadLoop(s); });
  WriteLoop(stream.get(), heartbeat);
  {
    absl::MutexLock lock(&mu_);
    session_broken_ = true;  // tells ConnectLoop the session had been open
    context.TryCancel();
  }
  reader.join();
  grpc::Status end = stream->Finish();
  absl::MutexLock lock(&mu_);
  session_context_ = nullptr;
  return absl::UnavailableError(
      absl::StrCat("session with coordinator ", address, " ended: ", end.error_message()));
}

void CoordinatorClient::WriteLoop(Stream* stream, absl::Duration heartbeat) {
  uint64_t contents_sent = ~uint64_t{0};
  absl::Duration next_heartbeat = clock_->Monotonic();
  while (true) {
    std::deque<v1::CommandAck> acks;
    std::map<std::string, v1::TaskUpdate> tasks;
    ReportContext report;
    bool send_report = false;
    {
      absl::MutexLock lock(&mu_);
      auto ready = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
        return stopping_ || session_broken_ || changed_ || !pending_acks_.empty() ||
               !pending_tasks_.empty();
      };
      mu_.AwaitWithTimeout(absl::Condition(&ready),
                           std::max(absl::ZeroDuration(), next_heartbeat - clock_->Monotonic()));
      if (stopping_ || session_broken_) return;
      acks.swap(pending_acks_);
      tasks.swap(pending_tasks_);
      send_report = changed_ || clock_->Monotonic() >= next_heartbeat;
      changed_ = false;
      if (send_report) {
        report.report_id = next_report_id_++;
        if (ping_coordinator_ms_ != 0) {
          report.echo_coordinator_time_ms = ping_coordinator_ms_;
          report.echo_held_ms = absl::ToInt64Milliseconds(clock_->Monotonic() - ping_received_);
        }
      }
    }
    bool ok = true;
    for (v1::CommandAck& ack : acks) {
      v1::AgentMessage m;
      *m.mutable_ack() = std::move(ack);
      ok = ok && stream->Write(m);
    }
    for (auto& [id, update] : tasks) {
      v1::AgentMessage m;
      *m.mutable_task_update() = std::move(update);
      ok = ok && stream->Write(m);
    }
    if (ok && send_report) {
      ok = WriteReport(stream, report, &contents_sent);
      next_heartbeat = clock_->Monotonic() + heartbeat;
    }
    if (!ok) return;
  }
}

bool CoordinatorClient::WriteReport(Stream* stream, ReportContext& report,
                                    uint64_t* contents_sent) {
  HealthSnapshot health = health_->Snapshot();
  report.include_contents = health.contents_version != *contents_sent;
  report.agent_time_ms = clock_->NowMs();
  if (promises_ != nullptr) report.failsafe_promises = promises_->All();
  v1::AgentMessage m;
  *m.mutable_report() =
      BuildReport(health, leases_->Held(), data_plane_->ReplicationStatus(), report);
  // Noted before the write: the lease then counts from no later than the
  // real send.
  leases_->NoteReportSent(report.report_id);
  if (!stream->Write(m)) return false;
  *contents_sent = health.contents_version;
  return true;
}

void CoordinatorClient::ReadLoop(Stream* stream) {
  v1::CoordinatorMessage message;
  while (stream->Read(&message)) {
    // Whatever it is, the coordinator can reach this agent: no failsafe
    // grants while that holds (failsafe.h).
    if (contact_ != nullptr) contact_->Heard();
    switch (message.body_case()) {
      case v1::CoordinatorMessage::kCommand: {
        absl::MutexLock lock(&mu_);
        command_queue_.push_back(message.command());
        break;
      }
      case v1::CoordinatorMessage::kPing: {
        absl::MutexLock lock(&mu_);
        ping_coordinator_ms_ = message.ping().coordinator_time_ms();
        ping_received_ = clock_->Monotonic();
        break;
      }
      case v1::CoordinatorMessage::kLeaseRenewal: {
        std::vector<absl::Status> results = leases_->Renew(message.lease_renewal());
        for (const absl::Status& s : results) {
          if (!s.ok()) LogWarning("agent", absl::StrCat("lease renewal refused: ", s.message()));
        }
        break;
      }
      case v1::CoordinatorMessage::kPeerGrants:
        if (options_.on_peer_grants) options_.on_peer_grants(message.peer_grants());
        break;
      default:
        LogWarning("agent", "coordinator sent a message this agent does not know; ignored");
    }
  }
  absl::MutexLock lock(&mu_);
  session_broken_ = true;
}

void CoordinatorClient::CommandLoop() {
  while (true) {
    v1::Command command;
    {
      absl::MutexLock lock(&mu_);
      auto ready = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
        return stopping_ || !command_queue_.empty();
      };
      mu_.Await(absl::Condition(&ready));
      if (stopping_) return;
      command = std::move(command_queue_.front());
      command_queue_.pop_front();
    }
    v1::CommandAck ack = commands_->Handle(command);
    absl::MutexLock lock(&mu_);
    pending_acks_.push_back(std::move(ack));
    // A lost ack is re-asked for: the coordinator re-sends, we ack the dup.
    while (pending_acks_.size() > kMaxPendingAcks) pending_acks_.pop_front();
    changed_ = true;  // roles and leases may have changed
  }
}

void CoordinatorClient::LeaseLoop() {
  while (true) {
    {
      absl::MutexLock lock(&mu_);
      const absl::Duration wait = std::min(leases_->NextExpiry(), absl::Milliseconds(50));
      mu_.AwaitWithTimeout(absl::Condition(&stopping_), wait);
      if (stopping_) return;
    }
    if (!commands_->FenceExpired().empty()) NotifyChanged();
  }
}

}  // namespace slotkeeper::replicator
