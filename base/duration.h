// The one grammar of every duration an operator types: slotctl's flags and
// the daemons' absl flags alike.
//
// It is absl::ParseDuration's grammar (decimal numbers, each with a unit:
// ns, us, ms, s, m, h; "0" alone) plus `d` for days of 24 hours:
// "90s", "1.5h", "1h30m", "1d12h", "500ms". No sign, no "inf", at most 100
// years: a negative or endless duration is never what an operator means.
//
// Everything here is pure and thread-safe.
#ifndef SLOTKEEPER_BASE_DURATION_H_
#define SLOTKEEPER_BASE_DURATION_H_

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace slotkeeper {

// Parses `text`; zero is accepted (callers that need more say so). The error
// is INVALID_ARGUMENT naming `what` (e.g. "--since"; may be empty), the
// value and an example: `--since "1x" is not a duration (e.g. 90s, 1.5h,
// 1d12h)`.
absl::StatusOr<absl::Duration> ParseDuration(absl::string_view text, absl::string_view what);

// `d` as text ParseDuration reads back to the same value: "1d12h", "90s",
// "1.5s", "0".
std::string DurationToString(absl::Duration d);

// An absl flag of that grammar:
//   ABSL_FLAG(slotkeeper::FlagDuration, replace_after, absl::Hours(1), "...");
// It converts to and from absl::Duration, so absl::GetFlag(FLAGS_x) is used
// where an absl::Duration is expected.
struct FlagDuration {
  FlagDuration(absl::Duration d = absl::ZeroDuration()) : value(d) {}  // NOLINT: implicit
  operator absl::Duration() const { return value; }                    // NOLINT: implicit
  absl::Duration value;
};

// Found by absl's flag parsing through argument-dependent lookup.
bool AbslParseFlag(absl::string_view text, FlagDuration* out, std::string* error);
std::string AbslUnparseFlag(FlagDuration d);

}  // namespace slotkeeper

#endif  // SLOTKEEPER_BASE_DURATION_H_
