// Operators' data-safety actions, run through Coordinator::Mutate: each
// checks the request against the model, issues its command to the agent that
// must act (proto/agent.proto) and journals who asked and why.
//
//   RestoreQuarantined  a quarantined file back into its store's current
//                       master (the master's agent fetches it from the slot
//                       holding it; never a duplicate, never over a file).
//   PurgeQuarantine     quarantined files of a slot removed for good.
//   UnblockUser         every copy of the store that the mass-deletion guard
//                       stopped on the user goes on with it (once).
//   Reconcile           the store's master copies the mail stranded on the
//                       given old masters (never over a file, never what the
//                       user deleted since; ListStranded tells which slots).
//
// Pure over the Mutation; thread-compatible (the coordinator's lock).
#ifndef SLOTKEEPER_SLOTMGR_DATA_SAFETY_H_
#define SLOTKEEPER_SLOTMGR_DATA_SAFETY_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "proto/automation.pb.h"
#include "slotmgr/mutation.h"

namespace slotkeeper::slotmgr {

// `caller` names who asked (journaled with the request's reason).
absl::StatusOr<v1::RestoreQuarantinedResponse> RestoreQuarantined(
    Mutation& m, const v1::RestoreQuarantinedRequest& request, const std::string& caller);
absl::StatusOr<v1::PurgeQuarantineItemsResponse> PurgeQuarantine(
    Mutation& m, const v1::PurgeQuarantineItemsRequest& request, const std::string& caller);
absl::StatusOr<v1::UnblockUserResponse> UnblockUser(Mutation& m,
                                                    const v1::UnblockUserRequest& request,
                                                    const std::string& caller);
// `sources`: the slots holding stranded mail of the store (not its master).
// The copies of `store` a reconcile asks what they hold: every copy other
// than the master that reports stranded mail, only those named in
// `req.from` when it names any. INVALID_ARGUMENT when `from` names a slot
// that is not such a copy.
absl::StatusOr<std::vector<v1::SlotRef>> StrandedCandidates(const v1::StoreInfo& store,
                                                            const v1::ReconcileStoreRequest& req);

absl::StatusOr<v1::ReconcileStoreResponse> Reconcile(Mutation& m,
                                                     const v1::ReconcileStoreRequest& request,
                                                     const std::vector<v1::SlotRef>& sources,
                                                     const std::string& caller);

}  // namespace slotkeeper::slotmgr

#endif  // SLOTKEEPER_SLOTMGR_DATA_SAFETY_H_
