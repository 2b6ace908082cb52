// The write probe: can each filesystem still take a small durable write?
//
// Per filesystem, an attempt (create, write, fsync, remove a small file under
// `<mount>/.slotkeeper-probe/`) runs on a thread of its own. EROFS gives
// READ_ONLY, EIO (and other I/O failures) IO_ERROR, and an attempt still
// running after the deadline HUNG_IO. A thread stuck in the kernel cannot be
// killed, so there is at most one outstanding attempt per filesystem: while
// it hangs, later checks keep reporting HUNG_IO and start nothing new.
// Threads are detached and share their state through a shared_ptr, so the
// probe may be destroyed while one hangs.
#ifndef SLOTKEEPER_REPLICATOR_WRITE_PROBE_H_
#define SLOTKEEPER_REPLICATOR_WRITE_PROBE_H_

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "base/clock.h"
#include "replicator/probe.h"

namespace slotkeeper::replicator {

// One attempt's outcome: errno 0 on success, else the failing step.
struct WriteAttemptResult {
  int error = 0;
  std::string what;  // e.g. "fsync /srv/du1/.slotkeeper-probe/probe: Input/output error"
};

// Runs one attempt on `mount_point`; may block (that is what is probed).
using WriteAttempt = std::function<WriteAttemptResult(const std::string& mount_point)>;

// The real attempt: mkdir/open/write/fsync/close/unlink.
WriteAttemptResult RealWriteAttempt(const std::string& mount_point);

class WriteProbe : public Probe {
 public:
  // `clock` is not owned and must outlive the probe. `on_result` is called
  // (from the attempt's thread) when an attempt finishes, so the monitor can
  // check at once; it is dropped when the probe is destroyed.
  WriteProbe(std::vector<std::string> mount_points, WriteAttempt attempt, Clock* clock,
             absl::Duration interval, absl::Duration deadline, std::function<void()> on_result);
  ~WriteProbe() override;

  std::string Name() const override { return "write"; }
  // Starts an attempt per filesystem when none is outstanding and the
  // interval has passed; returns the findings of the latest finished attempt,
  // or HUNG_IO for one outstanding past its deadline. Never blocks.
  std::vector<Condition> Check(absl::Time now) override;

  // Test hooks: attempts started so far, and waiting until none runs.
  int AttemptsStarted() const;
  void WaitIdleForTesting() const;

 private:
  struct Shared;
  struct PerFilesystem {
    std::string mount_point;
    std::shared_ptr<Shared> shared;
  };

  WriteAttempt attempt_;
  Clock* const clock_;
  const absl::Duration interval_;
  const absl::Duration deadline_;
  std::vector<PerFilesystem> filesystems_;
};

// Maps an attempt's result to conditions on `mount_point` (pure).
std::vector<Condition> WriteResultConditions(const std::string& mount_point,
                                             const WriteAttemptResult& result);

}  // namespace slotkeeper::replicator

#endif  // SLOTKEEPER_REPLICATOR_WRITE_PROBE_H_
