// The AgentService (proto/agent.proto) on gRPC's callback API: one
// coordinator holds a thousand agent streams without a thread each.
//
// A thin adapter: it validates what gRPC cannot (hello first, well-formed
// messages), calls the Coordinator, and writes out what the coordinator
// wants sent (commands, lease renewals, pings). Errors from the coordinator
// end the stream with the matching gRPC status (INVALID_ARGUMENT, NOT_FOUND,
// FAILED_PRECONDITION) and have changed nothing. Register and Session are
// accepted only for the host the caller's certificate names
// (access_policy.h); a refused Register is journaled (audit.denied).
//
// Thread-safe. The Coordinator and Clock are not owned and must outlive the
// service (and the gRPC server it is registered with).
#ifndef SLOTKEEPER_SLOTMGR_AGENT_SERVICE_H_
#define SLOTKEEPER_SLOTMGR_AGENT_SERVICE_H_

#include <grpcpp/grpcpp.h>

#include <atomic>
#include <map>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "base/clock.h"
#include "proto/agent.grpc.pb.h"
#include "slotmgr/access_policy.h"
#include "slotmgr/coordinator.h"

namespace slotkeeper::slotmgr {

class AgentServiceImpl final : public v1::AgentService::CallbackService {
 public:
  // `policy` decides which host a caller may speak for (its certificate's;
  // any, for an anonymous caller without a policy file).
  AgentServiceImpl(Coordinator* core, Clock* clock, AccessPolicy policy = AccessPolicy::Default())
      : core_(core), clock_(clock), policy_(std::move(policy)) {}

  grpc::ServerUnaryReactor* Register(grpc::CallbackServerContext* context,
                                     const v1::RegisterRequest* request,
                                     v1::RegisterResponse* response) override;
  grpc::ServerBidiReactor<v1::AgentMessage, v1::CoordinatorMessage>* Session(
      grpc::CallbackServerContext* context) override;

  // Sends every live session its pending commands and a ping. Called by the
  // ticker after Coordinator::Tick() and after operator actions.
  void Flush();
  int SessionCount();
  // Lease renewals sent to agents since the service started (metrics).
  uint64_t lease_renewals_sent() const {
    return lease_renewals_sent_.load(std::memory_order_relaxed);
  }

 private:
  class SessionReactor;
  friend class SessionReactor;

  // Makes `session` the current one of its host (after Coordinator::Hello).
  absl::Status Activate(SessionReactor* session, const v1::SessionHello& hello);
  // Unsent commands for the session's host, if it is the current session.
  std::vector<v1::Command> TakeCommandsFor(SessionReactor* session);
  void Remove(SessionReactor* session);

  Coordinator* const core_;
  Clock* const clock_;
  const AccessPolicy policy_;
  // Lock order: mu_, then the Coordinator's, then a session's own mutex.
  absl::Mutex mu_;
  std::set<SessionReactor*> sessions_ ABSL_GUARDED_BY(mu_);  // every live session
  // The newest session of each host: only it receives commands and pings.
  std::map<std::string, SessionReactor*> current_ ABSL_GUARDED_BY(mu_);
  std::atomic<uint64_t> lease_renewals_sent_{0};
};

}  // namespace slotkeeper::slotmgr

#endif  // SLOTKEEPER_SLOTMGR_AGENT_SERVICE_H_
