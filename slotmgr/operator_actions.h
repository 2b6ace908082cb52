// The Automation API's changes: creating a store, operator failover, drain
// and undrain, declaring drive units lost (within the hourly limit unless
// forced), pausing and resuming automation.
//
// Each is an action over a Mutation (mutation.h): it checks everything first
// and returns an error with the model untouched, or changes the model and
// notes what it changed; Coordinator::Mutate runs it under the coordinator's
// lock and commits it as one batch. The overloads taking a Coordinator do
// exactly that. Besides the common fields, the actions use the Mutation's
// `users`, `failover` and `promoter`.
#ifndef SLOTKEEPER_SLOTMGR_OPERATOR_ACTIONS_H_
#define SLOTKEEPER_SLOTMGR_OPERATOR_ACTIONS_H_

#include "absl/status/statusor.h"
#include "proto/automation.pb.h"
#include "proto/model.pb.h"
#include "slotmgr/coordinator.h"
#include "slotmgr/mutation.h"

namespace slotkeeper::slotmgr {

// A new store mastered on `req.master()`, with explicit replicas or as many
// as placement finds for its copies (all placed or nothing changes); a slot
// holding a recognised copy of the store is adopted as its master.
absl::StatusOr<v1::StoreInfo> CreateStore(Mutation& m, const v1::CreateStoreRequest& req);
// Fails a store (or every store mastered on a host) over to the best
// replica, or to `req.to()`; a master that may still hold its lease is asked
// to demote first and the promotion follows.
absl::StatusOr<v1::FailoverResponse> Failover(Mutation& m, const v1::FailoverRequest& req);
// Marks a host (or one drive unit) draining: its masters move when a
// replica can take them, and placement avoids it.
absl::StatusOr<v1::DrainResponse> Drain(Mutation& m, const v1::DrainRequest& req);
absl::StatusOr<v1::DrainResponse> Undrain(Mutation& m, const v1::DrainRequest& req);
// Declares a host's drive units (or one) lost and plans their copies'
// replacements, within the hourly limit unless forced.
absl::StatusOr<v1::MarkLostResponse> MarkLost(Mutation& m, const v1::MarkLostRequest& req);
// Pauses (a reason is required) or resumes automation.
absl::StatusOr<v1::AutomationState> SetAutomation(Mutation& m, const v1::SetAutomationRequest& req);

// The same, each as one transaction of `core`.
absl::StatusOr<v1::StoreInfo> CreateStore(Coordinator& core, const v1::CreateStoreRequest& req);
absl::StatusOr<v1::FailoverResponse> Failover(Coordinator& core, const v1::FailoverRequest& req);
absl::StatusOr<v1::DrainResponse> Drain(Coordinator& core, const v1::DrainRequest& req);
absl::StatusOr<v1::DrainResponse> Undrain(Coordinator& core, const v1::DrainRequest& req);
absl::StatusOr<v1::MarkLostResponse> MarkLost(Coordinator& core, const v1::MarkLostRequest& req);
absl::StatusOr<v1::AutomationState> SetAutomation(Coordinator& core,
                                                  const v1::SetAutomationRequest& req);

}  // namespace slotkeeper::slotmgr

#endif  // SLOTKEEPER_SLOTMGR_OPERATOR_ACTIONS_H_
