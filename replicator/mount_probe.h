// The mount-table probe: is every configured filesystem mounted, and
// writable?
//
// MountTableProbe parses /proc/self/mountinfo text (read through an injected
// reader, so tests pass literal samples) and reports, per configured mount
// point: NOT_MOUNTED when absent, READ_ONLY when `ro` is among the mount or
// the super options, IO_ERROR when the super options say `shutdown` (ext4
// after EXT4_IOC_SHUTDOWN keeps `rw`). MountWatcher wakes the health monitor
// as soon as the kernel flags a mount-table change (POLLPRI on the file).
#ifndef SLOTKEEPER_REPLICATOR_MOUNT_PROBE_H_
#define SLOTKEEPER_REPLICATOR_MOUNT_PROBE_H_

#include <functional>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/statusor.h"
#include "replicator/poll_thread.h"
#include "replicator/probe.h"

namespace slotkeeper::replicator {

struct MountEntry {
  std::string mount_point;  // unescaped (\040 -> ' ')
  std::string fs_type;
  std::string source;
  std::vector<std::string> mount_options;
  std::vector<std::string> super_options;
};

// Parses mountinfo text; malformed lines are skipped.
std::vector<MountEntry> ParseMountInfo(absl::string_view text);

// Undoes the kernel's octal escapes (\040 space, \011 tab, \012 newline,
// \134 backslash).
std::string UnescapeMountField(absl::string_view field);

// Reads the whole mount table text.
using MountInfoReader = std::function<absl::StatusOr<std::string>()>;

// A reader of a real file (normally /proc/self/mountinfo).
MountInfoReader FileMountInfoReader(std::string path);

class MountTableProbe : public Probe {
 public:
  // `mount_points`: the configured filesystems. `directories`: the
  // directory-only ones (config `directory_only`), which are checked with
  // `is_directory` instead of the mount table.
  MountTableProbe(std::vector<std::string> mount_points, MountInfoReader reader,
                  std::vector<std::string> directories = {},
                  std::function<bool(const std::string&)> is_directory = nullptr);

  std::string Name() const override { return "mount-table"; }
  // When the table cannot be read, the previous findings stand (an unreadable
  // /proc is not evidence about the filesystems).
  std::vector<Condition> Check(absl::Time now) override;

 private:
  const std::vector<std::string> mount_points_;
  MountInfoReader reader_;
  const std::vector<std::string> directories_;
  std::function<bool(const std::string&)> is_directory_;
  std::vector<Condition> last_;
};

// Calls `on_change` from its own thread whenever the kernel reports a change
// of the mount table at `path`. Start() spawns the thread; Stop() (or the
// destructor) ends and joins it. Not copyable.
class MountWatcher {
 public:
  MountWatcher(std::string path, std::function<void()> on_change);
  ~MountWatcher();
  MountWatcher(const MountWatcher&) = delete;
  MountWatcher& operator=(const MountWatcher&) = delete;

  absl::Status Start();
  void Stop();

 private:
  const std::string path_;
  std::function<void()> on_change_;
  PollThread thread_;
};

}  // namespace slotkeeper::replicator

#endif  // SLOTKEEPER_REPLICATOR_MOUNT_PROBE_H_
