#include "base/log.h"

#include <memory>
#include <mutex>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/synchronization/mutex.h"
#include "base/json.h"
#include "spdlog/logger.h"
#include "spdlog/pattern_formatter.h"
#include "spdlog/sinks/ostream_sink.h"
#include "spdlog/sinks/stdout_sinks.h"

namespace slotkeeper {
namespace {

spdlog::level::level_enum ToSpd(LogLevel level) {
  switch (level) {
    case LogLevel::kDebug:
      return spdlog::level::debug;
    case LogLevel::kInfo:
      return spdlog::level::info;
    case LogLevel::kWarning:
      return spdlog::level::warn;
    case LogLevel::kError:
      return spdlog::level::err;
  }
  return spdlog::level::info;
}

struct State {
  absl::Mutex mu;
  std::shared_ptr<spdlog::logger> logger ABSL_GUARDED_BY(mu);
  bool json ABSL_GUARDED_BY(mu) = false;
};

State& GetState() {
  static State* state = new State;  // never destroyed: threads may log at exit
  return *state;
}

std::shared_ptr<spdlog::logger> MakeLogger(const LogOptions& options) {
  spdlog::sink_ptr sink;
  if (options.sink != nullptr) {
    sink = std::make_shared<spdlog::sinks::ostream_sink_mt>(*options.sink, /*force_flush=*/true);
  } else {
    sink = std::make_shared<spdlog::sinks::stderr_sink_mt>();
  }
  auto logger = std::make_shared<spdlog::logger>(options.program, sink);
  // The message already carries the component (and, for JSON, its quoting).
  const char* pattern = options.json
                            ? R"({"time":"%Y-%m-%dT%H:%M:%S.%eZ","level":"%l","program":"%n",%v})"
                            : "%Y-%m-%dT%H:%M:%S.%eZ %L %n %v";
  logger->set_formatter(
      std::make_unique<spdlog::pattern_formatter>(pattern, spdlog::pattern_time_type::utc));
  logger->set_level(ToSpd(options.min_level));
  logger->flush_on(spdlog::level::trace);  // every line reaches the file at once
  return logger;
}

std::shared_ptr<spdlog::logger> CurrentLogger(bool* json) {
  State& state = GetState();
  absl::MutexLock lock(&state.mu);
  if (state.logger == nullptr) state.logger = MakeLogger(LogOptions());
  *json = state.json;
  return state.logger;
}

}  // namespace

void InitLogging(const LogOptions& options) {
  State& state = GetState();
  auto logger = MakeLogger(options);
  absl::MutexLock lock(&state.mu);
  state.logger = std::move(logger);
  state.json = options.json;
}

absl::StatusOr<LogLevel> ParseLogLevel(absl::string_view name) {
  const std::string n = absl::AsciiStrToLower(name);
  if (n == "debug") return LogLevel::kDebug;
  if (n == "info") return LogLevel::kInfo;
  if (n == "warning" || n == "warn") return LogLevel::kWarning;
  if (n == "error") return LogLevel::kError;
  return absl::InvalidArgumentError(
      absl::StrCat("unknown log level \"", name, "\" (debug, info, warning, error)"));
}

bool LogEnabled(LogLevel level) {
  bool json;
  return CurrentLogger(&json)->should_log(ToSpd(level));
}

void Log(LogLevel level, absl::string_view component, absl::string_view message) {
  bool json;
  std::shared_ptr<spdlog::logger> logger = CurrentLogger(&json);
  const spdlog::level::level_enum spd = ToSpd(level);
  if (!logger->should_log(spd)) return;
  std::string line;
  if (json) {
    line = absl::StrCat("\"component\":\"", JsonEscape(component), "\",\"msg\":\"",
                        JsonEscape(message), "\"");
  } else {
    line = absl::StrCat(component, ": ", message);
  }
  logger->log(spd, spdlog::string_view_t(line.data(), line.size()));
}

}  // namespace slotkeeper
