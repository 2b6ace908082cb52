#include "replicator/sync/maildir.h"

#include <fcntl.h>
#include <sys/stat.h>

#include "absl/status/statusor.h"
#include "replicator/sync/paths.h"

namespace slotkeeper::sync {
namespace {

// Whether `dirfd` is a Maildir folder: it holds "cur".
bool IsMaildirFolder(int dirfd) {
  struct stat st;
  return fstatat(dirfd, "cur", &st, AT_SYMLINK_NOFOLLOW) == 0;
}

}  // namespace

bool IsMessageDir(int parent_fd, absl::string_view name) {
  if (name == "cur") return true;  // its own presence makes the folder
  return (name == "new" || name == "tmp") && IsMaildirFolder(parent_fd);
}

bool IsDeliveryDir(int parent_fd, absl::string_view name) {
  return name == "tmp" && IsMaildirFolder(parent_fd);
}

bool IsInDeliveryDir(int user_dir, absl::string_view dir) {
  for (size_t pos = 0; pos < dir.size();) {
    size_t end = dir.find('/', pos);
    if (end == absl::string_view::npos) end = dir.size();
    if (dir.substr(pos, end - pos) == "tmp") {
      absl::StatusOr<Fd> parent =
          OpenDirBeneath(user_dir, pos == 0 ? absl::string_view() : dir.substr(0, pos - 1), false);
      if (parent.ok() && IsDeliveryDir(parent->get(), "tmp")) return true;
    }
    pos = end + 1;
  }
  return false;
}

bool IsMaildirMessage(absl::string_view path) {
  auto [dir, base] = SplitDirBase(path);
  if (base.empty()) return false;
  auto [parent, last] = SplitDirBase(dir);
  (void)parent;
  return last == "cur" || last == "new";
}

std::string MaildirUniqueKey(absl::string_view path) {
  auto [dir, base] = SplitDirBase(path);
  auto [parent, last] = SplitDirBase(dir);
  (void)parent;
  if (last == "new") return std::string(base);
  if (last == "cur") {
    size_t colon = base.find(":2,");
    return std::string(colon == absl::string_view::npos ? base : base.substr(0, colon));
  }
  return std::string();
}

}  // namespace slotkeeper::sync
