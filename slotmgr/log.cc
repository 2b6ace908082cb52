#include "slotmgr/log.h"

#include <cstdio>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"

namespace slotkeeper::slotmgr {
namespace {

void Write(absl::string_view level, absl::string_view message) {
  // Log lines carry the real time: they are for people reading stderr.
  std::string line =
      absl::StrCat(absl::FormatTime("%Y-%m-%dT%H:%M:%E3SZ", absl::Now(), absl::UTCTimeZone()), " ",
                   level, " slotmgrd: ", message, "\n");
  std::fwrite(line.data(), 1, line.size(), stderr);
}

}  // namespace

void LogInfo(absl::string_view message) { Write("I", message); }
void LogWarning(absl::string_view message) { Write("W", message); }
void LogError(absl::string_view message) { Write("E", message); }

}  // namespace slotkeeper::slotmgr
