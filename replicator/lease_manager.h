// Master leases and self-fencing on the agent.
//
// A slot serves as master only while it holds a lease. PromoteCommand starts
// one; LeaseRenewal(report_id) extends it to `sent(report_id) + duration`,
// where sent() is the agent-monotonic time the report was sent: the
// coordinator counts from after it sent the renewal, which is later, so the
// agent's view always ends first. When a lease runs out, Expired() hands the
// slot to the caller, which demotes it (hook, role file) by itself.
//
// A promote's own lease counts from the send time of the newest report sent
// before the command arrived; the coordinator sent the command after it had
// decided on earlier reports, so this is at worst one report's one-way delay
// optimistic. The coordinator must (and per the proto does) count its own
// bound from after sending, plus a margin of its choosing.
//
// All times come from the injected Clock. Thread-safe.
#ifndef SLOTKEEPER_REPLICATOR_LEASE_MANAGER_H_
#define SLOTKEEPER_REPLICATOR_LEASE_MANAGER_H_

#include <cstdint>
#include <deque>
#include <map>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "base/clock.h"
#include "proto/agent.pb.h"

namespace slotkeeper::replicator {

class LeaseManager {
 public:
  // `clock` is not owned and must outlive the manager.
  explicit LeaseManager(Clock* clock);

  // Records that report `report_id` was sent now. Remembers the latest few
  // hundred reports; a renewal naming an older one is refused.
  void NoteReportSent(uint64_t report_id);

  // The slot becomes master of `store` at `epoch` with the given lease.
  // FailedPrecondition when the slot is master of the same store at a newer
  // epoch (a stale command).
  absl::Status Promote(const std::string& slot, const std::string& store, uint64_t epoch,
                       int64_t duration_ms);

  // Records a master role (from the coordinator's assignments after a
  // restart) without a lease: the slot may not serve until renewed.
  void AdoptWithoutLease(const std::string& slot, const std::string& store, uint64_t epoch);

  // Applies a renewal. Returns, per lease in it, OK or why it was refused:
  // NotFound (report id unknown or too old; slot not master here),
  // FailedPrecondition (epoch or store mismatch). A renewal never shortens
  // a lease.
  std::vector<absl::Status> Renew(const v1::LeaseRenewal& renewal);

  // Drops the master role of `slot` (DemoteCommand or after expiry).
  // FailedPrecondition when `epoch` is older than the master's.
  absl::Status Demote(const std::string& slot, uint64_t epoch);

  // Masters whose lease has run out (and that had one); they are removed
  // from the manager, so each is returned once.
  std::vector<v1::Lease> TakeExpired();

  // Valid leases now; duration_ms is the time left.
  std::vector<v1::Lease> Held() const;

  // Time until the next lease expires (InfiniteDuration when none), so a
  // caller can sleep until then.
  absl::Duration NextExpiry() const;

  bool IsMaster(const std::string& slot) const;

 private:
  struct Master {
    std::string store;
    uint64_t epoch = 0;
    bool has_lease = false;
    absl::Duration expires;  // clock monotonic
  };

  Clock* const clock_;
  mutable absl::Mutex mu_;
  std::deque<std::pair<uint64_t, absl::Duration>> sent_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, Master> masters_ ABSL_GUARDED_BY(mu_);
};

}  // namespace slotkeeper::replicator

#endif  // SLOTKEEPER_REPLICATOR_LEASE_MANAGER_H_
