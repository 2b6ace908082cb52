#include "replicator/sync/change_tracker.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "base/log.h"
#include "replicator/sync/dir_walker.h"
#include "replicator/sync/maildir.h"
#include "replicator/sync/manifest.h"
#include "replicator/sync/paths.h"
#include "replicator/sync/slot_layout.h"

namespace slotkeeper::sync {
namespace {

constexpr int kMaxFingerprintDepth = 64;

// Fingerprints a user's tree: every directory's (path, mtime, inode) and,
// in a full scan, every file's (path, mtime, size), in name order. Outside a
// full scan, Maildir message directories (maildir.h) are not read: they hold
// no folders, and their own mtime tells of any change in them.
class Fingerprinter : public DirVisitor {
 public:
  Fingerprinter(bool full, int64_t racy_after_ns) : full_(full), racy_after_ns_(racy_after_ns) {}

  // The walk's root (the user directory) itself.
  void AddRoot(const struct stat& st) { AddDir("", st); }

  absl::Status Listed(const WalkDir&, std::vector<DirEntry>* entries) override {
    if (!full_) {
      // Only directories matter outside a full scan.
      entries->erase(std::remove_if(entries->begin(), entries->end(),
                                    [](const DirEntry& e) {
                                      return e.type != DT_DIR && e.type != DT_UNKNOWN;
                                    }),
                     entries->end());
    }
    std::sort(entries->begin(), entries->end(),
              [](const DirEntry& a, const DirEntry& b) { return a.name < b.name; });
    return absl::OkStatus();
  }

  absl::StatusOr<bool> Visit(const WalkDir& dir, const DirEntry& e,
                             const std::string& rel) override {
    struct stat st;
    if (fstatat(dir.fd, e.name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) return false;
    if (S_ISDIR(st.st_mode)) {
      AddDir(rel, st);
      if (dir.depth + 1 > kMaxFingerprintDepth) return false;
      return full_ || !IsMessageDir(dir.fd, e.name);
    }
    if (full_) Add(&files_, rel, MtimeNs(st), static_cast<uint64_t>(st.st_size));
    return false;
  }

  // What cannot be read is left out of the fingerprint.
  absl::Status Unreadable(const std::string&, const absl::Status&) override {
    return absl::OkStatus();
  }

  std::string DirFingerprint() { return dirs_.Finish(); }
  std::string FileFingerprint() { return files_.Finish(); }
  bool racy() const { return racy_; }

 private:
  void Add(ContentHasher* h, const std::string& rel, int64_t a, uint64_t b) {
    std::string buf = rel;
    buf.push_back('\0');
    buf.append(reinterpret_cast<const char*>(&a), sizeof(a));
    buf.append(reinterpret_cast<const char*>(&b), sizeof(b));
    h->Update(buf.data(), buf.size());
  }
  void AddDir(const std::string& rel, const struct stat& st) {
    Add(&dirs_, rel, MtimeNs(st), st.st_ino);
    if (MtimeNs(st) >= racy_after_ns_) racy_ = true;
  }

  const bool full_;
  const int64_t racy_after_ns_;
  ContentHasher dirs_;
  ContentHasher files_;
  bool racy_ = false;
};

}  // namespace

ChangeTracker::ChangeTracker(Clock* clock, absl::Duration full_scan_interval,
                             absl::Duration racy_window, DeltaLimits limits)
    : clock_(clock),
      full_scan_interval_(full_scan_interval),
      racy_window_(racy_window),
      limits_(limits) {}

ChangeTracker::~ChangeTracker() {
  if (!events_.joinable()) return;
  const uint64_t one = 1;
  // An eventfd write of 1 cannot fail short of a bug; the join would hang.
  if (write(stop_events_.get(), &one, sizeof(one)) != sizeof(one)) std::abort();
  events_.join();
}

absl::Status ChangeTracker::StartEventThread(absl::Duration coalesce) {
  if (events_.joinable()) return absl::FailedPreconditionError("the event thread runs already");
  Fd stop(eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
  if (!stop.valid()) return ErrnoStatus(errno, "eventfd");
  stop_events_ = std::move(stop);
  events_ = std::thread([this, coalesce] { RunEvents(coalesce); });
  return absl::OkStatus();
}

void ChangeTracker::RunEvents(absl::Duration coalesce) {
  for (;;) {
    // The watchers are fixed once watched (Watch replaces none while this
    // runs: PeerCore watches its slots before the thread starts), so their
    // descriptors stay valid outside the lock.
    std::vector<std::string> slots;
    std::vector<pollfd> fds = {{stop_events_.get(), POLLIN, 0}};
    {
      absl::MutexLock lock(&mu_);
      for (const auto& [slot, watcher] : watchers_) {
        slots.push_back(slot);
        fds.push_back({watcher->fd(), POLLIN, 0});
      }
    }
    if (poll(fds.data(), fds.size(), -1) < 0) {
      if (errno == EINTR) continue;
      LogError("sync", absl::StrCat("change events: poll: ", strerror(errno)));
      return;
    }
    if (fds[0].revents != 0) return;
    absl::SleepFor(coalesce);
    absl::MutexLock lock(&mu_);
    for (size_t i = 1; i < fds.size(); ++i) {
      if (fds[i].revents != 0) DrainLocked(slots[i - 1]);
    }
  }
}

bool ChangeTracker::Watched(const std::string& slot) {
  absl::MutexLock lock(&mu_);
  return watchers_.count(slot) > 0;
}

uint64_t ChangeTracker::ChangeSeq(const std::string& slot) {
  absl::MutexLock lock(&mu_);
  return change_seq_[slot];
}

uint64_t ChangeTracker::AwaitChange(const std::string& slot, uint64_t seen,
                                    absl::Duration timeout) {
  absl::MutexLock lock(&mu_);
  uint64_t& seq = change_seq_[slot];
  auto changed = [&seq, seen]() { return seq != seen; };
  mu_.AwaitWithTimeout(absl::Condition(&changed), timeout);
  return seq;
}

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
  if (changes.rescan_all || !changes.users.empty()) change_seq_[slot]++;
  if (changes.rescan_all) {
    // Events were lost: every user is bumped, no history can be trusted.
    LogWarning("sync",
               absl::StrCat("slot ", slot, ": change events lost; delta history forgotten"));
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
  gen->changed_ms = clock_->NowMs();
  if (gen->oldest_change_ms == 0) gen->oldest_change_ms = gen->changed_ms;
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
  Fingerprinter fp(full, absl::ToUnixNanos(clock_->Now() - racy_window_));
  absl::StatusOr<Fd> dir = OpenUserDir(slot_root, user, /*create=*/false);
  if (dir.ok()) {
    struct stat st;
    if (fstat(dir->get(), &st) != 0) return ErrnoStatus(errno, "fstat");
    fp.AddRoot(st);
    (void)WalkTree(dir->get(), &fp);  // the fingerprinter skips what it cannot read
  } else if (!absl::IsNotFound(dir.status())) {
    return dir.status();
  }
  const std::string dir_fp = fp.DirFingerprint();
  const std::string file_fp = fp.FileFingerprint();
  State& state = users_[absl::StrCat(slot, "\n", user)];
  bool changed = state.gen.generation == 0 || state.racy || state.dir_fp != dir_fp ||
                 (full && !state.file_fp.empty() && state.file_fp != file_fp);
  state.dir_fp = dir_fp;
  if (full) state.file_fp = file_fp;
  state.racy = fp.racy();
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
