#include "replicator/sync/paths.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <string>

#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "proto/model_util.h"

namespace slotkeeper::sync {

absl::Status ValidateUserName(absl::string_view user) {
  if (absl::Status s = model::ValidateName(model::NameKind::kUser, user); !s.ok()) return s;
  // The data path's own invariant, whatever the naming rule allows: a user
  // name is exactly one path component below users/.
  if (user == "." || user == ".." || user.find('/') != absl::string_view::npos) {
    return absl::InvalidArgumentError(
        absl::StrCat("user name \"", user, "\" is not one path component"));
  }
  return absl::OkStatus();
}

absl::Status ValidateRelativePath(absl::string_view path) {
  if (path.empty()) return absl::InvalidArgumentError("path is empty");
  if (path.size() > kMaxRelativePathBytes) {
    return absl::InvalidArgumentError(
        absl::StrCat("path longer than ", kMaxRelativePathBytes, " bytes"));
  }
  if (path[0] == '/') {
    return absl::InvalidArgumentError(absl::StrCat("path \"", path, "\" is absolute"));
  }
  for (const char c : path) {
    const unsigned char byte = static_cast<unsigned char>(c);
    if (byte < 0x20 || byte == 0x7f) {
      return absl::InvalidArgumentError(
          absl::StrCat("path \"", absl::CHexEscape(path), "\" contains a control character"));
    }
  }
  for (absl::string_view part : absl::StrSplit(path, '/')) {
    if (part.size() > kMaxNameComponentBytes) {
      return absl::InvalidArgumentError(absl::StrCat("path \"", path.substr(0, 64),
                                                     "...\" has a component longer than ",
                                                     kMaxNameComponentBytes, " bytes"));
    }
    if (part.empty()) {
      return absl::InvalidArgumentError(absl::StrCat("path \"", path, "\" has an empty component"));
    }
    if (part == "." || part == "..") {
      return absl::InvalidArgumentError(
          absl::StrCat("path \"", path, "\" has a \"", part, "\" component"));
    }
    if (absl::StartsWith(part, kTempPrefix)) {
      return absl::InvalidArgumentError(absl::StrCat("path \"", path, "\" names a temporary file"));
    }
  }
  return absl::OkStatus();
}

Fd& Fd::operator=(Fd&& other) noexcept {
  if (this != &other) {
    if (fd_ >= 0) close(fd_);
    fd_ = std::exchange(other.fd_, -1);
  }
  return *this;
}

Fd::~Fd() {
  if (fd_ >= 0) close(fd_);
}

absl::Status ErrnoStatus(int err, absl::string_view what) {
  std::string msg = absl::StrCat(what, ": ", strerror(err));
  switch (err) {
    case ENOENT:
      return absl::NotFoundError(msg);
    case EEXIST:
      return absl::AlreadyExistsError(msg);
    case ENOSPC:
    case EDQUOT:
      return absl::ResourceExhaustedError(msg);
    case ELOOP:
    case ENOTDIR:
    case EISDIR:
      return absl::FailedPreconditionError(msg);
    case EACCES:
    case EPERM:
      return absl::PermissionDeniedError(msg);
    case EINTR:
    case EAGAIN:
      return absl::UnavailableError(msg);
    case EINVAL:
      return absl::InvalidArgumentError(msg);
    default:
      return absl::InternalError(msg);
  }
}

absl::StatusOr<Fd> OpenDirBeneath(int dirfd, absl::string_view rel, bool create) {
  Fd current(fcntl(dirfd, F_DUPFD_CLOEXEC, 0));
  if (!current.valid()) return ErrnoStatus(errno, "dup directory fd");
  if (rel.empty()) return current;
  if (absl::Status s = ValidateRelativePath(rel); !s.ok()) return s;
  for (absl::string_view part : absl::StrSplit(rel, '/')) {
    std::string name(part);
    int fd = openat(current.get(), name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0 && errno == ENOENT && create) {
      if (mkdirat(current.get(), name.c_str(), 0755) != 0 && errno != EEXIST) {
        return ErrnoStatus(errno, absl::StrCat("mkdir \"", rel, "\""));
      }
      fd = openat(current.get(), name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    }
    if (fd < 0) {
      int err = errno;
      if (err == ELOOP || err == ENOTDIR) {
        return absl::FailedPreconditionError(
            absl::StrCat("\"", rel, "\": component \"", name,
                         "\" is a symlink or not a directory; refusing to follow"));
      }
      return ErrnoStatus(err, absl::StrCat("open directory \"", rel, "\""));
    }
    current = Fd(fd);
  }
  return current;
}

absl::StatusOr<Fd> OpenRegularFile(int dirfd, const std::string& name, int flags, struct stat* st) {
  const int fd = openat(dirfd, name.c_str(), flags | O_NONBLOCK | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ELOOP) {
      return absl::FailedPreconditionError(
          absl::StrCat("\"", name, "\" is a symlink; refusing to follow"));
    }
    return ErrnoStatus(errno, absl::StrCat("open \"", name, "\""));
  }
  Fd file(fd);
  if (fstat(fd, st) != 0) return ErrnoStatus(errno, absl::StrCat("fstat \"", name, "\""));
  if (!S_ISREG(st->st_mode)) {
    return absl::FailedPreconditionError(absl::StrCat("\"", name, "\" is not a regular file"));
  }
  return file;
}

absl::StatusOr<Fd> OpenRootDir(const std::string& path) {
  if (path.empty() || path[0] != '/') {
    return absl::InvalidArgumentError(absl::StrCat("slot path \"", path, "\" is not absolute"));
  }
  int fd = open(path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return ErrnoStatus(errno, absl::StrCat("open \"", path, "\""));
  return Fd(fd);
}

std::pair<absl::string_view, absl::string_view> SplitDirBase(absl::string_view path) {
  size_t slash = path.rfind('/');
  if (slash == absl::string_view::npos) return {absl::string_view(), path};
  return {path.substr(0, slash), path.substr(slash + 1)};
}

}  // namespace slotkeeper::sync
