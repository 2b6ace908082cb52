// The seam between the agent's control side (this package) and its data
// path (//replicator/sync): what the agent asks of the data path, and how the
// data path talks back.
//
// The agent owns one DataPlane for its whole life. Call order:
//   RegisterServices(builder)   before the peer gRPC server starts
//   Start(sink)                 once the server runs; `sink` outlives Stop()
//   AssignReplica / StartTask / CancelTask / ReleaseSlot / OnRoleChanged /
//   ReplicationStatus           any time, from the agent's threads
//   Stop()                      before the server shuts down
// Implementations must be thread-safe and must not block the caller for
// long: a command method validates, starts the work and returns; progress
// goes through the sink. OnRoleChanged is called with the slot's lock held
// (promote, demote, fencing): it signals and returns, never waits for a sync
// thread or a source, so fencing can never wait on the data path. Only
// ReleaseSlot and Stop wait, for a bounded time, for local work. A command method's Status becomes
// the CommandAck: OK means accepted (or already in that state: commands are idempotent),
// InvalidArgument/NotFound mean the command was wrong, FailedPrecondition
// that the slot is in the wrong state, Unimplemented that this build cannot.
#ifndef SLOTKEEPER_REPLICATOR_DATA_PLANE_H_
#define SLOTKEEPER_REPLICATOR_DATA_PLANE_H_

#include <vector>

#include "absl/status/status.h"
#include "proto/agent.pb.h"
#include "replicator/config.pb.h"

namespace grpc {
class ServerBuilder;
}  // namespace grpc

namespace slotkeeper::replicator {

// Where the data path reports task progress. Implemented by the agent's
// coordinator client; thread-safe; never blocks (updates are queued for the
// stream, newest per task kept while disconnected).
class TaskUpdateSink {
 public:
  virtual ~TaskUpdateSink() = default;
  virtual void SendTaskUpdate(const v1::TaskUpdate& update) = 0;
};

// The rolling catch-up of the local replicas since the data path started:
// cycles by outcome, what they moved, and their time summed (metrics).
struct CatchUpFigures {
  uint64_t cycles_ok = 0;
  uint64_t cycles_failed = 0;
  uint64_t bytes_received = 0;
  uint64_t files_copied = 0;
  double seconds = 0;
  uint64_t push_cycles = 0;  // of those, of pushed users only
};

class DataPlane {
 public:
  virtual ~DataPlane() = default;

  // Adds the ReplicaPeer service (and whatever else the data path serves) to
  // the agent's peer server. The services must outlive the server.
  virtual void RegisterServices(grpc::ServerBuilder& builder) = 0;
  virtual absl::Status Start(TaskUpdateSink* sink) = 0;
  virtual void Stop() = 0;

  virtual absl::Status AssignReplica(const v1::AssignReplicaCommand& command) = 0;
  virtual absl::Status StartTask(const v1::StartTaskCommand& command) = 0;
  virtual absl::Status CancelTask(const v1::CancelTaskCommand& command) = 0;
  virtual absl::Status ReleaseSlot(const v1::ReleaseSlotCommand& command) = 0;

  // Data-safety commands (proto/agent.proto). FinalPull and Reconcile block
  // the caller until done or until their deadline (seconds, bounded): the
  // coordinator waits for their acknowledgement before it goes on. The
  // others return quickly. A build without them refuses with UNIMPLEMENTED.
  virtual absl::Status FinalPull(const v1::FinalPullCommand& command) {
    return absl::UnimplementedError("final pull not available in this build");
  }
  virtual absl::Status RestoreQuarantined(const v1::RestoreQuarantinedCommand& command) {
    return absl::UnimplementedError("quarantine restore not available in this build");
  }
  virtual absl::Status Reconcile(const v1::ReconcileCommand& command) {
    return absl::UnimplementedError("reconcile not available in this build");
  }
  virtual absl::Status UnblockUser(const v1::UnblockUserCommand& command) {
    return absl::UnimplementedError("unblock not available in this build");
  }
  virtual absl::Status PurgeQuarantine(const v1::PurgeQuarantineCommand& command) {
    return absl::UnimplementedError("quarantine purge not available in this build");
  }

  // The control side changed a slot's role (promote, demote, self-fencing):
  // a master serves its users to replicas, a replica pulls.
  virtual void OnRoleChanged(const std::string& slot, const std::string& store, v1::SlotRole role,
                             uint64_t epoch) = 0;

  // Rolling replication state of the local slots, for every HealthReport.
  virtual std::vector<v1::ReplicationStatus> ReplicationStatus() = 0;
  // For metrics; zeros from a data plane that keeps none.
  virtual CatchUpFigures CatchUp() { return {}; }
};

}  // namespace slotkeeper::replicator

#endif  // SLOTKEEPER_REPLICATOR_DATA_PLANE_H_
