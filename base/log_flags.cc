#include "base/log_flags.h"

#include <string>

#include "absl/flags/flag.h"
#include "base/log.h"

ABSL_FLAG(std::string, log_level, "info",
          "least severe log level shown: debug, info, warning, error");
ABSL_FLAG(bool, log_json, false, "log JSON lines (time, level, program, component, msg)");

namespace slotkeeper {

absl::Status InitLoggingFromFlags(absl::string_view program) {
  absl::StatusOr<LogLevel> level = ParseLogLevel(absl::GetFlag(FLAGS_log_level));
  if (!level.ok()) return level.status();
  LogOptions options;
  options.program = std::string(program);
  options.min_level = *level;
  options.json = absl::GetFlag(FLAGS_log_json);
  InitLogging(options);
  return absl::OkStatus();
}

}  // namespace slotkeeper
