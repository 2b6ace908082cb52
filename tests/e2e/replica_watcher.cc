#include "tests/e2e/replica_watcher.h"

#include <dirent.h>
#include <errno.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/inotify.h>
#include <time.h>
#include <unistd.h>

#include <cstring>

#include "absl/strings/str_cat.h"
#include "tests/e2e/lag_measure.h"
#include "tools/mailgen/delivery_plan.h"

namespace slotkeeper::testing {
namespace {

// The names in a directory, without "." and "..".
std::vector<std::string> Entries(const std::string& dir) {
  std::vector<std::string> names;
  DIR* d = opendir(dir.c_str());
  if (d == nullptr) return names;
  while (struct dirent* e = readdir(d)) {
    if (std::strcmp(e->d_name, ".") != 0 && std::strcmp(e->d_name, "..") != 0) {
      names.push_back(e->d_name);
    }
  }
  closedir(d);
  return names;
}

// The users of a slot: directories under users/ not starting with '.'.
std::vector<std::string> Users(const std::string& slot) {
  std::vector<std::string> users;
  for (std::string& name : Entries(slot + "/users")) {
    if (name[0] != '.') users.push_back(std::move(name));
  }
  return users;
}

int64_t RealtimeNs() {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1000000000 + ts.tv_nsec;
}

}  // namespace

absl::StatusOr<std::unique_ptr<ReplicaWatcher>> ReplicaWatcher::Start(
    const std::vector<std::string>& slots) {
  const int fd = inotify_init1(IN_CLOEXEC | IN_NONBLOCK);
  if (fd < 0) return absl::InternalError(absl::StrCat("inotify_init1: ", strerror(errno)));
  const int stop = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (stop < 0) {
    close(fd);
    return absl::InternalError(absl::StrCat("eventfd: ", strerror(errno)));
  }
  std::unique_ptr<ReplicaWatcher> w(new ReplicaWatcher(fd, stop));
  for (const std::string& slot : slots) {
    for (const std::string& user : Users(slot)) {
      for (const char* sub : {"new", "cur"}) {
        const std::string dir = absl::StrCat(slot, "/users/", user, "/", sub);
        const int wd = inotify_add_watch(fd, dir.c_str(), IN_CREATE | IN_MOVED_TO | IN_ONLYDIR);
        if (wd < 0) {
          return absl::InternalError(
              absl::StrCat("inotify_add_watch ", dir, ": ", strerror(errno),
                           errno == ENOSPC ? " (raise fs.inotify.max_user_watches)" : ""));
        }
        w->dirs_[wd] = {slot, user};
      }
    }
  }
  w->reader_ = std::thread([raw = w.get()] { raw->Run(); });
  return w;
}

ReplicaWatcher::~ReplicaWatcher() {
  // Wakes the reader (an eventfd write of 1 does not fail while it is open).
  const uint64_t one = 1;
  [[maybe_unused]] const ssize_t n = write(stop_fd_, &one, sizeof(one));
  if (reader_.joinable()) reader_.join();
  close(fd_);
  close(stop_fd_);
}

void ReplicaWatcher::Run() {
  alignas(struct inotify_event) char buffer[64 * 1024];
  struct pollfd fds[2] = {{fd_, POLLIN, 0}, {stop_fd_, POLLIN, 0}};
  while (true) {
    if (poll(fds, 2, -1) < 0 && errno != EINTR) return;
    if (fds[1].revents != 0) return;
    if ((fds[0].revents & POLLIN) == 0) continue;
    while (true) {
      const ssize_t n = read(fd_, buffer, sizeof(buffer));
      if (n <= 0) break;  // EAGAIN: drained
      Record(buffer, n, RealtimeNs());
    }
  }
}

void ReplicaWatcher::Record(const char* buffer, ssize_t length, int64_t now_ns) {
  absl::MutexLock lock(&mu_);
  for (ssize_t at = 0; at < length;) {
    const auto* e = reinterpret_cast<const struct inotify_event*>(buffer + at);
    at += static_cast<ssize_t>(sizeof(struct inotify_event) + e->len);
    if (e->mask & IN_Q_OVERFLOW) overflow_ = true;
    if (e->len == 0 || (e->mask & IN_ISDIR)) continue;
    auto dir = dirs_.find(e->wd);
    if (dir == dirs_.end()) continue;
    const std::string key(mailgen::MaildirKey(e->name));
    first_seen_.emplace(SightingKey(dir->second.first, dir->second.second, key), now_ns);
  }
}

absl::flat_hash_map<std::string, int64_t> ReplicaWatcher::FirstSeen() const {
  absl::MutexLock lock(&mu_);
  return first_seen_;
}

bool ReplicaWatcher::AllSeen(const std::vector<std::string>& keys) const {
  absl::MutexLock lock(&mu_);
  for (const std::string& k : keys) {
    if (!first_seen_.contains(k)) return false;
  }
  return true;
}

bool ReplicaWatcher::overflowed() const {
  absl::MutexLock lock(&mu_);
  return overflow_;
}

absl::flat_hash_set<std::string> ScanReplicaSlots(const std::vector<std::string>& slots) {
  absl::flat_hash_set<std::string> found;
  for (const std::string& slot : slots) {
    for (const std::string& user : Users(slot)) {
      for (const char* sub : {"new", "cur"}) {
        for (const std::string& name : Entries(absl::StrCat(slot, "/users/", user, "/", sub))) {
          found.insert(SightingKey(slot, user, mailgen::MaildirKey(name)));
        }
      }
    }
  }
  return found;
}

}  // namespace slotkeeper::testing
