// The logging flags every daemon and tool shares (--log_level, --log_json),
// so that they are spelled and parsed in one place.
#ifndef SLOTKEEPER_BASE_LOG_FLAGS_H_
#define SLOTKEEPER_BASE_LOG_FLAGS_H_

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace slotkeeper {

// Calls InitLogging with `program` and the flags; call after
// absl::ParseCommandLine. INVALID_ARGUMENT for a bad --log_level (logging is
// then left at its defaults).
absl::Status InitLoggingFromFlags(absl::string_view program);

}  // namespace slotkeeper

#endif  // SLOTKEEPER_BASE_LOG_FLAGS_H_
