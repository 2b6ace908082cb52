// Failsafe leases: mail keeps flowing while the coordinator is unreachable
// (proto/failsafe.proto; the argument for why two masters can never accept
// mail at once is in proto/README.md, "Failsafe").
//
//   CoordinatorContact  when this agent last heard from the coordinator.
//   FailsafePromises    the copy's side: grants a master's request only while
//                       this agent cannot reach the coordinator either, and
//                       remembers each grant as a promise not to accept a
//                       promotion of that store until it ends.
//   FailsafeService     the gRPC adapter for FailsafePromises (peer port);
//                       with TLS, a host asks only for its own masters.
//
// Times are the injected Clock's monotonic time. Thread-safe.
#ifndef SLOTKEEPER_REPLICATOR_FAILSAFE_H_
#define SLOTKEEPER_REPLICATOR_FAILSAFE_H_

#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "base/clock.h"
#include "proto/agent.pb.h"
#include "proto/failsafe.grpc.pb.h"
#include "replicator/config.pb.h"

namespace slotkeeper::replicator {

class CoordinatorContact {
 public:
  // Counts silence from construction until the first Heard().
  explicit CoordinatorContact(Clock* clock);
  // Any message from the coordinator arrived (ping, renewal, command).
  void Heard();
  absl::Duration SilentFor() const;

 private:
  Clock* const clock_;
  mutable absl::Mutex mu_;
  absl::Duration last_ ABSL_GUARDED_BY(mu_);
};

struct FailsafeOptions {
  // A copy grants only after hearing nothing from the coordinator this long,
  // and a master asks only then; a few heartbeats, and well under the lease.
  absl::Duration coordinator_silence = absl::Seconds(3);
  // The longest lease a copy grants.
  absl::Duration max_lease = absl::Seconds(120);
  // Added to every promise: covers the master's request in flight and the
  // drift between two hosts' monotonic clocks over one lease.
  absl::Duration margin = absl::Seconds(1);
};

class FailsafePromises {
 public:
  // The role this agent last recorded for a local slot (agent_state.h).
  using RoleLookup = std::function<std::optional<SlotRoleRecord>(const std::string& slot)>;

  FailsafePromises(Clock* clock, const CoordinatorContact* contact, FailsafeOptions options,
                   RoleLookup roles);

  // Grants (and records the promise) when: the asked slot is a replica of the
  // store here, at the master's epoch or older; this agent has heard nothing
  // from the coordinator for `coordinator_silence`; the duration is within
  // `max_lease`. Otherwise refuses, saying why.
  v1::FailsafeLeaseResponse Decide(const v1::FailsafeLeaseRequest& request);

  // The promise that binds `store` now, if any (the longest).
  std::optional<v1::FailsafePromise> Binding(const std::string& store) const;
  // Every promise still binding, for health reports.
  std::vector<v1::FailsafePromise> All() const;

 private:
  struct Promise {
    std::string local_slot;
    v1::SlotRef master;
    uint64_t epoch = 0;
    absl::Duration until;  // monotonic
  };
  std::optional<v1::FailsafePromise> ToProto(const std::string& store, const Promise& p,
                                             absl::Duration now) const;

  Clock* const clock_;
  const CoordinatorContact* const contact_;
  const FailsafeOptions options_;
  const RoleLookup roles_;
  mutable absl::Mutex mu_;
  std::map<std::string, Promise> promises_ ABSL_GUARDED_BY(mu_);  // by store
};

// Whether the caller `identity` ("" = anonymous, base/peer_identity.h) may
// ask for a failsafe lease on behalf of `request.master()`: only the master's
// own host (its certificate) may, so that no other certificate of the
// cluster's CA (another host, an operator's) binds a copy to a promise that
// delays the store's failover. Anonymous callers only when
// `anonymous_allowed` (plaintext on loopback). PERMISSION_DENIED names the
// caller and the master.
absl::Status CheckFailsafeCaller(const std::string& identity,
                                 const v1::FailsafeLeaseRequest& request, bool anonymous_allowed);

class FailsafeService final : public v1::Failsafe::Service {
 public:
  FailsafeService(FailsafePromises* promises, bool anonymous_allowed)
      : promises_(promises), anonymous_allowed_(anonymous_allowed) {}
  grpc::Status RequestLease(grpc::ServerContext* context, const v1::FailsafeLeaseRequest* request,
                            v1::FailsafeLeaseResponse* response) override;

 private:
  FailsafePromises* const promises_;
  const bool anonymous_allowed_;
};

}  // namespace slotkeeper::replicator

#endif  // SLOTKEEPER_REPLICATOR_FAILSAFE_H_
