// Reading the journal through a ClusterClient: a whole window, page by
// page (ReadEventWindow), and `slotctl events --follow`, which prints the
// journal as it grows and survives coordinator restarts (FollowEvents).
//
// A stream that ends (the coordinator stopped: OK, UNAVAILABLE, CANCELLED
// and other transient codes) is reported on `err` and opened again after a
// pause that doubles from kFirstPause up to kMaxPause (back to kFirstPause
// once events flow again), resuming after the last event printed, so that
// nothing is missed or printed twice (events are numbered by the
// coordinator, persistently). Events at or below the last printed sequence
// number are dropped should a server send them again. A refusal that a
// retry cannot fix (PERMISSION_DENIED, INVALID_ARGUMENT, UNIMPLEMENTED, ...)
// ends the follow with that error; so does the first connection failing,
// which FollowEvents checks with a one-event ListEvents before streaming (a
// wrong address should fail at once, not retry forever).
//
// Not thread-safe; runs until `print` returns false (the output is gone) or
// a lasting error. The client and streams are not owned.
#ifndef SLOTKEEPER_TOOLS_SLOTCTL_EVENT_FOLLOW_H_
#define SLOTKEEPER_TOOLS_SLOTCTL_EVENT_FOLLOW_H_

#include <cstdint>
#include <functional>
#include <ostream>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "tools/slotctl/cluster_client.h"

namespace slotkeeper::slotctl {

inline constexpr absl::Duration kFirstPause = absl::Milliseconds(500);
inline constexpr absl::Duration kMaxPause = absl::Seconds(10);

// Every event `request` matches (its filters and time window), oldest
// first, read in pages of `page` events (ListEvents, oldest first, each
// page after the last event of the one before) until none remain: a window
// is never cut short at the server's limit on one answer.
absl::StatusOr<std::vector<v1::Event>> ReadEventWindow(ClusterClient& client,
                                                       v1::ListEventsRequest request,
                                                       uint32_t page = 100000);

// True when a stream that ended with `status` should be opened again.
bool ShouldReconnect(const absl::Status& status);

struct FollowIo {
  // Prints one event; false when the output is gone (the follow ends, OK).
  std::function<bool(const v1::Event&)> print;
  std::ostream* err = nullptr;                // reconnection notices
  std::function<void(absl::Duration)> sleep;  // the pause between attempts
};

// Follows from `start` (since_ms, or after_seq) until `io.print` returns
// false (OK) or an error that a reconnect cannot fix (returned).
absl::Status FollowEvents(ClusterClient& client, const v1::WatchEventsRequest& start,
                          const FollowIo& io);

}  // namespace slotkeeper::slotctl

#endif  // SLOTKEEPER_TOOLS_SLOTCTL_EVENT_FOLLOW_H_
