// The kernel-log probe: error lines about a configured drive unit.
//
// KmsgReader reads /dev/kmsg from its end (old boot messages are not
// evidence) on its own thread and hands each record's text to
// KernelLogProbe::AddRecord. The probe matches the known error patterns,
// maps the device named in the line (loop3, loop3p1, sdb1, loop3-8) to its
// configured unit and raises KERNEL_ERROR on that unit, with the line as the
// reason.
//
// Clearing: the kernel never says "fixed", so a kernel-log condition clears
// once, for `clear_after`, there has been no new matching line *and* the
// other probes (mount table, write probe, sysfs) have had no hard condition
// on the unit or its filesystems. The monitor passes those findings in with
// ObserveOtherEvidence before each Check.
#ifndef SLOTKEEPER_REPLICATOR_KERNEL_LOG_PROBE_H_
#define SLOTKEEPER_REPLICATOR_KERNEL_LOG_PROBE_H_

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "base/clock.h"
#include "replicator/config.pb.h"
#include "replicator/poll_thread.h"
#include "replicator/probe.h"

namespace slotkeeper::replicator {

// One /dev/kmsg record: "PRI,SEQ,USEC,FLAGS;message\n KEY=value...".
struct KmsgRecord {
  int priority = 0;
  uint64_t sequence = 0;
  int64_t usec = 0;
  std::string message;
};
std::optional<KmsgRecord> ParseKmsgRecord(absl::string_view raw);

// A kernel line that is evidence against a device.
struct KernelFinding {
  std::string device;   // as written in the line, e.g. "loop3-8"
  std::string summary;  // e.g. "remounted read-only"
};
std::optional<KernelFinding> MatchKernelError(absl::string_view message);

// The unit that owns `device` ("" if none): exact match, a partition of a
// configured device (sdb1, loop3p1, nvme0n1p2) or a journal suffix (loop3-8).
std::string UnitForDevice(absl::string_view device, const std::vector<UnitConfig>& units);

class KernelLogProbe : public Probe {
 public:
  // `clock` not owned; it must outlive the probe.
  KernelLogProbe(std::vector<UnitConfig> units, std::vector<FilesystemConfig> filesystems,
                 Clock* clock, absl::Duration clear_after);

  std::string Name() const override { return "kernel-log"; }

  // Thread-safe: called by the reader thread for every record's message.
  // Returns true when the message raised or refreshed a condition.
  bool AddRecord(absl::string_view message);

  // The other probes' current findings (monitor thread).
  void ObserveOtherEvidence(const std::vector<Condition>& others);

  std::vector<Condition> Check(absl::Time now) override;

 private:
  struct Finding {
    std::string reason;
    int64_t since_ms = 0;
    absl::Duration last_seen;  // clock monotonic
  };

  const std::vector<UnitConfig> units_;
  std::map<std::string, std::string> fs_unit_;  // mount point -> unit
  Clock* const clock_;
  const absl::Duration clear_after_;
  absl::Mutex mu_;
  std::map<std::string, Finding> findings_ ABSL_GUARDED_BY(mu_);           // by unit
  std::map<std::string, absl::Duration> last_dirty_ ABSL_GUARDED_BY(mu_);  // by unit
};

// Reads /dev/kmsg (or a file of the same format) from its end on a thread of
// its own and passes each record's message to `on_message`.
class KmsgReader {
 public:
  KmsgReader(std::string path, std::function<void(absl::string_view)> on_message);
  ~KmsgReader();
  KmsgReader(const KmsgReader&) = delete;
  KmsgReader& operator=(const KmsgReader&) = delete;

  // Unavailable when the file cannot be opened (e.g. not root): the agent
  // runs without this probe and says so.
  absl::Status Start();
  void Stop();

 private:
  // Reads every record available; false ends the reader.
  bool Drain(int fd);

  const std::string path_;
  std::function<void(absl::string_view)> on_message_;
  // /dev/kmsg returns one record per read() and refuses (EINVAL) a buffer
  // too small for it; records are at most about 8 KiB.
  std::vector<char> buffer_ = std::vector<char>(16 * 1024);
  PollThread thread_;
};

}  // namespace slotkeeper::replicator

#endif  // SLOTKEEPER_REPLICATOR_KERNEL_LOG_PROBE_H_
