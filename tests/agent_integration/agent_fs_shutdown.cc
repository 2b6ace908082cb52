// Shuts an ext4 filesystem down the way xfstests simulates a dead drive:
// EXT4_IOC_SHUTDOWN with EXT4_GOING_FLAGS_NOLOGFLUSH on an fd of the mount
// point. Test helper: agent_fs_shutdown MOUNT_POINT
#include <fcntl.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstring>

namespace {
constexpr unsigned long kExt4IocShutdown = 0x8004587D;  // _IOR('X', 125, __u32)
constexpr uint32_t kNoLogFlush = 2;                     // EXT4_GOING_FLAGS_NOLOGFLUSH
}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s MOUNT_POINT\n", argv[0]);
    return 2;
  }
  const int fd = ::open(argv[1], O_RDONLY | O_DIRECTORY);
  if (fd < 0) {
    std::fprintf(stderr, "open %s: %s\n", argv[1], std::strerror(errno));
    return 1;
  }
  uint32_t flags = kNoLogFlush;
  if (::ioctl(fd, kExt4IocShutdown, &flags) != 0) {
    std::fprintf(stderr, "EXT4_IOC_SHUTDOWN %s: %s\n", argv[1], std::strerror(errno));
    return 1;
  }
  ::close(fd);
  return 0;
}
