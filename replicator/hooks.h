// Running the operator's hook commands (pre_promote, promote, demote).
//
// A hook is `/bin/sh -c COMMAND` in a process group of its own, with
// SLOTKEEPER_STORE, SLOTKEEPER_SLOT, SLOTKEEPER_SLOT_PATH, SLOTKEEPER_EPOCH and
// SLOTKEEPER_ACTION added to the agent's environment, and, when known,
// SLOTKEEPER_LEASE_FILE and SLOTKEEPER_SERVICE_ADDRESS. Its stdout and stderr
// are captured (the last 4 KiB are kept); past its timeout the whole group is
// killed, even when the hook closed its output early. The hook ends when its
// shell exits: a daemon it started may keep running (it should start it in a
// session of its own, with its output redirected, or the timeout's kill of
// the group would reach it). Run blocks the calling thread for at most the
// timeout (plus the moment it takes to reap). Thread-safe: each call is
// independent.
#ifndef SLOTKEEPER_REPLICATOR_HOOKS_H_
#define SLOTKEEPER_REPLICATOR_HOOKS_H_

#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "absl/time/time.h"

namespace slotkeeper::replicator {

struct HookContext {
  std::string action;  // "pre_promote", "promote", "demote"
  std::string store;
  std::string slot;
  std::string slot_path;
  uint64_t epoch = 0;
  std::string lease_file;       // SLOTKEEPER_LEASE_FILE (slotfence reads it)
  std::string service_address;  // SLOTKEEPER_SERVICE_ADDRESS
};

struct HookResult {
  // OK on exit 0 (or when no command is configured); otherwise why not:
  // Aborted (non-zero exit or a signal), DeadlineExceeded (killed at the
  // timeout), Internal (could not start).
  absl::Status status;
  std::string output_tail;
  bool ran = false;  // false when the command was empty
};

HookResult RunHook(const std::string& command, const HookContext& context, absl::Duration timeout);

}  // namespace slotkeeper::replicator

#endif  // SLOTKEEPER_REPLICATOR_HOOKS_H_
