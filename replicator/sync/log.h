// Minimal logging for the data path: one line to stderr per call.
// Thread-safe (each call is a single write(2)).
#ifndef SLOTKEEPER_REPLICATOR_SYNC_LOG_H_
#define SLOTKEEPER_REPLICATOR_SYNC_LOG_H_

#include "absl/strings/string_view.h"

namespace slotkeeper::sync {

void LogInfo(absl::string_view message);
void LogWarning(absl::string_view message);

}  // namespace slotkeeper::sync

#endif  // SLOTKEEPER_REPLICATOR_SYNC_LOG_H_
