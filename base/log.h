// The one logger of every Slotkeeper binary: levels, a component tag, one
// format, optionally JSON lines. Backed by spdlog (Debian's, header-only, so
// release binaries stay self-contained).
//
// Text format, one line per message on stderr:
//   2026-12-25T01:02:03.456Z I replicatord sync: user alice: 3 files fetched
// JSON lines (`json = true`), for log shippers:
//   {"time":"2026-12-25T01:02:03.456Z","level":"info","program":"replicatord",
//    "component":"sync","msg":"user alice: 3 files fetched"}
//
// Log lines carry the wall clock: they are read by people and shippers, and
// no decision is taken on them, so the injected Clock is not involved.
//
// Thread-safe. InitLogging is meant for main() before threads start; until it
// runs, messages go to stderr in text format under the program name
// "slotkeeper" at level info.
#ifndef SLOTKEEPER_BASE_LOG_H_
#define SLOTKEEPER_BASE_LOG_H_

#include <ostream>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace slotkeeper {

enum class LogLevel { kDebug = 0, kInfo = 1, kWarning = 2, kError = 3 };

struct LogOptions {
  std::string program = "slotkeeper";  // e.g. "slotmgrd"
  LogLevel min_level = LogLevel::kInfo;
  bool json = false;
  // Where lines go; stderr when null. Not owned; must outlive logging (tests).
  std::ostream* sink = nullptr;
};

void InitLogging(const LogOptions& options);

// "debug", "info", "warning" (or "warn"), "error"; INVALID_ARGUMENT otherwise.
absl::StatusOr<LogLevel> ParseLogLevel(absl::string_view name);

bool LogEnabled(LogLevel level);
void Log(LogLevel level, absl::string_view component, absl::string_view message);

inline void LogDebug(absl::string_view component, absl::string_view message) {
  Log(LogLevel::kDebug, component, message);
}
inline void LogInfo(absl::string_view component, absl::string_view message) {
  Log(LogLevel::kInfo, component, message);
}
inline void LogWarning(absl::string_view component, absl::string_view message) {
  Log(LogLevel::kWarning, component, message);
}
inline void LogError(absl::string_view component, absl::string_view message) {
  Log(LogLevel::kError, component, message);
}

}  // namespace slotkeeper

#endif  // SLOTKEEPER_BASE_LOG_H_
