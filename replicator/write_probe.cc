#include "replicator/write_probe.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <thread>

#include "absl/strings/str_cat.h"

namespace slotkeeper::replicator {

// State shared between the probe and its (detached) attempt threads.
struct WriteProbe::Shared {
  mutable absl::Mutex mu;
  bool outstanding ABSL_GUARDED_BY(mu) = false;
  bool ever_started ABSL_GUARDED_BY(mu) = false;
  absl::Duration started ABSL_GUARDED_BY(mu);  // clock monotonic
  int attempts ABSL_GUARDED_BY(mu) = 0;
  bool have_result ABSL_GUARDED_BY(mu) = false;
  WriteAttemptResult last ABSL_GUARDED_BY(mu);
  std::function<void()> on_result ABSL_GUARDED_BY(mu);
};

namespace {

WriteAttemptResult Fail(absl::string_view step, const std::string& path) {
  const int err = errno;
  return {err, absl::StrCat(step, " ", path, ": ", std::strerror(err))};
}

}  // namespace

WriteAttemptResult RealWriteAttempt(const std::string& mount_point) {
  const std::string dir = mount_point + "/.slotkeeper-probe";
  if (::mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST) return Fail("mkdir", dir);
  const std::string file = dir + "/probe";
  const int fd = ::open(file.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return Fail("open", file);
  static constexpr char kData[] = "slotkeeper write probe\n";
  if (::write(fd, kData, sizeof(kData) - 1) != static_cast<ssize_t>(sizeof(kData) - 1)) {
    WriteAttemptResult r = Fail("write", file);
    ::close(fd);
    return r;
  }
  if (::fsync(fd) != 0) {
    WriteAttemptResult r = Fail("fsync", file);
    ::close(fd);
    return r;
  }
  if (::close(fd) != 0) return Fail("close", file);
  if (::unlink(file.c_str()) != 0) return Fail("unlink", file);
  return {};
}

std::vector<Condition> WriteResultConditions(const std::string& mount_point,
                                             const WriteAttemptResult& result) {
  switch (result.error) {
    case 0:
      return {};
    case EROFS:
      return {MakeCondition(v1::READ_ONLY, v1::SUBJECT_FILESYSTEM, mount_point,
                            absl::StrCat("write probe: ", result.what))};
    // Full or missing is not a write failure: the capacity and mount-table
    // probes report those.
    case ENOSPC:
    case EDQUOT:
    case ENOENT:
      return {};
    default:
      return {MakeCondition(v1::IO_ERROR, v1::SUBJECT_FILESYSTEM, mount_point,
                            absl::StrCat("write probe: ", result.what))};
  }
}

WriteProbe::WriteProbe(std::vector<std::string> mount_points, WriteAttempt attempt, Clock* clock,
                       absl::Duration interval, absl::Duration deadline,
                       std::function<void()> on_result)
    : attempt_(std::move(attempt)), clock_(clock), interval_(interval), deadline_(deadline) {
  for (std::string& mp : mount_points) {
    auto shared = std::make_shared<Shared>();
    {
      absl::MutexLock lock(&shared->mu);
      shared->on_result = on_result;
    }
    filesystems_.push_back({std::move(mp), std::move(shared)});
  }
}

WriteProbe::~WriteProbe() {
  for (PerFilesystem& fs : filesystems_) {
    absl::MutexLock lock(&fs.shared->mu);
    fs.shared->on_result = nullptr;
  }
}

std::vector<Condition> WriteProbe::Check(absl::Time) {
  std::vector<Condition> out;
  const absl::Duration now = clock_->Monotonic();
  for (PerFilesystem& fs : filesystems_) {
    Shared& s = *fs.shared;
    absl::MutexLock lock(&s.mu);
    if (s.outstanding) {
      if (now - s.started >= deadline_) {
        out.push_back(
            MakeCondition(v1::HUNG_IO, v1::SUBJECT_FILESYSTEM, fs.mount_point,
                          absl::StrCat("write probe on ", fs.mount_point, " has not answered for ",
                                       absl::FormatDuration(now - s.started), " (deadline ",
                                       absl::FormatDuration(deadline_), ")")));
        continue;
      }
    } else if (!s.ever_started || now - s.started >= interval_) {
      s.outstanding = true;
      s.ever_started = true;
      s.started = now;
      ++s.attempts;
      std::thread([shared = fs.shared, attempt = attempt_, mp = fs.mount_point] {
        WriteAttemptResult result = attempt(mp);
        std::function<void()> notify;
        {
          absl::MutexLock lock(&shared->mu);
          shared->have_result = true;
          shared->last = std::move(result);
          notify = shared->on_result;
        }
        if (notify) notify();
        // Only now may the next attempt start (and WaitIdleForTesting end).
        absl::MutexLock lock(&shared->mu);
        shared->outstanding = false;
      }).detach();
    }
    if (s.have_result) {
      for (Condition& c : WriteResultConditions(fs.mount_point, s.last)) out.push_back(c);
    }
  }
  return out;
}

int WriteProbe::AttemptsStarted() const {
  int n = 0;
  for (const PerFilesystem& fs : filesystems_) {
    absl::MutexLock lock(&fs.shared->mu);
    n += fs.shared->attempts;
  }
  return n;
}

void WriteProbe::WaitIdleForTesting() const {
  for (const PerFilesystem& fs : filesystems_) {
    Shared& s = *fs.shared;
    absl::MutexLock lock(&s.mu);
    s.mu.Await(absl::Condition(
        +[](Shared* sh) ABSL_EXCLUSIVE_LOCKS_REQUIRED(sh->mu) { return !sh->outstanding; }, &s));
  }
}

}  // namespace slotkeeper::replicator
