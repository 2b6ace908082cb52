// What the agent must remember across restarts, in
// `<data_dir>/agent-state.textproto`: the ids of the commands it applied
// (with their outcome, so a re-sent command is acknowledged as a duplicate
// and not applied twice) and each slot's last role. Every change is written
// at once (temporary file, fsync, rename). Thread-safe.
#ifndef SLOTKEEPER_REPLICATOR_AGENT_STATE_H_
#define SLOTKEEPER_REPLICATOR_AGENT_STATE_H_

#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "replicator/config.pb.h"

namespace slotkeeper::replicator {

class AgentStateStore {
 public:
  explicit AgentStateStore(std::string data_dir);

  // Creates the data dir when missing and reads the file when present.
  // DataLoss when the file exists but does not parse (it is not discarded:
  // an operator should look).
  absl::Status Load();

  std::optional<AppliedCommand> FindApplied(const std::string& command_id) const;
  // Keeps the newest 2000 ids.
  absl::Status RecordApplied(const std::string& command_id, bool ok, const std::string& error);

  // role: "master", "replica" or "spare".
  absl::Status SetRole(const std::string& slot, const std::string& store, const std::string& role,
                       uint64_t epoch);
  std::vector<SlotRoleRecord> Roles() const;

  std::string path() const { return path_; }

 private:
  absl::Status SaveLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const std::string data_dir_;
  const std::string path_;
  mutable absl::Mutex mu_;
  AgentStateFile state_ ABSL_GUARDED_BY(mu_);
};

}  // namespace slotkeeper::replicator

#endif  // SLOTKEEPER_REPLICATOR_AGENT_STATE_H_
