#include "replicator/host_probes.h"

#include <fcntl.h>
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
#include "replicator/sync/dir_walker.h"
#include "replicator/sync/slot_layout.h"

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

// Adds up the bytes allocated below a slot: every directory that can be
// read, every file and symlink, on the slot's own filesystem only (the
// slot's mounts, if any, are not its usage).
class UsageCounter : public sync::DirVisitor {
 public:
  explicit UsageCounter(dev_t device) : device_(device) {}

  absl::Status Listed(const sync::WalkDir& dir, std::vector<sync::DirEntry>*) override {
    struct stat st;
    if (::fstat(dir.fd, &st) == 0) bytes_ += static_cast<uint64_t>(st.st_blocks) * 512;
    return absl::OkStatus();
  }
  absl::StatusOr<bool> Visit(const sync::WalkDir& dir, const sync::DirEntry& e,
                             const std::string&) override {
    struct stat st;
    if (::fstatat(dir.fd, e.name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) return false;
    if (st.st_dev != device_) return false;
    if (S_ISDIR(st.st_mode)) return true;  // counted once listed
    bytes_ += static_cast<uint64_t>(st.st_blocks) * 512;
    return false;
  }
  absl::Status Unreadable(const std::string&, const absl::Status&) override {
    return absl::OkStatus();
  }
  uint64_t bytes() const { return bytes_; }

 private:
  const dev_t device_;
  uint64_t bytes_ = 0;
};

}  // namespace

v1::SlotContents ScanSlot(const SlotConfig& slot) {
  v1::SlotContents c;
  c.set_slot(slot.name());
  absl::StatusOr<sync::Fd> root = sync::OpenRootDir(slot.path());
  if (!root.ok()) return c;  // no slot directory: an empty slot
  if (absl::StatusOr<std::string> store = sync::ReadStoreMarker(root->get()); store.ok()) {
    c.set_store(*store);
  }
  if (absl::StatusOr<std::vector<std::string>> users = sync::ListSlotUsers(root->get());
      users.ok()) {
    for (std::string& u : *users) c.add_users(std::move(u));
  }
  struct stat st;
  if (::fstat(root->get(), &st) == 0) {
    UsageCounter usage(st.st_dev);
    (void)sync::WalkTree(root->get(), &usage);  // the counter skips what it cannot read
    c.set_used_bytes(usage.bytes());
  }
  return c;
}

std::vector<Condition> FakeUnitsOfflineProbe::Check(absl::Time) {
  std::vector<Condition> out;
  for (const UnitConfig& u : units_) {
    out.push_back(MakeCondition(v1::UNIT_OFFLINE, v1::SUBJECT_UNIT, u.name(),
                                "test: --test_fake_hard_condition=all (the disks are fine)"));
  }
  return out;
}

}  // namespace slotkeeper::replicator
