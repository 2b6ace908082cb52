// The service manager's notification protocol (sd_notify(3), libsystemd):
// how a daemon started by systemd with Type=notify says it is ready, what it
// is doing, that it is alive, and that it is stopping.
//
//   READY=1     once it serves (slotmgrd: state loaded and the gRPC server
//               listening; replicatord: its peer server listening; see
//               their files)
//   STATUS=...  one line shown by `systemctl status`
//   WATCHDOG=1  every WatchdogPingInterval() when the unit has WatchdogSec=
//   STOPPING=1  when shutdown begins
//
// Every call is a no-op when NOTIFY_SOCKET is unset (not started by systemd,
// or not as Type=notify), so the daemons call these unconditionally.
// Thread-safe.
#ifndef SLOTKEEPER_BASE_SERVICE_NOTIFY_H_
#define SLOTKEEPER_BASE_SERVICE_NOTIFY_H_

#include <cstdint>
#include <optional>
#include <string>

#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace slotkeeper::service {

void NotifyReady(absl::string_view status);
void NotifyStatus(absl::string_view status);
void NotifyWatchdog();
void NotifyStopping(absl::string_view status);

// Half of WATCHDOG_USEC when systemd watches this process (sd_watchdog_enabled),
// as sd_watchdog_enabled(3) advises; nullopt otherwise.
std::optional<absl::Duration> WatchdogPingInterval();

// The notification message for these fields: "READY=1\nSTATUS=..." etc.
// A newline in `status` would start another assignment, so each becomes a
// space. Pure.
std::string NotifyMessage(absl::string_view fields, absl::string_view status);

// Half of `watchdog_usec`, at least a millisecond. Pure.
absl::Duration PingIntervalFor(uint64_t watchdog_usec);

}  // namespace slotkeeper::service

#endif  // SLOTKEEPER_BASE_SERVICE_NOTIFY_H_
