#include "tests/harness/loop_fs.h"

#include <fcntl.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <memory>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/strip.h"
#include "tests/harness/process.h"

namespace slotkeeper::testing {
namespace {

constexpr unsigned long kExt4IocShutdown = 0x8004587D;  // _IOR('X', 125, __u32)
constexpr uint32_t kExt4GoingFlagsNoLogFlush = 2;

absl::Status Run(const std::vector<std::string>& argv) {
  std::string out;
  auto code = RunCommand(argv, &out, absl::Minutes(1));
  if (!code.ok()) return code.status();
  if (*code != 0) {
    return absl::InternalError(
        absl::StrCat(absl::StrJoin(argv, " "), " exited ", *code, ": ", out));
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status CanLoopMount() {
  if (geteuid() != 0) return absl::PermissionDeniedError("loop mounts need root");
  std::string out;
  auto code = RunCommand({"losetup", "-f"}, &out, absl::Seconds(10));
  if (!code.ok() || *code != 0) {
    return absl::UnavailableError(absl::StrCat("losetup -f failed: ", out));
  }
  // The linux-sandbox forbids mount(2) even to root; try a tmpfs.
  char dir[] = "/tmp/slotkeeper-mnt-probe.XXXXXX";
  if (mkdtemp(dir) == nullptr) return absl::InternalError("mkdtemp failed");
  absl::Status st = Run({"mount", "-t", "tmpfs", "-o", "size=1m", "none", dir});
  if (st.ok()) Run({"umount", dir}).IgnoreError();
  rmdir(dir);
  if (!st.ok())
    return absl::UnavailableError(absl::StrCat("mount not allowed here: ", st.message()));
  return absl::OkStatus();
}

absl::StatusOr<std::unique_ptr<LoopFilesystem>> LoopFilesystem::Create(
    const std::string& image, const std::string& mount_point, uint64_t size_bytes) {
  std::error_code ec;
  std::filesystem::create_directories(mount_point, ec);
  if (ec) return absl::InternalError(absl::StrCat("mkdir ", mount_point, ": ", ec.message()));
  if (absl::Status st = Run({"truncate", "-s", absl::StrCat(size_bytes), image}); !st.ok())
    return st;
  if (absl::Status st = Run({"mkfs.ext4", "-q", "-F", image}); !st.ok()) return st;
  std::string dev;
  auto code = RunCommand({"losetup", "-f", "--show", image}, &dev, absl::Seconds(30));
  if (!code.ok()) return code.status();
  if (*code != 0) return absl::InternalError(absl::StrCat("losetup: ", dev));
  dev = std::string(absl::StripAsciiWhitespace(dev));
  if (absl::Status st = Run({"mount", dev, mount_point}); !st.ok()) {
    Run({"losetup", "-d", dev}).IgnoreError();
    return st;
  }
  return std::unique_ptr<LoopFilesystem>(new LoopFilesystem(image, mount_point, dev));
}

LoopFilesystem::~LoopFilesystem() {
  if (mounted_) {
    if (!Unmount().ok()) Run({"umount", "-l", mount_point_}).IgnoreError();
  }
  Run({"losetup", "-d", device_}).IgnoreError();
  unlink(image_.c_str());
}

std::string LoopFilesystem::device_name() const {
  return std::string(absl::StripPrefix(device_, "/dev/"));
}

absl::Status LoopFilesystem::RemountReadOnly() {
  return Run({"mount", "-o", "remount,ro", mount_point_});
}

absl::Status LoopFilesystem::RemountReadWrite() {
  return Run({"mount", "-o", "remount,rw", mount_point_});
}

absl::Status LoopFilesystem::Shutdown() {
  int fd = open(mount_point_.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0)
    return absl::InternalError(absl::StrCat("open ", mount_point_, ": ", strerror(errno)));
  uint32_t flags = kExt4GoingFlagsNoLogFlush;
  int rc = ioctl(fd, kExt4IocShutdown, &flags);
  int err = errno;
  close(fd);
  if (rc != 0) return absl::InternalError(absl::StrCat("EXT4_IOC_SHUTDOWN: ", strerror(err)));
  return absl::OkStatus();
}

absl::Status LoopFilesystem::Unmount() {
  if (!mounted_) return absl::OkStatus();
  absl::Status st = Run({"umount", mount_point_});
  if (st.ok()) mounted_ = false;
  return st;
}

}  // namespace slotkeeper::testing
