// The master's side of failsafe leases: while the coordinator cannot be
// reached, keep this host's serving masters serving on grants from every
// other copy of their stores (failsafe.h; proto/README.md, "Failsafe").
//
// RunOnce(), every `interval` on the keeper's thread: when the coordinator
// has been silent for `coordinator_silence`, for each serving master that has
// witnesses, can serve (no hard condition on its slot) and whose lease ends
// within half a lease, ask every witness at once, with a deadline; when all
// grant, extend the lease by one lease counted from before the first was
// asked. When one refuses or does not answer, the lease is left to run out
// and the master fences itself as without the failsafe.
//
// Thread-safe; owns its thread. Nothing passed in is owned.
#ifndef SLOTKEEPER_REPLICATOR_FAILSAFE_KEEPER_H_
#define SLOTKEEPER_REPLICATOR_FAILSAFE_KEEPER_H_

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "base/clock.h"
#include "proto/failsafe.grpc.pb.h"
#include "replicator/failsafe.h"
#include "replicator/lease_manager.h"

namespace slotkeeper::replicator {

// Sends failsafe requests; one answer (or error) per request, in order.
class FailsafeAsker {
 public:
  struct Request {
    std::string peer_address;
    v1::FailsafeLeaseRequest request;
  };
  virtual ~FailsafeAsker() = default;
  virtual std::vector<absl::StatusOr<v1::FailsafeLeaseResponse>> Ask(
      const std::vector<Request>& requests, absl::Duration deadline) = 0;
};

// Over gRPC: the requests go out in parallel, each with the deadline.
class GrpcFailsafeAsker : public FailsafeAsker {
 public:
  std::vector<absl::StatusOr<v1::FailsafeLeaseResponse>> Ask(const std::vector<Request>& requests,
                                                             absl::Duration deadline) override;

 private:
  v1::Failsafe::Stub* StubFor(const std::string& address);
  absl::Mutex mu_;
  std::map<std::string, std::unique_ptr<v1::Failsafe::Stub>> stubs_ ABSL_GUARDED_BY(mu_);
};

class FailsafeKeeper {
 public:
  // Whether a local slot may keep serving (no hard condition on it).
  using CanServe = std::function<bool(const std::string& slot)>;

  // `coordinator_reachable` (may be empty) is called when a copy refused
  // because it hears the coordinator: the coordinator is up, so this agent
  // should reconnect to it now instead of waiting out its backoff.
  FailsafeKeeper(Clock* clock, LeaseManager* leases, const CoordinatorContact* contact,
                 FailsafeOptions options, FailsafeAsker* asker, std::string host,
                 CanServe can_serve, std::function<void()> coordinator_reachable = {});
  ~FailsafeKeeper();

  void Start(absl::Duration interval);
  void Stop();

  // One round (see the header). Returns the slots whose lease it extended.
  std::vector<std::string> RunOnce();

 private:
  Clock* const clock_;
  LeaseManager* const leases_;
  const CoordinatorContact* const contact_;
  const FailsafeOptions options_;
  FailsafeAsker* const asker_;
  const std::string host_;
  const CanServe can_serve_;
  const std::function<void()> coordinator_reachable_;

  absl::Mutex mu_;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  // Slots currently held on failsafe grants (for log lines on changes).
  std::map<std::string, bool> on_failsafe_ ABSL_GUARDED_BY(mu_);
  std::thread thread_;
};

}  // namespace slotkeeper::replicator

#endif  // SLOTKEEPER_REPLICATOR_FAILSAFE_KEEPER_H_
