#include "base/service_notify.h"

#include <systemd/sd-daemon.h>

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"

namespace slotkeeper::service {
namespace {

void Send(const std::string& message) {
  // sd_notify returns 0 when NOTIFY_SOCKET is unset and a negative errno
  // when sending fails; neither should stop a daemon that is serving.
  sd_notify(/*unset_environment=*/0, message.c_str());
}

}  // namespace

std::string NotifyMessage(absl::string_view fields, absl::string_view status) {
  std::string out(fields);
  if (!status.empty()) {
    if (!out.empty()) out += "\n";
    absl::StrAppend(&out, "STATUS=", absl::StrReplaceAll(status, {{"\n", " "}, {"\r", " "}}));
  }
  return out;
}

void NotifyReady(absl::string_view status) { Send(NotifyMessage("READY=1", status)); }
void NotifyStatus(absl::string_view status) { Send(NotifyMessage("", status)); }
void NotifyWatchdog() { Send("WATCHDOG=1"); }
void NotifyStopping(absl::string_view status) { Send(NotifyMessage("STOPPING=1", status)); }

absl::Duration PingIntervalFor(uint64_t watchdog_usec) {
  return std::max(absl::Microseconds(watchdog_usec / 2), absl::Milliseconds(1));
}

std::optional<absl::Duration> WatchdogPingInterval() {
  uint64_t usec = 0;
  if (sd_watchdog_enabled(/*unset_environment=*/0, &usec) <= 0 || usec == 0) return std::nullopt;
  return PingIntervalFor(usec);
}

}  // namespace slotkeeper::service
