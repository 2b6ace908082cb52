#include "replicator/sync/inotify_watcher.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>

#include <vector>

#include "absl/strings/str_cat.h"
#include "base/log.h"

namespace slotkeeper::sync {
namespace {

constexpr uint32_t kMask = IN_CREATE | IN_DELETE | IN_MOVED_FROM | IN_MOVED_TO | IN_CLOSE_WRITE |
                           IN_MODIFY | IN_ATTRIB | IN_DELETE_SELF | IN_MOVE_SELF | IN_ONLYDIR |
                           IN_DONT_FOLLOW;

std::string UserOf(const std::string& rel) { return rel.substr(0, rel.find('/')); }

}  // namespace

absl::StatusOr<std::unique_ptr<InotifyWatcher>> InotifyWatcher::Start(
    const std::string& slot_path) {
  int fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
  if (fd < 0) return ErrnoStatus(errno, "inotify_init1");
  std::unique_ptr<InotifyWatcher> w(new InotifyWatcher(Fd(fd), absl::StrCat(slot_path, "/users")));
  if (absl::Status s = w->WatchTree(""); !s.ok()) return s;
  return w;
}

absl::Status InotifyWatcher::WatchTree(const std::string& rel) {
  const std::string path = rel.empty() ? users_path_ : absl::StrCat(users_path_, "/", rel);
  int wd = inotify_add_watch(fd_.get(), path.c_str(), kMask);
  if (wd < 0) {
    if (errno == ENOENT || errno == ENOTDIR) return absl::OkStatus();  // gone already
    broken_ = true;
    complete_ = false;
    return ErrnoStatus(errno == ENOSPC ? EDQUOT : errno, absl::StrCat("inotify watch ", path));
  }
  watches_[wd] = rel;
  if (rel.empty()) root_watched_ = true;
  DIR* dir = opendir(path.c_str());
  if (dir == nullptr) return absl::OkStatus();
  std::vector<std::string> subdirs;
  while (struct dirent* e = readdir(dir)) {
    if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0) continue;
    if (e->d_type == DT_DIR) {
      subdirs.push_back(e->d_name);
    } else if (e->d_type == DT_UNKNOWN) {
      struct stat st;
      if (fstatat(dirfd(dir), e->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISDIR(st.st_mode)) {
        subdirs.push_back(e->d_name);
      }
    }
  }
  closedir(dir);
  for (const std::string& sub : subdirs) {
    absl::Status s = WatchTree(rel.empty() ? sub : absl::StrCat(rel, "/", sub));
    if (!s.ok()) return s;
  }
  return absl::OkStatus();
}

InotifyWatcher::Changes InotifyWatcher::Drain() {
  Changes changes;
  if (!root_watched_) {
    // users/ did not exist when watching began (or went away): watch it as
    // soon as it exists. Until then, and once for whatever was created
    // before the watch, only a scan can tell what changed.
    if (absl::Status s = WatchTree(""); !s.ok()) {
      LogWarning("sync", absl::StrCat("change tracking falls back to scans: ", s.message()));
    }
    changes.rescan_all = true;
  }
  alignas(struct inotify_event) char buf[64 * 1024];
  for (;;) {
    ssize_t n = read(fd_.get(), buf, sizeof(buf));
    if (n <= 0) break;  // EAGAIN: queue empty
    for (char* p = buf; p < buf + n;) {
      auto* ev = reinterpret_cast<struct inotify_event*>(p);
      p += sizeof(struct inotify_event) + ev->len;
      if (ev->mask & IN_Q_OVERFLOW) {
        changes.rescan_all = true;
        continue;
      }
      auto it = watches_.find(ev->wd);
      if (it == watches_.end()) continue;
      const std::string dir = it->second;
      if (ev->mask & IN_IGNORED) {
        if (dir.empty()) root_watched_ = false;
        watches_.erase(it);
        continue;
      }
      const std::string name = ev->len > 0 ? std::string(ev->name) : std::string();
      const std::string rel =
          dir.empty() ? name : (name.empty() ? dir : absl::StrCat(dir, "/", name));
      if (rel.empty()) continue;  // users/ itself
      const std::string user = UserOf(rel);
      changes.users.insert(user);
      if ((ev->mask & IN_ISDIR) || name.empty() || rel.size() <= user.size() + 1) {
        changes.untracked.insert(user);
      } else {
        changes.paths[user].insert(rel.substr(user.size() + 1));
      }
      if ((ev->mask & (IN_CREATE | IN_MOVED_TO)) && (ev->mask & IN_ISDIR)) {
        if (absl::Status s = WatchTree(rel); !s.ok()) {
          LogWarning("sync", absl::StrCat("change tracking falls back to scans: ", s.message()));
        }
      }
    }
  }
  if (broken_) {
    changes.rescan_all = true;
    broken_ = false;
  }
  return changes;
}

}  // namespace slotkeeper::sync
