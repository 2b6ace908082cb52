// What `slotctl events` asks the coordinator and says about what it did not
// show: the request from the verb's flags, the bounds --before and --after
// take (a sequence number or a time), and the closing line naming how many
// more events match and how to see them. Pure; thread-safe.
#ifndef SLOTKEEPER_TOOLS_SLOTCTL_EVENTS_PAGING_H_
#define SLOTKEEPER_TOOLS_SLOTCTL_EVENTS_PAGING_H_

#include <cstdint>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "proto/automation.pb.h"

namespace slotkeeper::slotctl {

// A page boundary: an event's sequence number, or a time (coordinator
// clock, Unix ms).
struct EventBound {
  uint64_t seq = 0;
  int64_t time_ms = 0;
  bool is_seq() const { return seq != 0; }
};

// "1234" (a sequence number, > 0), or a time in RFC 3339
// ("2026-12-02T04:00:00Z", offsets allowed) or as slotctl prints it
// ("2026-12-02 04:00:00 UTC", the " UTC" optional). `what` names the flag in the error.
absl::StatusOr<EventBound> ParseEventBound(absl::string_view text, absl::string_view what);

struct EventsPaging {
  int64_t since_ms = 0;  // 0: no lower time bound
  uint32_t limit = 0;    // 0: the server's default
  std::optional<EventBound> before;
  std::optional<EventBound> after;
  std::string store, host, kind;
};

// The request: newest first unless only --after is given (then the page is
// the oldest events after it, to page forward). A time bound is exclusive:
// --before T asks for events up to T - 1 ms, --after T from T + 1 ms.
v1::ListEventsRequest EventsRequest(const EventsPaging& paging);

// The closing line when `response.remaining` > 0, e.g. "... 4,213 older
// events; use --before 1234 to see them" (the seq of the last event
// shown), with `same_flags` (" --since 1h --store st1": the filters the
// count is for) after the bound; empty when nothing remains. `request` is
// what was asked.
std::string MoreEventsLine(const v1::ListEventsRequest& request,
                           const v1::ListEventsResponse& response, absl::string_view same_flags);

// 4213 -> "4,213".
std::string WithThousands(uint64_t n);

}  // namespace slotkeeper::slotctl

#endif  // SLOTKEEPER_TOOLS_SLOTCTL_EVENTS_PAGING_H_
