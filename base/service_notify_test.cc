#include "base/service_notify.h"

#include <cstdlib>

#include "gtest/gtest.h"

namespace slotkeeper::service {
namespace {

TEST(ServiceNotifyTest, MessageJoinsFieldsAndStatus) {
  EXPECT_EQ(NotifyMessage("READY=1", "serving on 127.0.0.1:7300"),
            "READY=1\nSTATUS=serving on 127.0.0.1:7300");
  EXPECT_EQ(NotifyMessage("", "loading state"), "STATUS=loading state");
  EXPECT_EQ(NotifyMessage("STOPPING=1", ""), "STOPPING=1");
}

TEST(ServiceNotifyTest, NewlinesInStatusCannotAddAssignments) {
  EXPECT_EQ(NotifyMessage("", "host a\nREADY=1"), "STATUS=host a READY=1");
}

TEST(ServiceNotifyTest, PingsAtHalfTheWatchdogTimeout) {
  EXPECT_EQ(PingIntervalFor(30'000'000), absl::Seconds(15));
  EXPECT_EQ(PingIntervalFor(1), absl::Milliseconds(1));
}

// libsystemd reads the environment systemd gives a unit with WatchdogSec=.
TEST(ServiceNotifyTest, WatchdogIsOnOnlyWhenSystemdAsksForIt) {
  unsetenv("WATCHDOG_USEC");
  unsetenv("WATCHDOG_PID");
  EXPECT_EQ(WatchdogPingInterval(), std::nullopt);
  setenv("WATCHDOG_USEC", "400000", 1);
  EXPECT_EQ(WatchdogPingInterval(), absl::Milliseconds(200));
  // For another process (a child that inherited the variables): off.
  setenv("WATCHDOG_PID", "1", 1);
  EXPECT_EQ(WatchdogPingInterval(), std::nullopt);
  unsetenv("WATCHDOG_USEC");
  unsetenv("WATCHDOG_PID");
}

}  // namespace
}  // namespace slotkeeper::service
