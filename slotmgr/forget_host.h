// ForgetHost: an operator removes a host from the model for good (slotctl
// host forget), e.g. a machine decommissioned after its copies were
// replaced, or one registered by mistake.
//
// Only a host that cannot be serving and holds nothing anyone needs may go:
// it is DOWN (or was never heard from), no slot of it holds a master,
// replica or seeding copy, and no unfinished task copies from or into it.
// Its lost copies are dropped from their stores (they could otherwise be
// reinstated; that is the operator's call), its queued commands discarded,
// and its record deleted, in one transaction with a `host.forgotten` event.
// An agent that registers later under the same name is a new host.
//
// An action over a Mutation (mutation.h): it checks everything first and
// changes nothing when it refuses.
#ifndef SLOTKEEPER_SLOTMGR_FORGET_HOST_H_
#define SLOTKEEPER_SLOTMGR_FORGET_HOST_H_

#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "proto/automation.pb.h"
#include "slotmgr/model.h"
#include "slotmgr/mutation.h"

namespace slotkeeper::slotmgr {

// OK when `host` may be forgotten; else FAILED_PRECONDITION naming the
// first thing in the way and what to do about it. Pure.
absl::Status CheckForgettable(const ClusterModel& model, const HostRecord& host);

// Forgets `req.host()` (taken exactly as recorded, whatever its form), or
// with dry_run only checks and says what would be dropped. NOT_FOUND for
// an unknown host. `actor` is journaled.
absl::StatusOr<v1::ForgetHostResponse> ForgetHost(Mutation& m, const v1::ForgetHostRequest& req,
                                                  const std::string& actor);

}  // namespace slotkeeper::slotmgr

#endif  // SLOTKEEPER_SLOTMGR_FORGET_HOST_H_
