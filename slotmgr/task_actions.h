// An operator's actions on one task: cancel it, or ask for a new attempt now
// (slotctl task cancel|retry).
//
// Cancel: a QUEUED, BACKOFF or RUNNING task ends CANCELLED (TaskManager::
// CancelTask: a running one's agent is told to stop, the slot it was seeding
// is released); its note says who cancelled it and why. Nothing stops
// placement from planning a replacement for the store on its next pass, as
// for any cancelled task; pausing automation does.
//
// Retry: a BACKOFF task is queued at once, its backoff reset, and the
// scheduler starts it within its per-host limits. A FAILED re-replication
// is retried as a new task (a finished task stays as it ended) into the
// same target slot, when that slot is still a usable spare, the store is
// still short of copies and a usable copy can feed it. Anything else is
// refused, naming why.
//
// Actions over a Mutation (mutation.h): they check everything first and
// change nothing when they refuse.
#ifndef SLOTKEEPER_SLOTMGR_TASK_ACTIONS_H_
#define SLOTKEEPER_SLOTMGR_TASK_ACTIONS_H_

#include <string>

#include "absl/status/statusor.h"
#include "proto/automation.pb.h"
#include "proto/model.pb.h"
#include "slotmgr/mutation.h"

namespace slotkeeper::slotmgr {

// The cancelled task. NOT_FOUND for an unknown task, FAILED_PRECONDITION
// for a finished one.
absl::StatusOr<v1::TaskInfo> CancelTaskAction(Mutation& m, const v1::CancelTaskRequest& req,
                                              const std::string& actor);

// The task that makes the new attempt: the same one (from BACKOFF) or a new
// one (for a FAILED task).
absl::StatusOr<v1::TaskInfo> RetryTaskAction(Mutation& m, const v1::RetryTaskRequest& req,
                                             const std::string& actor);

}  // namespace slotkeeper::slotmgr

#endif  // SLOTKEEPER_SLOTMGR_TASK_ACTIONS_H_
