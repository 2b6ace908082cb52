#include "replicator/sync/inotify_watcher.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>

#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "base/log.h"
#include "replicator/sync/dir_walker.h"
#include "replicator/sync/maildir.h"
#include "replicator/sync/slot_layout.h"

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
  std::unique_ptr<InotifyWatcher> w(new InotifyWatcher(Fd(fd), slot_path));
  if (absl::Status s = w->WatchTree(""); !s.ok()) return s;
  return w;
}

// Adds a watch to every directory below the one walked (whose own watch is
// already in place), each before its listing is read, so that a directory
// created meanwhile is either listed or reported by its parent's watch.
class InotifyWatcher::WatchAdder : public DirVisitor {
 public:
  WatchAdder(InotifyWatcher* watcher, std::string base)
      : watcher_(watcher), base_(std::move(base)) {}

  absl::StatusOr<bool> Visit(const WalkDir& dir, const DirEntry& e,
                             const std::string& rel) override {
    if (!IsDirectory(dir.fd, e) || IsDeliveryDir(dir.fd, e.name)) return false;
    return watcher_->AddWatch(base_.empty() ? rel : absl::StrCat(base_, "/", rel));
  }
  // A directory gone or unreadable since its watch was added: its watch
  // reports what happens to it.
  absl::Status Unreadable(const std::string&, const absl::Status&) override {
    return absl::OkStatus();
  }

 private:
  InotifyWatcher* const watcher_;
  const std::string base_;
};

absl::StatusOr<bool> InotifyWatcher::AddWatch(const std::string& rel) {
  const std::string path = rel.empty() ? users_path_ : absl::StrCat(users_path_, "/", rel);
  int wd = inotify_add_watch(fd_.get(), path.c_str(), kMask);
  if (wd < 0) {
    if (errno == ENOENT || errno == ENOTDIR) return false;  // gone already
    broken_ = true;
    complete_ = false;
    return ErrnoStatus(errno == ENOSPC ? EDQUOT : errno, absl::StrCat("inotify watch ", path));
  }
  watches_[wd] = rel;
  if (rel.empty()) root_watched_ = true;
  return true;
}

absl::StatusOr<Fd> InotifyWatcher::OpenBelowUsers(const std::string& rel) const {
  // One component at a time, never through a symlink.
  absl::StatusOr<Fd> dir = OpenRootDir(slot_path_);
  if (dir.ok()) dir = OpenUsersDir(dir->get());
  for (absl::string_view part : absl::StrSplit(rel, '/', absl::SkipEmpty())) {
    if (!dir.ok()) break;
    dir = OpenSubdir(dir->get(), part);
  }
  return dir;
}

bool InotifyWatcher::IsDeliveryPath(const std::string& parent, const std::string& name) const {
  if (name != "tmp" || parent.empty()) return false;  // users/tmp is a user
  absl::StatusOr<Fd> dir = OpenBelowUsers(parent);
  return dir.ok() && IsDeliveryDir(dir->get(), name);
}

absl::Status InotifyWatcher::WatchTree(const std::string& rel) {
  absl::StatusOr<bool> watched = AddWatch(rel);
  if (!watched.ok()) return watched.status();
  if (!*watched) return absl::OkStatus();
  absl::StatusOr<Fd> dir = OpenBelowUsers(rel);
  if (!dir.ok()) return absl::OkStatus();  // gone since: its watch reports it
  WatchAdder adder(this, rel);
  return WalkTree(dir->get(), &adder);
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
      if ((ev->mask & (IN_CREATE | IN_MOVED_TO)) && (ev->mask & IN_ISDIR) &&
          !IsDeliveryPath(dir, name)) {
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
