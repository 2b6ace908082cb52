// The agent's logging: one line per call on stderr, prefixed with the wall
// time and a severity. Thread-safe (each line is a single write()).
#ifndef SLOTKEEPER_REPLICATOR_LOG_H_
#define SLOTKEEPER_REPLICATOR_LOG_H_

#include "absl/strings/string_view.h"

namespace slotkeeper::replicator {

void LogInfo(absl::string_view message);
void LogWarning(absl::string_view message);
void LogError(absl::string_view message);

}  // namespace slotkeeper::replicator

#endif  // SLOTKEEPER_REPLICATOR_LOG_H_
