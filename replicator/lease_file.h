// The lease files of a host's master slots: what a fence process reads to
// stop a slot's mail server when the agent stops renewing its lease, even if
// the agent has crashed or hangs (tools/slotfence).
//
// <dir>/<slot>.lease exists while the slot serves as master and says until
// when, on the host's CLOCK_MONOTONIC (which every process on the host
// shares and which never jumps):
//
//   store st1
//   epoch 4
//   serving_until_ns 812345678901234
//
// Written by replacing the file (write to a temporary name, rename), so a
// reader never sees half a file; removed when the slot stops serving. The
// deadline is the agent's own lease end, which ends before the coordinator
// can promote another copy (lease_manager.h), so a fence that acts on it
// stops the server before any promotion.
//
// The LeaseManager's Clock must be the real clock (its Monotonic() is
// CLOCK_MONOTONIC). Thread-safe (called under the LeaseManager's lock).
#ifndef SLOTKEEPER_REPLICATOR_LEASE_FILE_H_
#define SLOTKEEPER_REPLICATOR_LEASE_FILE_H_

#include <cstdint>
#include <optional>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "replicator/lease_manager.h"

namespace slotkeeper::replicator {

// What a lease file says.
struct LeaseFileContents {
  std::string store;
  uint64_t epoch = 0;
  absl::Duration serving_until;  // CLOCK_MONOTONIC
};

// The path of `slot`'s lease file in `dir`.
std::string LeaseFilePath(const std::string& dir, const std::string& slot);

// Parses a lease file; INVALID_ARGUMENT names what is wrong.
absl::StatusOr<LeaseFileContents> ParseLeaseFile(const std::string& text);

class LeaseFiles : public LeaseObserver {
 public:
  // `dir` is created when missing; lease files left by an earlier agent
  // process are removed (its leases are not ours to keep: a restarted agent
  // serves only after a new promote).
  static absl::StatusOr<std::unique_ptr<LeaseFiles>> Open(const std::string& dir);

  void LeaseChanged(const std::string& slot, const std::string& store, uint64_t epoch,
                    std::optional<absl::Duration> serving_until) override;

  const std::string& dir() const { return dir_; }

 private:
  explicit LeaseFiles(std::string dir) : dir_(std::move(dir)) {}
  const std::string dir_;
};

}  // namespace slotkeeper::replicator

#endif  // SLOTKEEPER_REPLICATOR_LEASE_FILE_H_
