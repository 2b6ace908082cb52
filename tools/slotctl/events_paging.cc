#include "tools/slotctl/events_paging.h"

#include <algorithm>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"

namespace slotkeeper::slotctl {

absl::StatusOr<EventBound> ParseEventBound(absl::string_view text, absl::string_view what) {
  EventBound bound;
  if (!text.empty() && std::all_of(text.begin(), text.end(), absl::ascii_isdigit)) {
    if (!absl::SimpleAtoi(text, &bound.seq) || bound.seq == 0) {
      return absl::InvalidArgumentError(
          absl::StrCat(what, ": \"", text, "\" is not an event number (1 or more)"));
    }
    return bound;
  }
  absl::Time t;
  std::string err;
  if (absl::ParseTime(absl::RFC3339_full, text, &t, &err) ||
      absl::ParseTime("%Y-%m-%d %H:%M:%S UTC", text, absl::UTCTimeZone(), &t, &err) ||
      absl::ParseTime("%Y-%m-%d %H:%M:%S", text, absl::UTCTimeZone(), &t, &err)) {
    bound.time_ms = absl::ToUnixMillis(t);
    if (bound.time_ms <= 0) {
      return absl::InvalidArgumentError(absl::StrCat(what, ": \"", text, "\" is before 1970"));
    }
    return bound;
  }
  return absl::InvalidArgumentError(
      absl::StrCat(what,
                   " takes an event number (e.g. 1234) or a time (2026-12-02T04:00:00Z, or "
                   "\"2026-12-02 04:00:00\" in UTC), not \"",
                   text, "\""));
}

v1::ListEventsRequest EventsRequest(const EventsPaging& p) {
  v1::ListEventsRequest req;
  req.set_since_ms(p.since_ms);
  req.set_limit(p.limit);
  req.set_store(p.store);
  req.set_host(p.host);
  req.set_kind(p.kind);
  req.set_newest_first(!(p.after && !p.before));
  if (p.before) {
    if (p.before->is_seq()) {
      req.set_before_seq(p.before->seq);
    } else {
      req.set_until_ms(p.before->time_ms - 1);
    }
  }
  if (p.after) {
    if (p.after->is_seq()) {
      req.set_after_seq(p.after->seq);
    } else {
      req.set_since_ms(std::max(req.since_ms(), p.after->time_ms + 1));
    }
  }
  return req;
}

std::string WithThousands(uint64_t n) {
  std::string digits = absl::StrCat(n);
  std::string out;
  for (size_t i = 0; i < digits.size(); ++i) {
    if (i > 0 && (digits.size() - i) % 3 == 0) out.push_back(',');
    out.push_back(digits[i]);
  }
  return out;
}

std::string MoreEventsLine(const v1::ListEventsRequest& request,
                           const v1::ListEventsResponse& response, absl::string_view same_flags) {
  if (response.remaining() == 0 || response.events_size() == 0) return "";
  const uint64_t last = response.events(response.events_size() - 1).seq();
  const bool older = request.newest_first();
  return absl::StrCat("... ", WithThousands(response.remaining()), older ? " older" : " newer",
                      response.remaining() == 1 ? " event" : " events", "; use ",
                      older ? "--before " : "--after ", last, same_flags, " to see them");
}

}  // namespace slotkeeper::slotctl
