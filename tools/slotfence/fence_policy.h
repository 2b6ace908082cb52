// When a fenced mail server may keep running: the pure rule slotfence
// applies to a slot's lease file (replicator/lease_file.h) on every poll.
#ifndef SLOTKEEPER_TOOLS_SLOTFENCE_FENCE_POLICY_H_
#define SLOTKEEPER_TOOLS_SLOTFENCE_FENCE_POLICY_H_

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace slotkeeper::fence {

struct Expectation {
  std::string store;   // empty: any
  uint64_t epoch = 0;  // 0: any
};

struct Verdict {
  bool serve = false;
  std::string reason;  // why not, for the log; or what the lease is
};

// `file` is the lease file's text, or why it could not be read (NOT_FOUND
// when it is gone: the agent demoted the slot). `now` is CLOCK_MONOTONIC.
// Serve only while the file parses, names the expected store and epoch, and
// its deadline lies ahead.
Verdict Judge(const absl::StatusOr<std::string>& file, absl::Duration now,
              const Expectation& expect);

}  // namespace slotkeeper::fence

#endif  // SLOTKEEPER_TOOLS_SLOTFENCE_FENCE_POLICY_H_
