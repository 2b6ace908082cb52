// Applying the coordinator's commands on this host, and self-fencing.
//
// Handle() turns one Command into its CommandAck: a command whose id was
// already applied (this process or, through AgentStateStore, an earlier one)
// is acknowledged again with duplicate=true and its first outcome, never
// applied twice. Promote runs the pre_promote hook (a failure vetoes), takes
// the lease, runs the promote hook (a failure gives the lease back) and
// records the role; Demote drops the lease first (fencing before anything
// else), then runs the demote hook. Data-path commands go to the DataPlane.
// A failed command is remembered as failed: the coordinator retries with a
// new id.
//
// A promote is refused while this agent's failsafe promise for the store
// binds (failsafe.h). Commands that would change a slot's contents
// (AssignReplica, StartTask onto it, ReleaseSlot) are refused while the slot
// serves as master under a lease: the coordinator must demote it first.
// Hooks get SLOTKEEPER_LEASE_FILE (the fence's lease file of the slot) and
// SLOTKEEPER_SERVICE_ADDRESS besides the store, slot, path, epoch and action.
//
// FenceExpired() demotes every slot whose lease ran out: demote hook, role
// file, data plane told. Call it whenever LeaseManager::NextExpiry() says.
//
// Handle and FenceExpired block while hooks run (bounded by the hook
// timeout). Commands are applied one at a time (`mu_`); hooks of one slot
// never overlap (a per-slot mutex), but fencing slot A never waits for a
// hook of slot B. Lock order: mu_, then a slot's mutex. Nothing passed in is
// owned; everything outlives the handler.
#ifndef SLOTKEEPER_REPLICATOR_COMMAND_HANDLER_H_
#define SLOTKEEPER_REPLICATOR_COMMAND_HANDLER_H_

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "proto/agent.pb.h"
#include "replicator/agent_state.h"
#include "replicator/config.pb.h"
#include "replicator/data_plane.h"
#include "replicator/failsafe.h"
#include "replicator/hooks.h"
#include "replicator/lease_manager.h"

namespace slotkeeper::replicator {

struct CommandHandlerOptions {
  // The failsafe promises this agent gave; null: none are ever given.
  const FailsafePromises* promises = nullptr;
  // Where the lease files are (lease_file.h); empty: hooks get no path.
  std::string lease_dir;
};

class CommandHandler {
 public:
  CommandHandler(const AgentConfig* config, LeaseManager* leases, AgentStateStore* state,
                 DataPlane* data_plane, CommandHandlerOptions options = {});

  v1::CommandAck Handle(const v1::Command& command);

  // Returns the leases that expired and were fenced.
  std::vector<v1::Lease> FenceExpired();

  // At (re)registration, the coordinator's assignments: slots it says are
  // master here are adopted without a lease (they serve only once promoted
  // again, so that the promote hook starts the mail server); replicas are
  // recorded and their catch-up from the master starts (or goes on).
  void Adopt(const std::vector<v1::SlotAssignment>& assignments);

  // The role last recorded for a local slot (for failsafe grants).
  std::optional<SlotRoleRecord> RecordedRole(const std::string& slot) const;

 private:
  struct Outcome {
    absl::Status status;
    std::string hook_output;
  };
  Outcome PromoteLocked(const v1::PromoteCommand& c) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  Outcome DemoteLocked(const v1::DemoteCommand& c) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  Outcome AssignReplicaLocked(const v1::AssignReplicaCommand& c) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // FailedPrecondition when `slot` serves as master under a lease.
  absl::Status RefuseIfServing(const std::string& slot, absl::string_view what) const;
  const SlotConfig* FindSlot(const std::string& name) const;
  HookResult RunHookFor(const std::string& command, const std::string& action,
                        const SlotConfig& slot, const std::string& store, uint64_t epoch);

  const AgentConfig* const config_;
  LeaseManager* const leases_;
  AgentStateStore* const state_;
  DataPlane* const data_plane_;
  const CommandHandlerOptions options_;
  // The mutex serialising hooks and role changes of `slot` (created on first
  // use, never removed: slots are few and fixed by the config).
  absl::Mutex* SlotMutex(const std::string& slot);

  absl::Mutex mu_;  // one command at a time
  absl::Mutex slot_mutexes_mu_;
  std::map<std::string, std::unique_ptr<absl::Mutex>> slot_mutexes_
      ABSL_GUARDED_BY(slot_mutexes_mu_);
};

}  // namespace slotkeeper::replicator

#endif  // SLOTKEEPER_REPLICATOR_COMMAND_HANDLER_H_
