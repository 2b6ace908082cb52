// Unit tests of every health probe on fake inputs.
#include <sys/stat.h>

#include <atomic>
#include <cstdio>
#include <fstream>
#include <set>
#include <string>

#include "absl/synchronization/notification.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "replicator/host_probes.h"
#include "replicator/kernel_log_probe.h"
#include "replicator/mount_probe.h"
#include "replicator/probe.h"
#include "replicator/sync/slot_layout.h"
#include "replicator/write_probe.h"

namespace slotkeeper::replicator {
namespace {

using ::testing::HasSubstr;

const absl::Time kNow = absl::FromUnixSeconds(1'800'000'000);

std::vector<std::pair<v1::ConditionType, std::string>> Summary(const std::vector<Condition>& cs) {
  std::vector<std::pair<v1::ConditionType, std::string>> out;
  for (const Condition& c : cs) out.emplace_back(c.type(), c.subject());
  return out;
}
using P = std::pair<v1::ConditionType, std::string>;

// --- mount table -----------------------------------------------------------

constexpr char kMountInfo[] =
    "22 1 259:2 / / rw,relatime shared:1 - ext4 /dev/nvme0n1p2 rw\n"
    "40 22 7:3 / /srv/du1 rw,relatime shared:20 - ext4 /dev/loop3 rw\n"
    "41 22 7:4 / /srv/mail\\040spool rw,relatime - ext4 /dev/loop4 rw\n";

MountInfoReader Fixed(std::string text) {
  return [text] { return absl::StatusOr<std::string>(text); };
}

TEST(MountInfoTest, ParsesEscapedPathsAndOptions) {
  std::vector<MountEntry> e = ParseMountInfo(kMountInfo);
  ASSERT_EQ(e.size(), 3u);
  EXPECT_EQ(e[2].mount_point, "/srv/mail spool");
  EXPECT_EQ(e[1].source, "/dev/loop3");
  EXPECT_EQ(e[1].fs_type, "ext4");
  EXPECT_EQ(e[1].mount_options, (std::vector<std::string>{"rw", "relatime"}));
  EXPECT_EQ(UnescapeMountField("a\\011b\\134c\\012"), "a\tb\\c\n");
}

TEST(MountTableProbeTest, HealthyTableGivesNoConditions) {
  MountTableProbe p({"/srv/du1", "/srv/mail spool"}, Fixed(kMountInfo));
  EXPECT_TRUE(p.Check(kNow).empty());
}

TEST(MountTableProbeTest, MissingFilesystemIsNotMounted) {
  MountTableProbe p({"/srv/du1", "/srv/du2"}, Fixed(kMountInfo));
  EXPECT_EQ(Summary(p.Check(kNow)), (std::vector<P>{{v1::NOT_MOUNTED, "/srv/du2"}}));
}

TEST(MountTableProbeTest, DirectoryOnlyFilesystemsAreCheckedForPresenceNotMounts) {
  std::set<std::string> present = {"/demo/du1"};
  MountTableProbe probe(
      {}, [] { return absl::StatusOr<std::string>(absl::UnavailableError("not read")); },
      {"/demo/du1", "/demo/du2"}, [&](const std::string& d) { return present.count(d) > 0; });
  std::vector<Condition> c = probe.Check(absl::Now());
  ASSERT_EQ(c.size(), 1u);
  EXPECT_EQ(c[0].type(), v1::NOT_MOUNTED);
  EXPECT_EQ(c[0].subject(), "/demo/du2");
  present.insert("/demo/du2");
  EXPECT_TRUE(probe.Check(absl::Now()).empty());  // clears with the evidence
}

TEST(MountTableProbeTest, ReadOnlyInMountOrSuperOptions) {
  MountTableProbe mount_ro(
      {"/srv/du1"}, Fixed("40 22 7:3 / /srv/du1 ro,relatime shared:20 - ext4 /dev/loop3 ro\n"));
  std::vector<Condition> c = mount_ro.Check(kNow);
  ASSERT_EQ(Summary(c), (std::vector<P>{{v1::READ_ONLY, "/srv/du1"}}));
  EXPECT_TRUE(c[0].hard());
  EXPECT_THAT(c[0].reason(), HasSubstr("read-only"));
  // The kernel's emergency remount shows in the super options first.
  MountTableProbe super_ro(
      {"/srv/du1"},
      Fixed("40 22 7:3 / /srv/du1 rw,relatime - ext4 /dev/loop3 ro,errors=remount-ro\n"));
  EXPECT_EQ(Summary(super_ro.Check(kNow)), (std::vector<P>{{v1::READ_ONLY, "/srv/du1"}}));
}

TEST(MountTableProbeTest, Ext4ShutdownStaysRwButIsAnIoError) {
  MountTableProbe p({"/srv/du1"},
                    Fixed("40 22 7:3 / /srv/du1 rw,relatime - ext4 /dev/loop3 rw,shutdown\n"));
  EXPECT_EQ(Summary(p.Check(kNow)), (std::vector<P>{{v1::IO_ERROR, "/srv/du1"}}));
}

TEST(MountTableProbeTest, TopMostMountWinsAndConditionsClear) {
  std::string table = kMountInfo;
  table += "50 40 7:5 / /srv/du1 ro - ext4 /dev/loop5 ro\n";
  bool ro = true;
  MountTableProbe p({"/srv/du1"}, [&]() -> absl::StatusOr<std::string> {
    return ro ? table : std::string(kMountInfo);
  });
  EXPECT_EQ(Summary(p.Check(kNow)), (std::vector<P>{{v1::READ_ONLY, "/srv/du1"}}));
  ro = false;
  EXPECT_TRUE(p.Check(kNow).empty());
}

TEST(MountTableProbeTest, UnreadableTableKeepsPreviousFindings) {
  bool fail = false;
  MountTableProbe p({"/srv/du2"}, [&]() -> absl::StatusOr<std::string> {
    if (fail) return absl::UnavailableError("no /proc");
    return std::string(kMountInfo);
  });
  EXPECT_EQ(p.Check(kNow).size(), 1u);
  fail = true;
  EXPECT_EQ(p.Check(kNow).size(), 1u);
}

// --- condition tracker -------------------------------------------------------

TEST(ConditionTrackerTest, KeepsSinceAndReportsChangesOnly) {
  ConditionTracker t;
  Condition ro = MakeCondition(v1::READ_ONLY, v1::SUBJECT_FILESYSTEM, "/a", "r1");
  EXPECT_TRUE(t.Update({ro}, 1000));
  ro.set_reason("r2");
  EXPECT_FALSE(t.Update({ro}, 2000));
  ASSERT_EQ(t.Current().size(), 1u);
  EXPECT_EQ(t.Current()[0].since_ms(), 1000);
  EXPECT_EQ(t.Current()[0].reason(), "r2");
  EXPECT_TRUE(t.Update({}, 3000));
  EXPECT_TRUE(t.Current().empty());
  EXPECT_TRUE(t.Update({ro}, 4000));
  EXPECT_EQ(t.Current()[0].since_ms(), 4000);
}

// --- write probe -------------------------------------------------------------

TEST(WriteProbeTest, MapsErrnoToConditions) {
  EXPECT_TRUE(WriteResultConditions("/a", {0, ""}).empty());
  EXPECT_EQ(Summary(WriteResultConditions("/a", {EROFS, "x"})),
            (std::vector<P>{{v1::READ_ONLY, "/a"}}));
  EXPECT_EQ(Summary(WriteResultConditions("/a", {EIO, "x"})),
            (std::vector<P>{{v1::IO_ERROR, "/a"}}));
  EXPECT_TRUE(WriteResultConditions("/a", {ENOSPC, "x"}).empty());
}

TEST(WriteProbeTest, HungAttemptIsReportedAndNeverDuplicated) {
  FakeClock clock;
  absl::Notification release;
  std::atomic<int> calls{0};
  WriteProbe p(
      {"/srv/du1"},
      [&](const std::string&) {
        ++calls;
        release.WaitForNotification();
        return WriteAttemptResult{};
      },
      &clock, absl::Seconds(1), absl::Seconds(5), nullptr);
  EXPECT_TRUE(p.Check(kNow).empty());  // starts the attempt
  clock.Advance(absl::Seconds(4));
  EXPECT_TRUE(p.Check(kNow).empty());  // still within its deadline
  clock.Advance(absl::Seconds(2));
  EXPECT_EQ(Summary(p.Check(kNow)), (std::vector<P>{{v1::HUNG_IO, "/srv/du1"}}));
  clock.Advance(absl::Seconds(30));
  EXPECT_EQ(Summary(p.Check(kNow)), (std::vector<P>{{v1::HUNG_IO, "/srv/du1"}}));
  EXPECT_EQ(p.AttemptsStarted(), 1);
  release.Notify();
  p.WaitIdleForTesting();
  EXPECT_EQ(calls.load(), 1);
  // The attempt answered at last: the filesystem is fine again.
  EXPECT_TRUE(p.Check(kNow).empty());
  EXPECT_EQ(p.AttemptsStarted(), 2);  // and the next attempt started
  p.WaitIdleForTesting();
}

TEST(WriteProbeTest, ReportsLatestResultAndClears) {
  FakeClock clock;
  int err = EIO;
  std::atomic<int> notified{0};
  WriteProbe p(
      {"/srv/du1"},
      [&](const std::string&) {
        return WriteAttemptResult{err, "fsync: EIO"};
      },
      &clock, absl::Seconds(1), absl::Seconds(5), [&] { ++notified; });
  p.Check(kNow);
  p.WaitIdleForTesting();
  EXPECT_EQ(Summary(p.Check(kNow)), (std::vector<P>{{v1::IO_ERROR, "/srv/du1"}}));
  EXPECT_EQ(p.AttemptsStarted(), 1);  // interval not passed: no new attempt
  err = 0;
  clock.Advance(absl::Seconds(1));
  p.Check(kNow);
  p.WaitIdleForTesting();
  EXPECT_TRUE(p.Check(kNow).empty());
  EXPECT_EQ(notified.load(), 2);
}

TEST(WriteProbeTest, RealAttemptOnATemporaryDirectory) {
  const std::string dir = ::testing::TempDir();
  EXPECT_EQ(RealWriteAttempt(dir).error, 0);
  EXPECT_EQ(RealWriteAttempt("/nonexistent-dir").error, ENOENT);
}

// --- kernel log --------------------------------------------------------------

std::vector<UnitConfig> Units() {
  UnitConfig a;
  a.set_name("du1");
  a.add_devices("loop3");
  UnitConfig b;
  b.set_name("du2");
  b.add_devices("sdb");
  return {a, b};
}

std::vector<FilesystemConfig> Filesystems() {
  FilesystemConfig f;
  f.set_mount_point("/srv/du1");
  f.set_unit("du1");
  return {f};
}

TEST(KernelLogTest, ParsesKmsgRecords) {
  std::optional<KmsgRecord> r = ParseKmsgRecord(
      "3,1234,5678901,-;EXT4-fs (loop3): shut down requested (2)\n SUBSYSTEM=block");
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->priority, 3);
  EXPECT_EQ(r->sequence, 1234u);
  EXPECT_EQ(r->message, "EXT4-fs (loop3): shut down requested (2)");
  EXPECT_FALSE(ParseKmsgRecord("garbage").has_value());
}

TEST(KernelLogTest, MatchesKnownPatternsAndDevices) {
  auto dev = [](absl::string_view m) {
    std::optional<KernelFinding> f = MatchKernelError(m);
    return f ? f->device : std::string("-");
  };
  EXPECT_EQ(dev("EXT4-fs (loop3): Remounting filesystem read-only"), "loop3");
  EXPECT_EQ(dev("EXT4-fs error (device sdb1): ext4_find_entry:1455: inode #2: comm ls"), "sdb1");
  EXPECT_EQ(dev("Buffer I/O error on dev loop3p1, logical block 0, lost async page write"),
            "loop3p1");
  EXPECT_EQ(dev("XFS (sdb1): Corruption of in-memory data detected.  Shutting down filesystem"),
            "sdb1");
  EXPECT_EQ(dev("EXT4-fs (loop3): shut down requested (2)"), "loop3");
  EXPECT_EQ(dev("Aborting journal on device loop3-8."), "loop3-8");
  EXPECT_EQ(dev("EXT4-fs (loop3): mounted filesystem with ordered data mode"), "-");
  EXPECT_EQ(dev("usb 1-1: new high-speed USB device"), "-");
}

TEST(KernelLogTest, MapsDevicesToUnits) {
  EXPECT_EQ(UnitForDevice("loop3", Units()), "du1");
  EXPECT_EQ(UnitForDevice("loop3p1", Units()), "du1");
  EXPECT_EQ(UnitForDevice("loop3-8", Units()), "du1");
  EXPECT_EQ(UnitForDevice("loop31", Units()), "");  // another loop device
  EXPECT_EQ(UnitForDevice("sdb1", Units()), "du2");
  EXPECT_EQ(UnitForDevice("sdbc", Units()), "");
  EXPECT_EQ(UnitForDevice("sdc", Units()), "");
}

TEST(KernelLogTest, RaisesOnUnitAndClearsOnlyWhenEvidenceIsClean) {
  FakeClock clock;
  KernelLogProbe p(Units(), Filesystems(), &clock, absl::Seconds(30));
  EXPECT_FALSE(p.AddRecord("EXT4-fs (loop9): shut down requested (2)"));  // not ours
  EXPECT_TRUE(p.AddRecord("EXT4-fs (loop3): shut down requested (2)"));
  std::vector<Condition> c = p.Check(kNow);
  ASSERT_EQ(Summary(c), (std::vector<P>{{v1::KERNEL_ERROR, "du1"}}));
  EXPECT_THAT(c[0].reason(), HasSubstr("shut down requested"));
  EXPECT_EQ(c[0].since_ms(), clock.NowMs());
  // The write probe still fails on the unit's filesystem: no clearing.
  for (int i = 0; i < 10; ++i) {
    clock.Advance(absl::Seconds(10));
    p.ObserveOtherEvidence(
        {MakeCondition(v1::IO_ERROR, v1::SUBJECT_FILESYSTEM, "/srv/du1", "EIO")});
    EXPECT_EQ(p.Check(kNow).size(), 1u);
  }
  // Evidence clean from now on: clears after clear_after.
  clock.Advance(absl::Seconds(20));
  p.ObserveOtherEvidence({});
  EXPECT_EQ(p.Check(kNow).size(), 1u);
  clock.Advance(absl::Seconds(10));
  EXPECT_TRUE(p.Check(kNow).empty());
}

TEST(KmsgReaderTest, ReadsRecordsAppendedAfterStart) {
  const std::string path = ::testing::TempDir() + "/kmsg";
  { std::ofstream(path) << "6,1,1,-;EXT4-fs (loop3): Remounting filesystem read-only\n"; }
  absl::Mutex mu;
  std::vector<std::string> seen;
  KmsgReader reader(path, [&](absl::string_view m) {
    absl::MutexLock lock(&mu);
    seen.emplace_back(m);
  });
  ASSERT_TRUE(reader.Start().ok());
  // A regular file returns the rest at once; /dev/kmsg returns one record per
  // read, so write one record per line-sized append here.
  { std::ofstream(path, std::ios::app) << "3,2,2,-;Aborting journal on device loop3-8.\n"; }
  absl::MutexLock lock(&mu);
  mu.Await(absl::Condition(
      +[](std::vector<std::string>* s) { return !s->empty(); }, &seen));
  EXPECT_EQ(seen[0], "Aborting journal on device loop3-8.");  // the old line was skipped
  EXPECT_FALSE(KmsgReader("/nonexistent/kmsg", [](absl::string_view) {}).Start().ok());
}

// --- drive unit --------------------------------------------------------------

void WriteFile(const std::string& path, const std::string& text) { std::ofstream(path) << text; }

TEST(DriveUnitProbeTest, PresenceSizeAndDeviceState) {
  const std::string root = ::testing::TempDir() + "/sysfs";
  ::mkdir(root.c_str(), 0755);
  ::mkdir((root + "/block").c_str(), 0755);
  ::mkdir((root + "/block/loop3").c_str(), 0755);
  ::mkdir((root + "/block/sdb").c_str(), 0755);
  ::mkdir((root + "/block/sdb/device").c_str(), 0755);
  WriteFile(root + "/block/loop3/size", "2048\n");
  WriteFile(root + "/block/sdb/size", "2048\n");
  WriteFile(root + "/block/sdb/device/state", "running\n");
  DriveUnitProbe p(Units(), root);
  EXPECT_TRUE(p.Check(kNow).empty());

  WriteFile(root + "/block/sdb/device/state", "offline\n");
  std::vector<Condition> c = p.Check(kNow);
  ASSERT_EQ(Summary(c), (std::vector<P>{{v1::UNIT_OFFLINE, "du2"}}));
  EXPECT_THAT(c[0].reason(), HasSubstr("\"offline\""));

  WriteFile(root + "/block/sdb/device/state", "running\n");
  WriteFile(root + "/block/loop3/size", "0\n");  // a detached loop device
  EXPECT_EQ(Summary(p.Check(kNow)), (std::vector<P>{{v1::UNIT_OFFLINE, "du1"}}));

  WriteFile(root + "/block/loop3/size", "2048\n");
  ::rmdir((root + "/block/sdb/device").c_str());
  std::remove((root + "/block/sdb/device/state").c_str());
  EXPECT_TRUE(p.Check(kNow).empty());
  std::remove((root + "/block/loop3/size").c_str());
  ::rmdir((root + "/block/loop3").c_str());
  c = p.Check(kNow);
  ASSERT_EQ(Summary(c), (std::vector<P>{{v1::UNIT_OFFLINE, "du1"}}));
  EXPECT_THAT(c[0].reason(), HasSubstr("loop3 is gone"));
}

TEST(FakeUnitsOfflineProbeTest, ReportsEveryUnitOfflineAndSaysItIsATest) {
  FakeUnitsOfflineProbe p(Units());
  std::vector<Condition> c = p.Check(kNow);
  EXPECT_EQ(Summary(c), (std::vector<P>{{v1::UNIT_OFFLINE, "du1"}, {v1::UNIT_OFFLINE, "du2"}}));
  EXPECT_TRUE(c[0].hard());
  EXPECT_THAT(c[0].reason(), HasSubstr("--test_fake_hard_condition"));
}

// --- capacity ----------------------------------------------------------------

TEST(CapacityProbeTest, LowSpaceAndInodesAreSoft) {
  FsStats stats{1000, 100, 1000, 100};
  CapacityProbe p(
      {"/srv/du1"}, [&](const std::string&) { return stats; }, 0.05, 0.05);
  EXPECT_TRUE(p.Check(kNow).empty());
  ASSERT_EQ(p.Usage().size(), 1u);
  EXPECT_EQ(p.Usage()[0].free_bytes(), 100u);
  stats = {1000, 10, 1000, 49};
  std::vector<Condition> c = p.Check(kNow);
  EXPECT_EQ(Summary(c),
            (std::vector<P>{{v1::LOW_SPACE, "/srv/du1"}, {v1::LOW_INODES, "/srv/du1"}}));
  EXPECT_FALSE(c[0].hard());
  stats = {1000, 10, 0, 0};  // no inode limit
  EXPECT_EQ(p.Check(kNow).size(), 1u);
}

TEST(ScanSlotTest, ReadsMarkerUsersAndUsage) {
  const std::string slot = ::testing::TempDir() + "/slot1";
  ::mkdir(slot.c_str(), 0755);
  ::mkdir((slot + "/users").c_str(), 0755);
  ::mkdir((slot + "/users/bob").c_str(), 0755);
  ::mkdir((slot + "/users/alice").c_str(), 0755);
  WriteFile(slot + "/users/bob/msg", std::string(10000, 'x'));
  WriteFile(slot + "/" + std::string(sync::kStoreMarker), "store7\n");
  SlotConfig config;
  config.set_name("s01");
  config.set_path(slot);
  v1::SlotContents c = ScanSlot(config);
  EXPECT_EQ(c.slot(), "s01");
  EXPECT_EQ(c.store(), "store7");
  EXPECT_THAT(c.users(), ::testing::ElementsAre("alice", "bob"));
  EXPECT_GE(c.used_bytes(), 10000u);
  config.set_path("/nonexistent-slot");
  EXPECT_EQ(ScanSlot(config).store(), "");
}

}  // namespace
}  // namespace slotkeeper::replicator
