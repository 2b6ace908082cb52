// A real ext4 filesystem on a loop device, for tests of health detection.
//
// Needs root and a kernel that allows loop mounts; CanLoopMount() says
// whether this machine does (and why not). The destructor unmounts and
// detaches, whatever state the filesystem was left in.
#ifndef SLOTKEEPER_TESTS_HARNESS_LOOP_FS_H_
#define SLOTKEEPER_TESTS_HARNESS_LOOP_FS_H_

#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace slotkeeper::testing {

// OK when loop mounts work here; otherwise the reason (for a test's skip
// message).
absl::Status CanLoopMount();

class LoopFilesystem {
 public:
  // Creates `image` of `size_bytes`, formats it ext4, attaches it and
  // mounts it on `mount_point` (created if missing).
  static absl::StatusOr<std::unique_ptr<LoopFilesystem>> Create(const std::string& image,
                                                                const std::string& mount_point,
                                                                uint64_t size_bytes);
  ~LoopFilesystem();

  const std::string& mount_point() const { return mount_point_; }
  const std::string& device() const { return device_; }  // e.g. /dev/loop3
  std::string device_name() const;                       // e.g. loop3

  absl::Status RemountReadOnly();
  absl::Status RemountReadWrite();
  // EXT4_IOC_SHUTDOWN with NOLOGFLUSH: every later I/O fails with EIO, the
  // way xfstests simulates a dead drive. Only an unmount undoes it.
  absl::Status Shutdown();
  absl::Status Unmount();

 private:
  LoopFilesystem(std::string image, std::string mount_point, std::string device)
      : image_(std::move(image)),
        mount_point_(std::move(mount_point)),
        device_(std::move(device)) {}

  std::string image_;
  std::string mount_point_;
  std::string device_;
  bool mounted_ = true;
};

}  // namespace slotkeeper::testing

#endif  // SLOTKEEPER_TESTS_HARNESS_LOOP_FS_H_
