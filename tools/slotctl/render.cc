#include "tools/slotctl/render.h"

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_replace.h"
#include "absl/time/time.h"
#include "google/protobuf/util/json_util.h"
#include "proto/model_util.h"

namespace slotkeeper::slotctl {

absl::StatusOr<bool> ColorWanted(absl::string_view when, bool stdout_is_terminal,
                                 bool no_color_set) {
  if (when == "always") return true;
  if (when == "never") return false;
  if (when == "auto") return stdout_is_terminal && !no_color_set;
  return absl::InvalidArgumentError(
      absl::StrCat("--color \"", when, "\" is not always, never or auto"));
}

std::string Paint(absl::string_view text, Tone tone, bool color) {
  if (!color || tone == Tone::kPlain) return std::string(text);
  const char* code = "";
  switch (tone) {
    case Tone::kGood:
      code = "32";
      break;
    case Tone::kWarn:
      code = "33";
      break;
    case Tone::kBad:
      code = "1;31";
      break;
    case Tone::kDim:
      code = "2";
      break;
    case Tone::kPlain:
      break;
  }
  return absl::StrCat("\x1b[", code, "m", text, "\x1b[0m");
}

size_t VisibleWidth(absl::string_view text) {
  size_t width = 0;
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '\x1b') {
      while (i < text.size() && text[i] != 'm') ++i;
      continue;
    }
    // Count UTF-8 lead bytes only.
    if ((static_cast<unsigned char>(text[i]) & 0xC0) != 0x80) ++width;
  }
  return width;
}

void Table::Print(std::ostream& out, int indent, bool with_header) const {
  std::vector<size_t> widths(header_.size(), 0);
  const auto measure = [&](const std::vector<std::string>& row) {
    for (size_t i = 0; i < row.size(); ++i) {
      if (i >= widths.size()) widths.push_back(0);
      widths[i] = std::max(widths[i], VisibleWidth(row[i]));
    }
  };
  measure(header_);
  for (const auto& row : rows_) measure(row);
  const auto print_row = [&](const std::vector<std::string>& row) {
    std::string line(indent, ' ');
    for (size_t i = 0; i < row.size(); ++i) {
      line += row[i];
      if (i + 1 < row.size()) line.append(widths[i] - VisibleWidth(row[i]) + 2, ' ');
    }
    while (!line.empty() && line.back() == ' ') line.pop_back();
    out << line << "\n";
  };
  if (with_header) print_row(header_);
  for (const auto& row : rows_) print_row(row);
}

std::string FormatTime(int64_t time_ms) {
  if (time_ms == 0) return "-";
  return absl::FormatTime("%Y-%m-%d %H:%M:%S UTC", absl::FromUnixMillis(time_ms),
                          absl::UTCTimeZone());
}

std::string FormatClock(int64_t time_ms) {
  return absl::FormatTime("%H:%M", absl::FromUnixMillis(time_ms), absl::UTCTimeZone());
}

std::string FormatAgo(int64_t time_ms, int64_t now_ms) {
  if (time_ms == 0) return "-";
  int64_t delta = now_ms - time_ms;
  if (delta >= 0 && delta < 1000) return "just now";
  if (delta < 0) return absl::StrCat("in ", model::FormatDuration(-delta));
  return absl::StrCat(model::FormatDuration(delta), " ago");
}

std::string FormatOffset(int64_t offset_ms) {
  const char* sign = offset_ms < 0 ? "-" : "+";
  const int64_t magnitude = offset_ms < 0 ? -offset_ms : offset_ms;
  if (magnitude < 1000) return absl::StrCat(sign, magnitude, "ms");
  return absl::StrCat(sign, model::FormatDuration(magnitude));
}

std::string FormatBytes(uint64_t bytes) {
  static const char* kUnits[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB"};
  if (bytes < 1024) return absl::StrCat(bytes, " B");
  double v = static_cast<double>(bytes);
  int unit = 0;
  while (v >= 1024 && unit < 5) {
    v /= 1024;
    ++unit;
  }
  return absl::StrFormat("%.1f %s", v, kUnits[unit]);
}

std::string FormatPercent(uint64_t done, uint64_t total) {
  if (total == 0) return "-";
  return absl::StrFormat("%.1f%%", 100.0 * static_cast<double>(done) / total);
}

std::string TaskData(const v1::TaskProgress& p) {
  if (p.bytes_total() == 0) return absl::StrCat(FormatBytes(p.bytes_done()), "/unknown");
  return absl::StrCat(FormatBytes(p.bytes_done()), "/", FormatBytes(p.bytes_total()), " ",
                      FormatPercent(p.bytes_done(), p.bytes_total()));
}

std::string TaskTimeLeft(const v1::TaskInfo& t) {
  if (t.state() != v1::TASK_RUNNING) return "-";
  const v1::TaskProgress& p = t.progress();
  if (p.bytes_total() == 0 || p.bytes_per_second() <= 0) return "unknown";
  const uint64_t left = p.bytes_total() > p.bytes_done() ? p.bytes_total() - p.bytes_done() : 0;
  const double ms = 1000.0 * static_cast<double>(left) / p.bytes_per_second();
  return absl::StrCat("about ", model::FormatDuration(static_cast<int64_t>(ms)));
}

std::string ShownSlot(const v1::SlotRef& ref) {
  if (ref.host().empty() && ref.slot().empty()) return "-";
  return model::SlotName(ref);
}

Tone HostStateTone(v1::HostState s) {
  switch (s) {
    case v1::HOST_UP:
      return Tone::kGood;
    case v1::HOST_SUSPECT:
      return Tone::kWarn;
    default:
      return Tone::kBad;
  }
}

Tone StoreStateTone(v1::StoreState s) {
  switch (s) {
    case v1::STORE_HEALTHY:
      return Tone::kGood;
    case v1::STORE_DEGRADED:
      return Tone::kWarn;
    default:
      return Tone::kBad;
  }
}

Tone TaskStateTone(v1::TaskState s) {
  switch (s) {
    case v1::TASK_FAILED:
      return Tone::kBad;
    case v1::TASK_BACKOFF:
      return Tone::kWarn;
    case v1::TASK_DONE:
      return Tone::kGood;
    default:
      return Tone::kPlain;
  }
}

std::string ToJson(const google::protobuf::Message& message, bool compact) {
  google::protobuf::util::JsonPrintOptions options;
  options.preserve_proto_field_names = true;
  options.always_print_primitive_fields = true;
  options.add_whitespace = !compact;
  std::string out;
  google::protobuf::util::Status status =
      google::protobuf::util::MessageToJsonString(message, &out, options);
  if (!status.ok()) {
    // Only possible for malformed Any fields, which the model does not use.
    return ErrorJson(absl::InternalError(std::string(status.message())));
  }
  if (!out.empty() && out.back() == '\n') out.pop_back();
  return out;
}

std::string ErrorJson(const absl::Status& status) {
  // Written by hand so that the keys come in a stable order.
  return absl::StrCat("{\"error\":{\"code\":", JsonQuote(absl::StatusCodeToString(status.code())),
                      ",\"message\":", JsonQuote(status.message()), "}}");
}

}  // namespace slotkeeper::slotctl
