#include "replicator/sync/change_tracker.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "base/log.h"
#include "replicator/sync/manifest.h"
#include "replicator/sync/paths.h"

namespace slotkeeper::sync {
namespace {

int64_t MtimeNs(const struct stat& st) {
  return st.st_mtim.tv_sec * 1'000'000'000LL + st.st_mtim.tv_nsec;
}

struct Fingerprinter {
  bool full;
  int64_t racy_after_ns;
  ContentHasher dirs;
  ContentHasher files;
  bool racy = false;

  void Add(ContentHasher* h, const std::string& rel, int64_t a, uint64_t b) {
    std::string buf = rel;
    buf.push_back('\0');
    buf.append(reinterpret_cast<const char*>(&a), sizeof(a));
    buf.append(reinterpret_cast<const char*>(&b), sizeof(b));
    h->Update(buf.data(), buf.size());
  }

  void Walk(int dirfd, const std::string& rel, const struct stat& st, int depth) {
    Add(&dirs, rel, MtimeNs(st), st.st_ino);
    if (MtimeNs(st) >= racy_after_ns) racy = true;
    if (depth > 64) return;
    const bool leaf =
        rel.size() >= 3 && !full &&
        (absl::EndsWith(rel, "cur") || absl::EndsWith(rel, "new") || absl::EndsWith(rel, "tmp")) &&
        (rel.size() == 3 || rel[rel.size() - 4] == '/');
    if (leaf) return;  // Maildir leaves hold messages only
    int fd = fcntl(dirfd, F_DUPFD_CLOEXEC, 0);
    if (fd < 0) return;
    DIR* dir = fdopendir(fd);
    if (dir == nullptr) {
      close(fd);
      return;
    }
    std::vector<std::string> names;
    while (struct dirent* e = readdir(dir)) {
      if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0) continue;
      if (e->d_type == DT_DIR || e->d_type == DT_UNKNOWN || full) {
        names.push_back(e->d_name);
      }
    }
    closedir(dir);
    std::sort(names.begin(), names.end());
    for (const std::string& n : names) {
      struct stat sub;
      if (fstatat(dirfd, n.c_str(), &sub, AT_SYMLINK_NOFOLLOW) != 0) continue;
      const std::string sub_rel = rel.empty() ? n : absl::StrCat(rel, "/", n);
      if (S_ISDIR(sub.st_mode)) {
        int subfd = openat(dirfd, n.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (subfd < 0) continue;
        Fd holder(subfd);
        Walk(subfd, sub_rel, sub, depth + 1);
      } else if (full) {
        Add(&files, sub_rel, MtimeNs(sub), static_cast<uint64_t>(sub.st_size));
      }
    }
  }
};

}  // namespace

ChangeTracker::ChangeTracker(Clock* clock, absl::Duration full_scan_interval,
                             absl::Duration racy_window, DeltaLimits limits)
    : clock_(clock),
      full_scan_interval_(full_scan_interval),
      racy_window_(racy_window),
      limits_(limits) {}

absl::StatusOr<std::map<std::string, UserGeneration>> ChangeTracker::Refresh(
    int slot_root, const std::string& slot) {
  absl::StatusOr<std::vector<std::string>> users = ListSlotUsers(slot_root);
  if (!users.ok()) return users.status();
  absl::MutexLock lock(&mu_);
  const absl::Duration now = clock_->Monotonic();
  auto last = last_full_scan_.find(slot);
  const bool full = last == last_full_scan_.end() || now - last->second >= full_scan_interval_;
  if (full) last_full_scan_[slot] = now;
  const bool watched = DrainLocked(slot);
  std::map<std::string, UserGeneration> out;
  for (const std::string& user : *users) {
    if (watched && !full) {
      auto it = users_.find(absl::StrCat(slot, "\n", user));
      if (it != users_.end()) {
        out[user] = it->second.gen;
        continue;
      }
    }
    absl::StatusOr<UserGeneration> g = RefreshUserLocked(slot_root, slot, user, full);
    if (!g.ok()) return g.status();
    out[user] = *g;
  }
  if (watched || full) rescan_pending_.erase(slot);
  return out;
}

absl::StatusOr<UserGeneration> ChangeTracker::RefreshUser(int slot_root, const std::string& slot,
                                                          const std::string& user) {
  absl::MutexLock lock(&mu_);
  if (DrainLocked(slot)) {
    auto it = users_.find(absl::StrCat(slot, "\n", user));
    if (it != users_.end()) return it->second.gen;
  }
  return RefreshUserLocked(slot_root, slot, user, /*full=*/false);
}

absl::Status ChangeTracker::Watch(const std::string& slot, const std::string& slot_path) {
  absl::StatusOr<std::unique_ptr<InotifyWatcher>> w = InotifyWatcher::Start(slot_path);
  if (!w.ok()) return w.status();
  absl::MutexLock lock(&mu_);
  watchers_[slot] = *std::move(w);
  rescan_pending_.insert(slot);  // anything before the watches counts
  return absl::OkStatus();
}

bool ChangeTracker::DrainLocked(const std::string& slot) {
  auto w = watchers_.find(slot);
  if (w == watchers_.end()) return false;
  InotifyWatcher::Changes changes = w->second->Drain();
  if (changes.rescan_all) {
    // Events were lost: every user is bumped, no history can be trusted.
    LogWarning("sync", absl::StrCat("slot ", slot, ": change events lost; delta history forgotten"));
    rescan_pending_.insert(slot);
    ForgetChangesLocked(slot);
    return false;
  }
  for (const std::string& user : changes.users) {
    auto it = users_.find(absl::StrCat(slot, "\n", user));
    if (it == users_.end()) continue;
    if (changes.untracked.count(user)) {
      BumpUntrackedLocked(&it->second);
    } else {
      BumpTrackedLocked(&it->second, std::move(changes.paths[user]));
    }
  }
  return !rescan_pending_.count(slot);
}

void ChangeTracker::BumpLocked(UserGeneration* gen) {
  gen->generation++;
  if (gen->oldest_change_ms == 0) gen->oldest_change_ms = clock_->NowMs();
}

void ChangeTracker::BumpUntrackedLocked(State* state) {
  BumpLocked(&state->gen);
  state->history.clear();
  state->history_paths = 0;
  state->delta_floor = state->gen.generation;
}

void ChangeTracker::BumpTrackedLocked(State* state, std::set<std::string> paths) {
  if (paths.size() > limits_.max_paths || limits_.max_generations == 0) {
    BumpUntrackedLocked(state);
    return;
  }
  BumpLocked(&state->gen);
  state->history_paths += paths.size();
  state->history.emplace(state->gen.generation, std::move(paths));
  while (!state->history.empty() && (state->history.size() > limits_.max_generations ||
                                     state->history_paths > limits_.max_paths)) {
    auto oldest = state->history.begin();
    state->history_paths -= oldest->second.size();
    state->delta_floor = oldest->first;
    state->history.erase(oldest);
  }
}

void ChangeTracker::ForgetChanges(const std::string& slot) {
  absl::MutexLock lock(&mu_);
  ForgetChangesLocked(slot);
}

void ChangeTracker::ForgetChangesLocked(const std::string& slot) {
  const std::string prefix = absl::StrCat(slot, "\n");
  for (auto it = users_.lower_bound(prefix);
       it != users_.end() && absl::StartsWith(it->first, prefix); ++it) {
    BumpUntrackedLocked(&it->second);
  }
}

absl::StatusOr<UserDelta> ChangeTracker::ChangedSince(const std::string& slot,
                                                      const std::string& user, uint64_t since) {
  absl::MutexLock lock(&mu_);
  if (!DrainLocked(slot)) {
    return absl::FailedPreconditionError(
        absl::StrCat("slot ", slot, " is not tracked by change events now; no delta"));
  }
  if (!watchers_[slot]->complete()) {
    return absl::FailedPreconditionError(
        absl::StrCat("slot ", slot, " has directories without watches; no delta"));
  }
  auto it = users_.find(absl::StrCat(slot, "\n", user));
  if (it == users_.end()) {
    return absl::FailedPreconditionError(absl::StrCat("user ", user, " is not tracked yet"));
  }
  const State& state = it->second;
  if (since < state.delta_floor || since > state.gen.generation) {
    return absl::FailedPreconditionError(absl::StrCat("user ", user, ": no delta since generation ",
                                                      since, " (known from ", state.delta_floor,
                                                      " to ", state.gen.generation, ")"));
  }
  UserDelta delta;
  delta.generation = state.gen.generation;
  for (auto h = state.history.upper_bound(since); h != state.history.end(); ++h) {
    delta.paths.insert(h->second.begin(), h->second.end());
  }
  return delta;
}

absl::StatusOr<UserGeneration> ChangeTracker::RefreshUserLocked(int slot_root,
                                                                const std::string& slot,
                                                                const std::string& user,
                                                                bool full) {
  if (absl::Status s = ValidateUserName(user); !s.ok()) return s;
  Fingerprinter fp{full, absl::ToUnixNanos(clock_->Now() - racy_window_), {}, {}, false};
  absl::StatusOr<Fd> dir = OpenDirBeneath(slot_root, absl::StrCat("users/", user), false);
  if (dir.ok()) {
    struct stat st;
    if (fstat(dir->get(), &st) != 0) return ErrnoStatus(errno, "fstat");
    fp.Walk(dir->get(), "", st, 0);
  } else if (!absl::IsNotFound(dir.status())) {
    return dir.status();
  }
  const std::string dir_fp = fp.dirs.Finish();
  const std::string file_fp = fp.files.Finish();
  State& state = users_[absl::StrCat(slot, "\n", user)];
  bool changed = state.gen.generation == 0 || state.racy || state.dir_fp != dir_fp ||
                 (full && !state.file_fp.empty() && state.file_fp != file_fp);
  state.dir_fp = dir_fp;
  if (full) state.file_fp = file_fp;
  state.racy = fp.racy;
  if (changed) BumpUntrackedLocked(&state);  // a scan does not know which paths
  return state.gen;
}

void ChangeTracker::MarkServed(const std::string& slot, const std::string& user,
                               uint64_t generation) {
  absl::MutexLock lock(&mu_);
  auto it = users_.find(absl::StrCat(slot, "\n", user));
  if (it != users_.end() && it->second.gen.generation == generation) {
    it->second.gen.oldest_change_ms = 0;
  }
}

}  // namespace slotkeeper::sync
