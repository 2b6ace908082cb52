#include "replicator/coordinator_client.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "base/grpc_util.h"
#include "base/log.h"

namespace slotkeeper::replicator {
namespace {

constexpr absl::Duration kRegisterDeadline = absl::Seconds(3);

CommandRunnerDeps RunnerDeps(CommandHandler* commands, LeaseManager* leases, Outbox* outbox) {
  CommandRunnerDeps deps;
  deps.handle = [commands](const v1::Command& command) { return commands->Handle(command); };
  deps.fence_expired = [commands]() { return !commands->FenceExpired().empty(); };
  deps.next_expiry = [leases]() { return leases->NextExpiry(); };
  deps.outbox = outbox;
  return deps;
}

}  // namespace

absl::Duration NextBackoff(absl::Duration previous, const ClientOptions& options) {
  if (previous <= absl::ZeroDuration()) return options.backoff_initial;
  return std::min(previous * 2, options.backoff_max);
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
          MakeChannel(config->coordinator_address(), config->tls().coordinator_identity()))),
      outbox_(clock),
      runner_(RunnerDeps(commands, leases, &outbox_)) {}

CoordinatorClient::~CoordinatorClient() { Stop(); }

void CoordinatorClient::Start() {
  connect_thread_ = std::thread([this] { ConnectLoop(); });
  runner_.Start();
}

void CoordinatorClient::Stop() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
    if (session_context_ != nullptr) session_context_->TryCancel();
    outbox_.Close();
  }
  if (connect_thread_.joinable()) connect_thread_.join();
  runner_.Stop();
}

void CoordinatorClient::NotifyChanged() { outbox_.NotifyChanged(); }

void CoordinatorClient::ReconnectNow() {
  absl::MutexLock lock(&mu_);
  reconnect_now_ = true;
}

void CoordinatorClient::SendTaskUpdate(const v1::TaskUpdate& update) {
  outbox_.AddTaskUpdate(update);
}

void CoordinatorClient::ConnectLoop() {
  absl::Duration backoff = absl::ZeroDuration();
  std::string last_error;
  absl::Duration last_logged = clock_->Monotonic();
  int failures = 0;
  while (true) {
    bool established = false;
    absl::Status s = RunSession(&established);
    {
      absl::MutexLock lock(&mu_);
      if (stopping_) return;
    }
    if (!established) failed_attempts_.fetch_add(1);
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

absl::Status CoordinatorClient::RunSession(bool* opened) {
  *opened = false;
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
    outbox_.Open();  // under mu_: a Stop from now on closes it again
  }
  std::unique_ptr<Stream> stream = stub_->Session(&context);
  v1::AgentMessage hello;
  hello.mutable_hello()->set_host(config_->host());
  hello.mutable_hello()->set_session_id(response->session_id());
  if (!stream->Write(hello)) {
    absl::MutexLock lock(&mu_);
    session_context_ = nullptr;
    outbox_.Close();
    grpc::Status s = stream->Finish();
    return absl::UnavailableError(
        absl::StrCat("coordinator ", address, " closed the session: ", s.error_message()));
  }
  *opened = true;
  sessions_opened_.fetch_add(1);
  connected_.store(true);
  LogInfo("agent", absl::StrCat("session ", response->session_id(), " open with coordinator ",
                                address, ", heartbeat ", absl::FormatDuration(heartbeat)));
  std::thread reader([this, s = stream.get()] { ReadLoop(s); });
  WriteLoop(stream.get(), heartbeat);
  {
    absl::MutexLock lock(&mu_);
    outbox_.Close();
    context.TryCancel();
  }
  reader.join();
  connected_.store(false);
  grpc::Status end = stream->Finish();
  absl::MutexLock lock(&mu_);
  session_context_ = nullptr;
  return absl::UnavailableError(
      absl::StrCat("session with coordinator ", address, " ended: ", end.error_message()));
}

void CoordinatorClient::WriteLoop(Stream* stream, absl::Duration heartbeat) {
  uint64_t contents_sent = ~uint64_t{0};
  absl::Duration next_heartbeat = clock_->Monotonic();
  while (std::optional<Outbox::Batch> batch = outbox_.Next(next_heartbeat)) {
    bool ok = true;
    for (v1::CommandAck& ack : batch->acks) {
      v1::AgentMessage m;
      *m.mutable_ack() = std::move(ack);
      ok = ok && stream->Write(m);
    }
    for (auto& [id, update] : batch->tasks) {
      v1::AgentMessage m;
      *m.mutable_task_update() = std::move(update);
      ok = ok && stream->Write(m);
    }
    if (ok && batch->report) {
      ok = WriteReport(stream, *batch->report, &contents_sent);
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
      case v1::CoordinatorMessage::kCommand:
        runner_.Enqueue(message.command());
        break;
      case v1::CoordinatorMessage::kPing:
        outbox_.NotePing(message.ping().coordinator_time_ms());
        break;
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
  // Wakes the writer: the session is over.
  outbox_.Close();
}

}  // namespace slotkeeper::replicator
