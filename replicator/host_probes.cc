#include "replicator/host_probes.h"

#include <dirent.h>
#include <ftw.h>
#include <sys/stat.h>
#include <sys/statvfs.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <optional>
#include <sstream>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace slotkeeper::replicator {
namespace {

bool Exists(const std::string& path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0;
}

// The first line of a small file, trimmed; nullopt when unreadable.
std::optional<std::string> ReadSmall(const std::string& path) {
  std::ifstream in(path);
  if (!in) return std::nullopt;
  std::string line;
  std::getline(in, line);
  return std::string(absl::StripAsciiWhitespace(line));
}

}  // namespace

DriveUnitProbe::DriveUnitProbe(std::vector<UnitConfig> units, std::string sysfs_root)
    : units_(std::move(units)), sysfs_root_(std::move(sysfs_root)) {}

std::vector<Condition> DriveUnitProbe::Check(absl::Time) {
  std::vector<Condition> out;
  for (const UnitConfig& u : units_) {
    std::vector<std::string> problems;
    for (const std::string& dev : u.devices()) {
      const std::string dir = absl::StrCat(sysfs_root_, "/block/", dev);
      if (!Exists(dir)) {
        problems.push_back(absl::StrCat("block device ", dev, " is gone (no ", dir, ")"));
        continue;
      }
      if (std::optional<std::string> size = ReadSmall(dir + "/size"); size && *size == "0") {
        problems.push_back(absl::StrCat("block device ", dev, " has no medium (size 0)"));
        continue;
      }
      std::optional<std::string> state = ReadSmall(dir + "/device/state");
      if (state && *state != "running") {
        problems.push_back(absl::StrCat("block device ", dev, " state is \"", *state, "\""));
      }
    }
    if (!problems.empty()) {
      out.push_back(MakeCondition(v1::UNIT_OFFLINE, v1::SUBJECT_UNIT, u.name(),
                                  absl::StrJoin(problems, "; ")));
    }
  }
  return out;
}

absl::StatusOr<FsStats> RealStatFs(const std::string& mount_point) {
  struct statvfs st;
  if (::statvfs(mount_point.c_str(), &st) != 0) {
    return absl::UnavailableError(
        absl::StrCat("statvfs ", mount_point, ": ", std::strerror(errno)));
  }
  FsStats s;
  s.total_bytes = static_cast<uint64_t>(st.f_blocks) * st.f_frsize;
  s.free_bytes = static_cast<uint64_t>(st.f_bavail) * st.f_frsize;
  s.total_inodes = st.f_files;
  s.free_inodes = st.f_favail;
  return s;
}

CapacityProbe::CapacityProbe(std::vector<std::string> mount_points, StatFs stat,
                             double low_space_fraction, double low_inodes_fraction)
    : mount_points_(std::move(mount_points)),
      stat_(std::move(stat)),
      low_space_(low_space_fraction),
      low_inodes_(low_inodes_fraction) {}

std::vector<Condition> CapacityProbe::Check(absl::Time) {
  std::vector<Condition> out;
  std::vector<v1::FilesystemUsage> usage;
  for (const std::string& mp : mount_points_) {
    absl::StatusOr<FsStats> s = stat_(mp);
    if (!s.ok()) continue;  // the mount-table and write probes judge this
    v1::FilesystemUsage& u = usage.emplace_back();
    u.set_mount_point(mp);
    u.set_total_bytes(s->total_bytes);
    u.set_free_bytes(s->free_bytes);
    u.set_total_inodes(s->total_inodes);
    u.set_free_inodes(s->free_inodes);
    if (s->total_bytes > 0 && s->free_bytes < low_space_ * s->total_bytes) {
      out.push_back(MakeCondition(
          v1::LOW_SPACE, v1::SUBJECT_FILESYSTEM, mp,
          absl::StrCat(mp, ": ", s->free_bytes, " of ", s->total_bytes, " bytes free")));
    }
    // Some filesystems (btrfs) report no inode limit at all.
    if (s->total_inodes > 0 && s->free_inodes < low_inodes_ * s->total_inodes) {
      out.push_back(MakeCondition(
          v1::LOW_INODES, v1::SUBJECT_FILESYSTEM, mp,
          absl::StrCat(mp, ": ", s->free_inodes, " of ", s->total_inodes, " inodes free")));
    }
  }
  absl::MutexLock lock(&mu_);
  usage_ = std::move(usage);
  return out;
}

std::vector<v1::FilesystemUsage> CapacityProbe::Usage() const {
  absl::MutexLock lock(&mu_);
  return usage_;
}

namespace {
// nftw has no user pointer; the scan runs on one thread at a time per call
// chain, so a thread-local accumulator is enough.
thread_local uint64_t tls_bytes = 0;
int AddBlocks(const char*, const struct stat* st, int type, struct FTW*) {
  if (type == FTW_F || type == FTW_D || type == FTW_SL) {
    tls_bytes += static_cast<uint64_t>(st->st_blocks) * 512;
  }
  return 0;
}
}  // namespace

v1::SlotContents ScanSlot(const SlotConfig& slot) {
  v1::SlotContents c;
  c.set_slot(slot.name());
  if (std::optional<std::string> store = ReadSmall(absl::StrCat(slot.path(), "/", kStoreMarker))) {
    c.set_store(*store);
  }
  std::vector<std::string> users;
  if (DIR* d = ::opendir(absl::StrCat(slot.path(), "/users").c_str())) {
    while (dirent* e = ::readdir(d)) {
      const std::string name = e->d_name;
      if (name == "." || name == "..") continue;
      if (e->d_type == DT_DIR || e->d_type == DT_UNKNOWN) users.push_back(name);
    }
    ::closedir(d);
  }
  std::sort(users.begin(), users.end());
  for (std::string& u : users) c.add_users(std::move(u));
  tls_bytes = 0;
  ::nftw(slot.path().c_str(), AddBlocks, 32, FTW_PHYS | FTW_MOUNT);
  c.set_used_bytes(tls_bytes);
  return c;
}

}  // namespace slotkeeper::replicator
