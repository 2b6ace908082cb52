#include "tools/mailgen/delivery_plan.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"

namespace slotkeeper::mailgen {

PacedStream::PacedStream(double rate, absl::Duration duration) : rate_(rate) {
  if (!(rate > 0) || !std::isfinite(rate) || duration <= absl::ZeroDuration()) return;
  // The first estimate can be off by one either way (rounding): settle it
  // on Due() itself, which is what the run uses.
  const double estimate = std::ceil(absl::ToDoubleSeconds(duration) * rate);
  if (estimate > static_cast<double>(std::numeric_limits<uint32_t>::max())) return;
  count_ = static_cast<uint64_t>(estimate);
  while (count_ > 0 && Due(count_ - 1) >= duration) --count_;
  while (Due(count_) < duration) ++count_;
}

absl::Duration PacedStream::Due(uint64_t i) const {
  return absl::Nanoseconds(std::llround(static_cast<double>(i) * 1e9 / rate_));
}

DeliveryTimeline::DeliveryTimeline(double rate, double flag_rate, absl::Duration duration)
    : deliveries_(rate, duration), flags_(flag_rate, duration) {}

bool DeliveryTimeline::Next(DeliveryEvent* event) {
  const bool more_deliveries = next_delivery_ < deliveries_.count();
  const bool more_flags = next_flag_ < flags_.count();
  if (!more_deliveries && !more_flags) return false;
  if (more_deliveries &&
      (!more_flags || deliveries_.Due(next_delivery_) <= flags_.Due(next_flag_))) {
    *event = {DeliveryEvent::Kind::kDeliver, next_delivery_, deliveries_.Due(next_delivery_)};
    ++next_delivery_;
  } else {
    *event = {DeliveryEvent::Kind::kFlag, next_flag_, flags_.Due(next_flag_)};
    ++next_flag_;
  }
  return true;
}

UserPicker::UserPicker(size_t users) : cumulative_(users) {
  double total = 0;
  for (size_t i = 0; i < users; ++i) {
    total += 1.0 / std::pow(static_cast<double>(i + 1), 0.8);
    cumulative_[i] = total;
  }
  for (double& c : cumulative_) c /= total;
  if (!cumulative_.empty()) cumulative_.back() = 1.0;
}

size_t UserPicker::Pick(double u) const {
  if (cumulative_.empty()) return 0;
  auto it = std::upper_bound(cumulative_.begin(), cumulative_.end(), u);
  return std::min(static_cast<size_t>(it - cumulative_.begin()), cumulative_.size() - 1);
}

std::string MaildirUniqueName(int64_t unix_ns, int pid, uint64_t seq, absl::string_view host,
                              size_t size) {
  return absl::StrFormat("%d.M%06dP%dQ%d.%s,S=%d", unix_ns / 1000000000,
                         (unix_ns % 1000000000) / 1000, pid, seq, host, size);
}

absl::string_view MaildirKey(absl::string_view file_name) {
  const size_t info = file_name.find(":2,");
  return info == absl::string_view::npos ? file_name : file_name.substr(0, info);
}

std::string FormatDeliveryLine(const DeliveryRecord& record) {
  return absl::StrCat(record.unix_ns, " ", record.slot, " ", record.path, "\n");
}

absl::StatusOr<DeliveryRecord> ParseDeliveryLine(absl::string_view line) {
  absl::ConsumeSuffix(&line, "\n");
  std::vector<absl::string_view> fields = absl::StrSplit(line, ' ');
  if (fields.size() != 3) {
    return absl::InvalidArgumentError(absl::StrCat("delivery log line has ", fields.size(),
                                                   " fields, not 3 (ns, slot, path): \"",
                                                   absl::CHexEscape(line.substr(0, 200)), "\""));
  }
  DeliveryRecord r;
  if (!absl::SimpleAtoi(fields[0], &r.unix_ns) || r.unix_ns <= 0) {
    return absl::InvalidArgumentError(absl::StrCat("delivery log line: time \"",
                                                   absl::CHexEscape(fields[0]),
                                                   "\" is not a positive number of nanoseconds"));
  }
  // The path is exactly users/<user>/new/<name>, no component "." or "..".
  std::vector<absl::string_view> parts = absl::StrSplit(fields[2], '/');
  bool path_ok = parts.size() == 4 && parts[0] == "users" && parts[2] == "new";
  for (absl::string_view part : parts) {
    path_ok = path_ok && !part.empty() && part != "." && part != "..";
  }
  if (fields[1].empty() || !path_ok) {
    return absl::InvalidArgumentError(
        absl::StrCat("delivery log line: the path is not users/<user>/new/<name> or the slot is "
                     "empty in \"",
                     absl::CHexEscape(line.substr(0, 200)), "\""));
  }
  r.slot = std::string(fields[1]);
  r.path = std::string(fields[2]);
  return r;
}

std::vector<std::string> SlotArguments(const std::vector<std::string>& argv) {
  std::vector<std::string> slots;
  auto add = [&](absl::string_view value) {
    for (absl::string_view part : absl::StrSplit(value, ',', absl::SkipEmpty())) {
      slots.emplace_back(part);
    }
  };
  for (size_t i = 1; i < argv.size(); ++i) {
    absl::string_view arg = argv[i];
    if (arg == "--") break;
    if (!absl::ConsumePrefix(&arg, "--")) absl::ConsumePrefix(&arg, "-");
    if (arg == "slot" && i + 1 < argv.size()) {
      add(argv[++i]);
    } else if (absl::ConsumePrefix(&arg, "slot=")) {
      add(arg);
    }
  }
  return slots;
}

double NearestRank(const std::vector<double>& sorted, double p) {
  if (sorted.empty()) return 0;
  const double rank = std::ceil(p * static_cast<double>(sorted.size()));
  const size_t k = static_cast<size_t>(std::max(1.0, rank));
  return sorted[std::min(k, sorted.size()) - 1];
}

}  // namespace slotkeeper::mailgen
