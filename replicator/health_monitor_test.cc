// The health monitor with its real probes on this machine, without root: a
// configured filesystem whose mount point is a plain directory is reported
// NOT_MOUNTED, the change is signalled, and the slot scan reaches the
// snapshot.
#include "replicator/health_monitor.h"

#include <sys/stat.h>

#include <atomic>
#include <fstream>

#include "absl/synchronization/notification.h"
#include "gtest/gtest.h"
#include "replicator/config.h"

namespace slotkeeper::replicator {
namespace {

TEST(HealthMonitorTest, ReportsAnUnmountedFilesystemAndScansSlots) {
  const std::string dir = ::testing::TempDir() + "/monitor";
  const std::string mp = dir + "/not-a-mount";
  ::mkdir(dir.c_str(), 0755);
  ::mkdir(mp.c_str(), 0755);
  ::mkdir((mp + "/s01").c_str(), 0755);
  std::ofstream(mp + "/s01/.slotkeeper-store") << "st9\n";
  absl::StatusOr<AgentConfig> config = ParseConfig(
      "host: \"h\" coordinator_address: \"127.0.0.1:1\" peer_listen_address: \"127.0.0.1:0\"\n"
      "data_dir: \"" +
      dir +
      "/data\"\n"
      "units { name: \"du1\" }\n"
      "filesystems { mount_point: \"" +
      mp +
      "\" unit: \"du1\" }\n"
      "slots { name: \"s01\" path: \"" +
      mp + "/s01\" filesystem: \"" + mp +
      "\" }\n"
      "probes { kmsg_path: \"-\" }\n");
  ASSERT_TRUE(config.ok()) << config.status();
  absl::Notification changed;
  std::atomic<bool> notified{false};
  HealthMonitor monitor(&*config, RealClock(), [&] {
    if (!notified.exchange(true)) changed.Notify();
  });
  ASSERT_TRUE(monitor.Start().ok());
  ASSERT_TRUE(changed.WaitForNotificationWithTimeout(absl::Seconds(20)));
  HealthSnapshot s = monitor.Snapshot();
  ASSERT_EQ(s.conditions.size(), 1u);
  EXPECT_EQ(s.conditions[0].type(), v1::NOT_MOUNTED);
  EXPECT_EQ(s.conditions[0].subject(), mp);
  EXPECT_GT(s.conditions[0].since_ms(), 0);
  // The slow loop scans at start; give it a moment (no timing assertion:
  // it only has to happen).
  for (int i = 0; i < 200 && monitor.Snapshot().contents.empty(); ++i) {
    absl::SleepFor(absl::Milliseconds(50));
  }
  s = monitor.Snapshot();
  ASSERT_EQ(s.contents.size(), 1u);
  EXPECT_EQ(s.contents[0].store(), "st9");
  monitor.Stop();
}

}  // namespace
}  // namespace slotkeeper::replicator
