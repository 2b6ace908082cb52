#include "slotmgr/agent_service.h"

#include <deque>
#include <optional>
#include <string>
#include <utility>

#include "absl/strings/str_cat.h"
#include "base/grpc_util.h"
#include "base/log.h"
#include "base/peer_identity.h"
#include "base/status_macros.h"
#include "proto/message_limits.h"
#include "slotmgr/audit.h"

namespace slotkeeper::slotmgr {

// One agent's stream. Reads one message at a time; writes through a queue so
// that at most one write is outstanding. Deletes itself in OnDone.
class AgentServiceImpl::SessionReactor final
    : public grpc::ServerBidiReactor<v1::AgentMessage, v1::CoordinatorMessage> {
 public:
  // `identity`: what the caller's certificate proves ("" anonymous).
  SessionReactor(AgentServiceImpl* service, grpc::CallbackServerContext* context,
                 std::string identity)
      : service_(service), context_(context), identity_(std::move(identity)) {
    StartRead(&in_);
  }

  // Queues a message for the agent. Thread-safe. An agent that stops
  // reading while kMaxQueuedMessages wait is cut off (its call cancelled):
  // the queue never grows without bound, and the agent's next session gets
  // every unacknowledged command again.
  void Send(v1::CoordinatorMessage message) {
    const v1::CoordinatorMessage* first = nullptr;
    bool overflow = false;
    {
      absl::MutexLock lock(&mu_);
      if (finishing_) return;
      if (out_.size() >= kMaxQueuedMessages) {
        finishing_ = true;
        overflow = true;
      } else {
        out_.push_back(std::move(message));
        if (writing_) return;
        writing_ = true;
        first = &out_.front();  // stays valid: only OnWriteDone pops it
      }
    }
    if (overflow) {
      LogWarning("coordinator", absl::StrCat("session ", host_, ": the agent read none of ",
                                             kMaxQueuedMessages, " messages; cutting it off"));
      context_->TryCancel();
      return;
    }
    StartWrite(first);
  }

  // From the reading side (this reactor is alive): commands for our host,
  // if we are its current session.
  void SendCommands() {
    if (host_.empty()) return;
    SendAll(service_->TakeCommandsFor(this));
  }

  void SendAll(std::vector<v1::Command> commands) {
    for (v1::Command& c : commands) {
      v1::CoordinatorMessage m;
      *m.mutable_command() = std::move(c);
      Send(std::move(m));
    }
  }

  // Who may read this host's slots (peer_grants.h), when it differs from
  // what this session was last sent.
  void SendGrants() {
    if (host_.empty()) return;
    absl::MutexLock lock(&grants_mu_);  // the reading side and Flush both send
    v1::PeerGrants grants = service_->core_->queries().PeerGrantsOf(host_);
    std::string bytes = grants.SerializeAsString();
    if (grants_sent_ && bytes == last_grants_) return;
    grants_sent_ = true;
    last_grants_ = std::move(bytes);
    v1::CoordinatorMessage m;
    *m.mutable_peer_grants() = std::move(grants);
    Send(std::move(m));
  }

  void SendPing() {
    if (host_.empty()) return;
    v1::CoordinatorMessage m;
    m.mutable_ping()->set_coordinator_time_ms(service_->clock_->NowMs());
    Send(std::move(m));
  }

  const std::string& host() const { return host_; }

  void OnReadDone(bool ok) override {
    if (!ok) {  // the agent closed its side, or the call was cancelled
      End(grpc::Status::OK);
      return;
    }
    absl::Status st = Handle(in_);
    if (!st.ok()) {
      LogWarning("coordinator", absl::StrCat("session ", host_.empty() ? "(no hello)" : host_, ": ",
                                             st.ToString()));
      End(ToGrpcStatus(st));
      return;
    }
    StartRead(&in_);
  }

  void OnWriteDone(bool ok) override {
    std::optional<grpc::Status> finish;
    const v1::CoordinatorMessage* next = nullptr;
    {
      absl::MutexLock lock(&mu_);
      out_.pop_front();
      if (!ok) finishing_ = true;
      if (pending_finish_) {
        finish = std::move(pending_finish_);
        pending_finish_.reset();
        writing_ = false;
      } else if (!out_.empty() && !finishing_) {
        next = &out_.front();
      } else {
        writing_ = false;
        if (!ok && !finished_) {
          finished_ = true;
          finish = grpc::Status(grpc::StatusCode::UNAVAILABLE, "write to agent failed");
        }
      }
    }
    if (finish) Finish(*finish);
    if (next != nullptr) StartWrite(next);
  }

  void OnDone() override {
    service_->Remove(this);
    delete this;
  }

 private:
  friend class AgentServiceImpl;  // Activate() sets host_ and session_id_

  absl::Status Handle(const v1::AgentMessage& m) {
    SK_RETURN_IF_ERROR(CheckMessageLimits(m, MessageLimits(), "AgentMessage"));
    if (host_.empty()) {
      if (!m.has_hello()) {
        return absl::FailedPreconditionError("the first message of a session must be a hello");
      }
      absl::Status st = service_->policy_.AuthorizeHost(identity_, m.hello().host(), "Session");
      if (st.ok()) st = service_->Activate(this, m.hello());
      if (!st.ok()) return st;
      SendPing();
      SendGrants();
      SendCommands();
      return absl::OkStatus();
    }
    switch (m.body_case()) {
      case v1::AgentMessage::kHello:
        return absl::FailedPreconditionError("hello sent twice on one session");
      case v1::AgentMessage::kReport: {
        auto renewal = service_->core_->ApplyReport(host_, session_id_, m.report());
        if (!renewal.ok()) return renewal.status();
        if (renewal->has_value()) {
          v1::CoordinatorMessage out;
          *out.mutable_lease_renewal() = std::move(**renewal);
          Send(std::move(out));
          service_->lease_renewals_sent_.fetch_add(1, std::memory_order_relaxed);
        }
        SendCommands();
        return absl::OkStatus();
      }
      case v1::AgentMessage::kAck:
        return service_->core_->ApplyAck(host_, m.ack());
      case v1::AgentMessage::kTaskUpdate: {
        absl::Status st = service_->core_->ApplyTaskUpdate(host_, m.task_update());
        if (st.ok()) SendCommands();
        return st;
      }
      default:
        return absl::InvalidArgumentError("empty agent message");
    }
  }

  void End(grpc::Status status) {
    {
      absl::MutexLock lock(&mu_);
      if (finished_) return;
      finished_ = true;
      finishing_ = true;
      if (writing_) {
        pending_finish_ = std::move(status);
        return;
      }
    }
    Finish(status);
  }

  static constexpr size_t kMaxQueuedMessages = 10000;

  AgentServiceImpl* const service_;
  grpc::CallbackServerContext* const context_;
  const std::string identity_;
  v1::AgentMessage in_;  // only the reading side touches it
  std::string host_;     // set once by Activate(), before the session is current
  std::string session_id_;
  absl::Mutex grants_mu_;  // before mu_
  bool grants_sent_ ABSL_GUARDED_BY(grants_mu_) = false;
  std::string last_grants_ ABSL_GUARDED_BY(grants_mu_);
  absl::Mutex mu_;
  std::deque<v1::CoordinatorMessage> out_ ABSL_GUARDED_BY(mu_);
  bool writing_ ABSL_GUARDED_BY(mu_) = false;
  bool finishing_ ABSL_GUARDED_BY(mu_) = false;
  bool finished_ ABSL_GUARDED_BY(mu_) = false;
  std::optional<grpc::Status> pending_finish_ ABSL_GUARDED_BY(mu_);
};

grpc::ServerUnaryReactor* AgentServiceImpl::Register(grpc::CallbackServerContext* context,
                                                     const v1::RegisterRequest* request,
                                                     v1::RegisterResponse* response) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  // Only the host's own certificate may register it: otherwise anyone could
  // rewrite its peer address (where mail clients are sent) and take over
  // its session.
  const std::string identity = PeerIdentity(*context);
  if (absl::Status st = policy_.AuthorizeHost(identity, request->inventory().host(), "Register");
      !st.ok()) {
    absl::StatusOr<bool> recorded = core_->Mutate<bool>([&](Mutation& m) {
      m.journal.Record(m.txn, AuditEvent(DisplayIdentity(identity), "Register", *request, st));
      return true;
    });
    if (!recorded.ok()) LogError("coordinator", recorded.status().ToString());
    reactor->Finish(ToGrpcStatus(st));
    return reactor;
  }
  absl::Status st = CheckMessageLimits(*request, MessageLimits(), "RegisterRequest");
  if (!st.ok()) {
    reactor->Finish(ToGrpcStatus(st));
    return reactor;
  }
  st = ValidateHostPort(request->inventory().peer_address());
  if (!st.ok()) {
    reactor->Finish(ToGrpcStatus(
        absl::InvalidArgumentError(absl::StrCat("inventory.peer_address: ", st.message()))));
    return reactor;
  }
  absl::StatusOr<v1::RegisterResponse> resp = core_->Register(*request);
  if (resp.ok()) *response = std::move(*resp);
  reactor->Finish(ToGrpcStatus(resp.status()));
  return reactor;
}

grpc::ServerBidiReactor<v1::AgentMessage, v1::CoordinatorMessage>* AgentServiceImpl::Session(
    grpc::CallbackServerContext* context) {
  return new SessionReactor(this, context, PeerIdentity(*context));
}

absl::Status AgentServiceImpl::Activate(SessionReactor* session, const v1::SessionHello& hello) {
  // Under mu_, so that no other session of the host takes commands between
  // the coordinator's "send everything again" and this session becoming the
  // one that receives them.
  absl::MutexLock lock(&mu_);
  absl::Status st = core_->Hello(hello);
  if (!st.ok()) return st;
  session->host_ = hello.host();
  session->session_id_ = hello.session_id();
  sessions_.insert(session);
  current_[hello.host()] = session;  // an older stream of the host gets nothing more
  return absl::OkStatus();
}

std::vector<v1::Command> AgentServiceImpl::TakeCommandsFor(SessionReactor* session) {
  absl::MutexLock lock(&mu_);
  auto it = current_.find(session->host());
  if (it == current_.end() || it->second != session) return {};
  return core_->TakeCommandsToSend(session->host());
}

void AgentServiceImpl::Remove(SessionReactor* session) {
  absl::MutexLock lock(&mu_);
  sessions_.erase(session);
  auto it = current_.find(session->host());
  if (it != current_.end() && it->second == session) {
    current_.erase(it);
    // The host's current session ended: what it said about its replicas no
    // longer holds (its agent may be gone, restarting, cut off).
    core_->SessionEnded(session->host(), session->session_id_);
  }
}

void AgentServiceImpl::Flush() {
  absl::MutexLock lock(&mu_);
  // Grants first: a source allows its new reader before the reader is
  // told to start.
  for (const auto& [host, s] : current_) {
    s->SendPing();
    s->SendGrants();
  }
  for (const auto& [host, s] : current_) s->SendAll(core_->TakeCommandsToSend(host));
}

int AgentServiceImpl::SessionCount() {
  absl::MutexLock lock(&mu_);
  return static_cast<int>(sessions_.size());
}

}  // namespace slotkeeper::slotmgr
