// Rendering helpers for slotctl's human and JSON output: aligned tables,
// optional colour, times, sizes and the short names of the model's enums.
//
// Everything here is pure (no clock, no terminal probing: the caller says
// whether colour is on and what time it is) and thread-safe.
#ifndef SLOTKEEPER_TOOLS_SLOTCTL_RENDER_H_
#define SLOTKEEPER_TOOLS_SLOTCTL_RENDER_H_

#include <cstdint>
#include <ostream>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "base/json.h"
#include "google/protobuf/message.h"
#include "proto/model.pb.h"

namespace slotkeeper::slotctl {

enum class Tone { kPlain, kGood, kWarn, kBad, kDim };

// Whether to colour, from --color's `when` (always, never, auto): auto
// colours only a terminal, and only while NO_COLOR is unset. An unknown
// `when` is INVALID_ARGUMENT naming the flag and the value.
absl::StatusOr<bool> ColorWanted(absl::string_view when, bool stdout_is_terminal,
                                 bool no_color_set);

// Wraps `text` in ANSI colour for `tone` when `color` is on.
std::string Paint(absl::string_view text, Tone tone, bool color);

// A table whose columns are aligned by the visible width of the cells
// (colour codes do not count).
class Table {
 public:
  explicit Table(std::vector<std::string> header) : header_(std::move(header)) {}
  void AddRow(std::vector<std::string> cells) { rows_.push_back(std::move(cells)); }
  bool empty() const { return rows_.empty(); }
  // Writes the header (unless `with_header` is false) and the rows, each line
  // indented by `indent` spaces.
  void Print(std::ostream& out, int indent = 0, bool with_header = true) const;

 private:
  std::vector<std::string> header_;
  std::vector<std::vector<std::string>> rows_;
};

// Visible width of a cell: bytes outside ANSI escape sequences.
size_t VisibleWidth(absl::string_view text);

// "2026-12-25 01:02:03 UTC"; "-" for 0.
std::string FormatTime(int64_t time_ms);
// "14:05" (UTC) for timelines.
std::string FormatClock(int64_t time_ms);
// "3m ago", "2h15m ago", "in 5m", "just now"; "-" for 0.
std::string FormatAgo(int64_t time_ms, int64_t now_ms);
// A clock offset with its sign: "+3ms", "-850ms", "-6h", "+1m".
std::string FormatOffset(int64_t offset_ms);
// "0 B", "512 B", "1.5 KiB", "2.0 GiB".
std::string FormatBytes(uint64_t bytes);
// "12.5%" of done/total; "-" when total is 0.
std::string FormatPercent(uint64_t done, uint64_t total);

// "HOST/SLOT" as shown in tables; "-" for an empty reference. Enum names and
// durations come from proto/model_util.h (model::Name, model::FormatDuration).
std::string ShownSlot(const v1::SlotRef& ref);

Tone HostStateTone(v1::HostState state);
Tone StoreStateTone(v1::StoreState state);
// Failed red, waiting to retry yellow, done green; queued, running and
// cancelled plain.
Tone TaskStateTone(v1::TaskState state);

// A task's data column: "44.0 GiB/110.0 GiB 40.0%" (bytes in place over the
// bytes to copy), "44.0 GiB/unknown" while the total is not known.
std::string TaskData(const v1::TaskProgress& p);
// Time left of a running task at its measured rate: "about 45m",
// "unknown" (no total or no rate yet), "-" when not running.
std::string TaskTimeLeft(const v1::TaskInfo& t);

// The proto's JSON with snake_case field names and every field printed (so
// that scripts see stable keys), on one line when `compact`.
std::string ToJson(const google::protobuf::Message& message, bool compact = false);
using ::slotkeeper::JsonQuote;  // base/json.h
// {"error":{"code":"NOT_FOUND","message":"..."}} on one line, keys in that
// order.
std::string ErrorJson(const absl::Status& status);

}  // namespace slotkeeper::slotctl

#endif  // SLOTKEEPER_TOOLS_SLOTCTL_RENDER_H_
