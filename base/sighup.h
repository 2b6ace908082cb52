// What SIGHUP does in every Slotkeeper daemon: re-reads what can be re-read
// without a restart, which is the process's TLS files (base/tls.h), for the
// connections opened from then on, and logs one line saying what it did (or
// why it kept what it had). SIGHUP is never fatal: a daemon that cannot
// re-read keeps running on what it read before.
//
// Call from the thread that handles signals, never from a signal handler.
#ifndef SLOTKEEPER_BASE_SIGHUP_H_
#define SLOTKEEPER_BASE_SIGHUP_H_

#include "absl/strings/string_view.h"

namespace slotkeeper {

// Re-reads and logs under `component`. `not_reloaded` says what SIGHUP does
// not apply (e.g. "restart the agent to apply a new config"); may be empty.
// Returns whether everything was re-read.
bool ReloadOnSighup(absl::string_view component, absl::string_view not_reloaded);

}  // namespace slotkeeper

#endif  // SLOTKEEPER_BASE_SIGHUP_H_
