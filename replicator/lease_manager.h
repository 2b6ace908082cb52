// Master leases and self-fencing on the agent.
//
// A slot serves as master only while it holds a lease, from one of two
// sources:
//   - the coordinator: PromoteCommand starts one; LeaseRenewal(report_id)
//     extends it to `sent(report_id) + duration`, where sent() is the
//     agent-monotonic time the report was sent. The coordinator counts from
//     after it sent the renewal, which is later, so the agent's view always
//     ends first.
//   - failsafe grants: while the coordinator cannot be reached, every other
//     copy of the store may grant a lease (failsafe.h); ExtendFailsafe then
//     extends it to `asked + duration`, counted from before the first copy
//     was asked (each copy counts its promise from after it answered).
// The slot serves while either is valid. When both have run out, Expired()
// hands the slot to the caller, which demotes it (hook, role file) by
// itself. A lease that ran out is never revived by a late renewal or grant,
// and a renewal never starts serving a slot that is not serving (one adopted
// after a restart, or fenced): only a PromoteCommand does, because only it
// runs the promote hook that starts the mail server.
//
// A promote's own lease counts from the send time of the newest report sent
// before the command arrived; the coordinator sent the command after it had
// decided on earlier reports, so this is at worst one report's one-way delay
// optimistic. The coordinator must (and per the proto does) count its own
// bound from after sending, plus a margin of its choosing.
//
// Every change of a slot's serving deadline is passed to the LeaseObserver
// (the fence's lease file), under the manager's lock, so the observer sees
// changes in order.
//
// All times come from the injected Clock. Thread-safe.
#ifndef SLOTKEEPER_REPLICATOR_LEASE_MANAGER_H_
#define SLOTKEEPER_REPLICATOR_LEASE_MANAGER_H_

#include <cstdint>
#include <deque>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "base/clock.h"
#include "proto/agent.pb.h"

namespace slotkeeper::replicator {

// Told when a slot's serving deadline changes; nullopt when it stops serving.
// Deadlines are on the manager's Clock's monotonic scale. Called with the
// manager's lock held: must be quick and must not call back into it.
class LeaseObserver {
 public:
  virtual ~LeaseObserver() = default;
  virtual void LeaseChanged(const std::string& slot, const std::string& store, uint64_t epoch,
                            std::optional<absl::Duration> serving_until) = 0;
};

// A master that may ask for failsafe grants (see FailsafeCandidates).
struct FailsafeCandidate {
  std::string slot;
  std::string store;
  uint64_t epoch = 0;
  std::vector<v1::CopyPeer> witnesses;
  absl::Duration serving_until;   // monotonic
  absl::Duration lease_duration;  // of the newest promote or renewal
};

class LeaseManager {
 public:
  // `clock` (and `observer`, when given) are not owned and must outlive the
  // manager.
  explicit LeaseManager(Clock* clock, LeaseObserver* observer = nullptr);

  // Records that report `report_id` was sent now. Remembers the latest few
  // hundred reports; a renewal naming an older one is refused.
  void NoteReportSent(uint64_t report_id);

  // The slot becomes master of `store` at `epoch` with the given lease;
  // `witnesses` are the store's other copies. FailedPrecondition when the
  // slot is master of the same store at a newer epoch (a stale command).
  absl::Status Promote(const std::string& slot, const std::string& store, uint64_t epoch,
                       int64_t duration_ms, std::vector<v1::CopyPeer> witnesses = {});

  // Records a master role (from the coordinator's assignments after a
  // restart) without a lease: the slot does not serve until promoted again.
  void AdoptWithoutLease(const std::string& slot, const std::string& store, uint64_t epoch);

  // Applies a renewal. Returns, per lease in it, OK or why it was refused:
  // NotFound (report id unknown or too old; slot not master here),
  // FailedPrecondition (epoch or store mismatch; the slot is not serving,
  // or its lease already ran out). A renewal never shortens a lease. The
  // renewal's copy lists replace the masters' witnesses.
  std::vector<absl::Status> Renew(const v1::LeaseRenewal& renewal);

  // Extends the lease of a serving master through failsafe grants: to
  // `asked_at + duration` (monotonic; when the first copy was asked).
  // FailedPrecondition when the slot no longer serves that store at that
  // epoch, or its lease ran out meanwhile.
  absl::Status ExtendFailsafe(const std::string& slot, const std::string& store, uint64_t epoch,
                              absl::Duration asked_at, absl::Duration duration);

  // Drops the master role of `slot` (DemoteCommand or after expiry).
  // FailedPrecondition when `epoch` is older than the master's.
  absl::Status Demote(const std::string& slot, uint64_t epoch);

  // Masters whose lease has run out (and that had one); they are removed
  // from the manager, so each is returned once.
  std::vector<v1::Lease> TakeExpired();

  // Valid leases now: duration_ms is the time left, `failsafe` whether only
  // failsafe grants hold it, `witnesses` the copies named "HOST/SLOT".
  std::vector<v1::Lease> Held() const;

  // Serving masters that have witnesses, for the failsafe requester.
  std::vector<FailsafeCandidate> FailsafeCandidates() const;

  // Time until the next lease expires (InfiniteDuration when none), so a
  // caller can sleep until then.
  absl::Duration NextExpiry() const;

  // Whether the slot is master here (serving or adopted without a lease).
  bool IsMaster(const std::string& slot) const;
  // Whether the slot serves as master now (holds a valid lease).
  bool IsServing(const std::string& slot) const;

 private:
  struct Master {
    std::string store;
    uint64_t epoch = 0;
    bool serving = false;              // promoted and not yet run out
    absl::Duration coordinator_until;  // clock monotonic
    absl::Duration failsafe_until;     // clock monotonic; zero when none
    std::vector<v1::CopyPeer> witnesses;
    absl::Duration lease_duration;  // of the newest promote or renewal
    absl::Duration Until() const { return std::max(coordinator_until, failsafe_until); }
  };

  void NotifyLocked(const std::string& slot, const Master* m) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  Clock* const clock_;
  LeaseObserver* const observer_;
  mutable absl::Mutex mu_;
  std::deque<std::pair<uint64_t, absl::Duration>> sent_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, Master> masters_ ABSL_GUARDED_BY(mu_);
};

}  // namespace slotkeeper::replicator

#endif  // SLOTKEEPER_REPLICATOR_LEASE_MANAGER_H_
