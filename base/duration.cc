#include "base/duration.h"

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"

namespace slotkeeper {
namespace {

constexpr char kExamples[] = "e.g. 90s, 1.5h, 1d12h";
// Longer is a typo, and far from where time arithmetic in ms overflows.
constexpr absl::Duration kLongest = absl::Hours(24 * 36525);

absl::Status NotADuration(absl::string_view text, absl::string_view what,
                          absl::string_view why = "") {
  return absl::InvalidArgumentError(absl::StrCat(what, what.empty() ? "" : " ", "\"", text,
                                                 "\" is not a duration", why, " (", kExamples,
                                                 ")"));
}

bool IsNumberChar(char c) { return absl::ascii_isdigit(static_cast<unsigned char>(c)) || c == '.'; }

// One "NUMBER UNIT" term; `d` is 24h, every other unit is absl's.
bool ParseTerm(absl::string_view number, absl::string_view unit, absl::Duration* out) {
  if (number.find_first_of("0123456789") == absl::string_view::npos) return false;
  if (unit == "d") {
    absl::Duration hours;
    if (!absl::ParseDuration(absl::StrCat(number, "h"), &hours)) return false;
    *out = hours * 24;
    return true;
  }
  if (unit != "ns" && unit != "us" && unit != "ms" && unit != "s" && unit != "m" && unit != "h") {
    return false;
  }
  return absl::ParseDuration(absl::StrCat(number, unit), out);
}

}  // namespace

absl::StatusOr<absl::Duration> ParseDuration(absl::string_view text, absl::string_view what) {
  if (text.empty()) return NotADuration(text, what);
  if (text[0] == '-') return NotADuration(text, what, ": it must not be negative");
  if (text == "0") return absl::ZeroDuration();
  absl::Duration total = absl::ZeroDuration();
  size_t i = 0;
  while (i < text.size()) {
    const size_t start = i;
    while (i < text.size() && IsNumberChar(text[i])) ++i;
    const absl::string_view number = text.substr(start, i - start);
    const size_t unit_start = i;
    while (i < text.size() && absl::ascii_isalpha(static_cast<unsigned char>(text[i]))) ++i;
    const absl::string_view unit = text.substr(unit_start, i - unit_start);
    absl::Duration term;
    if (number.empty() || unit.empty() || !ParseTerm(number, unit, &term)) {
      return NotADuration(text, what);
    }
    total += term;
  }
  if (total > kLongest) return NotADuration(text, what, ": it is longer than 100 years");
  return total;
}

std::string DurationToString(absl::Duration d) {
  if (d == absl::ZeroDuration()) return "0";
  const absl::Duration day = absl::Hours(24);
  const int64_t days = absl::IDivDuration(d, day, &d);
  std::string out = days > 0 ? absl::StrCat(days, "d") : "";
  if (d != absl::ZeroDuration()) absl::StrAppend(&out, absl::FormatDuration(d));
  return out;
}

bool AbslParseFlag(absl::string_view text, FlagDuration* out, std::string* error) {
  absl::StatusOr<absl::Duration> d = ParseDuration(text, "");
  if (!d.ok()) {
    *error = std::string(d.status().message());
    return false;
  }
  out->value = *d;
  return true;
}

std::string AbslUnparseFlag(FlagDuration d) { return DurationToString(d.value); }

}  // namespace slotkeeper
