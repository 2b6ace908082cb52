// A tiny logging helper for the coordinator: one line per message to stderr.
// Thread-safe (each line is written with one fwrite call).
#ifndef SLOTKEEPER_SLOTMGR_LOG_H_
#define SLOTKEEPER_SLOTMGR_LOG_H_

#include "absl/strings/string_view.h"

namespace slotkeeper::slotmgr {

void LogInfo(absl::string_view message);
void LogWarning(absl::string_view message);
void LogError(absl::string_view message);

}  // namespace slotkeeper::slotmgr

#endif  // SLOTKEEPER_SLOTMGR_LOG_H_
