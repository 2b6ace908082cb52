#include "replicator/sync/target_fs.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include "absl/strings/str_cat.h"

namespace slotkeeper::sync {

absl::StatusOr<Fd> TargetFs::CreateFile(int dirfd, const std::string& name, mode_t mode) {
  int fd = openat(dirfd, name.c_str(), O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode);
  if (fd < 0) return ErrnoStatus(errno, absl::StrCat("create ", name));
  return Fd(fd);
}

absl::StatusOr<Fd> TargetFs::OpenForAppend(int dirfd, const std::string& name) {
  struct stat st;
  return OpenRegularFile(dirfd, name, O_RDWR | O_APPEND, &st);
}

absl::Status TargetFs::Write(int fd, const char* data, size_t n) {
  while (n > 0) {
    ssize_t w = write(fd, data, n);
    if (w < 0) {
      if (errno == EINTR) continue;
      return ErrnoStatus(errno, "write");
    }
    data += w;
    n -= static_cast<size_t>(w);
  }
  return absl::OkStatus();
}

absl::Status TargetFs::Sync(int fd) {
  if (fsync(fd) != 0) return ErrnoStatus(errno, "fsync");
  return absl::OkStatus();
}

absl::Status TargetFs::SyncFilesystem(int fd) {
  if (syncfs(fd) != 0) return ErrnoStatus(errno, "syncfs");
  return absl::OkStatus();
}

absl::Status TargetFs::Rename(int from_dir, const std::string& from, int to_dir,
                              const std::string& to) {
  if (renameat(from_dir, from.c_str(), to_dir, to.c_str()) != 0) {
    return ErrnoStatus(errno, absl::StrCat("rename ", from, " -> ", to));
  }
  return absl::OkStatus();
}

absl::Status TargetFs::RenameNoReplace(int from_dir, const std::string& from, int to_dir,
                                       const std::string& to) {
  if (renameat2(from_dir, from.c_str(), to_dir, to.c_str(), RENAME_NOREPLACE) == 0) {
    return absl::OkStatus();
  }
  if (errno == EEXIST)
    return absl::AlreadyExistsError(absl::StrCat("rename ", from, " -> ", to, ": target exists"));
  if (errno != EINVAL) return ErrnoStatus(errno, absl::StrCat("rename ", from, " -> ", to));
  // The filesystem does not support RENAME_NOREPLACE: check, then rename.
  struct stat st;
  if (fstatat(to_dir, to.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0) {
    return absl::AlreadyExistsError(absl::StrCat("rename ", from, " -> ", to, ": target exists"));
  }
  return Rename(from_dir, from, to_dir, to);
}

absl::Status TargetFs::SetMetadata(int dirfd, const std::string& name, int64_t mtime_ns,
                                   uint32_t mode) {
  // Through a descriptor of the regular file itself: fchmodat follows a
  // symlink (AT_SYMLINK_NOFOLLOW is not supported for it), and the agent
  // runs as root, so a symlink put where a file was would otherwise have
  // its target (anywhere on the host) chmod'ed. The mode is masked here
  // too, whatever the caller passes: never setuid, setgid or sticky.
  struct stat st;
  absl::StatusOr<Fd> file = OpenRegularFile(dirfd, name, O_RDONLY, &st);
  if (!file.ok()) {
    return absl::Status(file.status().code(),
                        absl::StrCat("metadata of ", name, ": ", file.status().message()));
  }
  if (fchmod(file->get(), mode & 0777) != 0) {
    return ErrnoStatus(errno, absl::StrCat("chmod ", name));
  }
  struct timespec times[2];
  times[0].tv_sec = times[1].tv_sec = mtime_ns / 1'000'000'000;
  times[0].tv_nsec = times[1].tv_nsec = mtime_ns % 1'000'000'000;
  if (futimens(file->get(), times) != 0) {
    return ErrnoStatus(errno, absl::StrCat("utimes ", name));
  }
  return absl::OkStatus();
}

absl::Status TargetFs::SetOwner(int dirfd, const std::string& name, uint32_t uid, uint32_t gid) {
  const int flags = AT_SYMLINK_NOFOLLOW | (name.empty() ? AT_EMPTY_PATH : 0);
  if (fchownat(dirfd, name.c_str(), uid, gid, flags) != 0) {
    return ErrnoStatus(errno, absl::StrCat("chown ", name.empty() ? "directory" : name));
  }
  return absl::OkStatus();
}

absl::Status TargetFs::Link(int from_dir, const std::string& from, int to_dir,
                            const std::string& to) {
  if (linkat(from_dir, from.c_str(), to_dir, to.c_str(), 0) != 0) {
    if (errno == EEXIST) {
      return absl::AlreadyExistsError(absl::StrCat("link ", from, " -> ", to, ": target exists"));
    }
    return ErrnoStatus(errno, absl::StrCat("link ", from, " -> ", to));
  }
  return absl::OkStatus();
}

absl::Status TargetFs::Unlink(int dirfd, const std::string& name) {
  if (unlinkat(dirfd, name.c_str(), 0) != 0 && errno != ENOENT) {
    return ErrnoStatus(errno, absl::StrCat("unlink ", name));
  }
  return absl::OkStatus();
}

absl::Status TargetFs::RemoveEmptyDir(int dirfd, const std::string& name) {
  if (unlinkat(dirfd, name.c_str(), AT_REMOVEDIR) != 0 && errno != ENOENT && errno != ENOTEMPTY &&
      errno != EEXIST) {
    return ErrnoStatus(errno, absl::StrCat("rmdir ", name));
  }
  return absl::OkStatus();
}

TargetFs* DefaultTargetFs() {
  static TargetFs* fs = new TargetFs();
  return fs;
}

}  // namespace slotkeeper::sync
