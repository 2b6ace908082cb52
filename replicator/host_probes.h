// The drive-unit probe (sysfs) and the capacity probe (statvfs), plus the
// slot scan that reads what each slot holds.
#ifndef SLOTKEEPER_REPLICATOR_HOST_PROBES_H_
#define SLOTKEEPER_REPLICATOR_HOST_PROBES_H_

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "proto/agent.pb.h"
#include "replicator/config.pb.h"
#include "replicator/probe.h"

namespace slotkeeper::replicator {

// UNIT_OFFLINE when a configured block device is absent under
// `<sysfs_root>/block/`, has a size of 0 (a detached loop device), or has a
// `device/state` other than "running" (SCSI devices; loop devices have none).
// Check reads small sysfs files only.
class DriveUnitProbe : public Probe {
 public:
  DriveUnitProbe(std::vector<UnitConfig> units, std::string sysfs_root);
  std::string Name() const override { return "drive-unit"; }
  std::vector<Condition> Check(absl::Time now) override;

 private:
  const std::vector<UnitConfig> units_;
  const std::string sysfs_root_;
};

// Test only (replicatord --test_fake_hard_condition=all, refused without
// --allow_test_flags): reports every configured drive unit offline, as a
// broken probe or agent release would, while the disks are fine. The fault
// tests use it to show what the coordinator does with wrong evidence.
class FakeUnitsOfflineProbe : public Probe {
 public:
  explicit FakeUnitsOfflineProbe(std::vector<UnitConfig> units) : units_(std::move(units)) {}
  std::string Name() const override { return "test-fake-hard-condition"; }
  std::vector<Condition> Check(absl::Time now) override;

 private:
  const std::vector<UnitConfig> units_;
};

struct FsStats {
  uint64_t total_bytes = 0;
  uint64_t free_bytes = 0;  // available to unprivileged users
  uint64_t total_inodes = 0;
  uint64_t free_inodes = 0;
};
using StatFs = std::function<absl::StatusOr<FsStats>(const std::string& mount_point)>;
absl::StatusOr<FsStats> RealStatFs(const std::string& mount_point);

// LOW_SPACE / LOW_INODES (soft) per filesystem below the configured
// fractions. statvfs can block on a sick filesystem, so the monitor runs this
// probe on its slow thread, not beside the mount and write probes.
// Thread-safe.
class CapacityProbe : public Probe {
 public:
  CapacityProbe(std::vector<std::string> mount_points, StatFs stat, double low_space_fraction,
                double low_inodes_fraction);
  std::string Name() const override { return "capacity"; }
  std::vector<Condition> Check(absl::Time now) override;
  // Usage as of the latest Check.
  std::vector<v1::FilesystemUsage> Usage() const;

 private:
  const std::vector<std::string> mount_points_;
  StatFs stat_;
  const double low_space_;
  const double low_inodes_;
  mutable absl::Mutex mu_;
  std::vector<v1::FilesystemUsage> usage_ ABSL_GUARDED_BY(mu_);
};

// What a slot directory holds: the store its marker names (empty: spare),
// its users and the bytes allocated below `path`, as the data path reads them
// (replicator/sync/slot_layout.h: only directories named by valid user names
// are users). A missing slot directory is an empty slot. Walks the tree: call
// it off the hot path.
v1::SlotContents ScanSlot(const SlotConfig& slot);

}  // namespace slotkeeper::replicator

#endif  // SLOTKEEPER_REPLICATOR_HOST_PROBES_H_
