#include "tools/slotctl/event_follow.h"

#include <algorithm>

#include "absl/strings/str_cat.h"

namespace slotkeeper::slotctl {

absl::StatusOr<std::vector<v1::Event>> ReadEventWindow(ClusterClient& client,
                                                       v1::ListEventsRequest request,
                                                       uint32_t page) {
  request.set_newest_first(false);
  request.set_limit(page);
  std::vector<v1::Event> out;
  while (true) {
    absl::StatusOr<v1::ListEventsResponse> resp = client.ListEvents(request);
    if (!resp.ok()) return resp.status();
    for (const v1::Event& e : resp->events()) out.push_back(e);
    if (resp->remaining() == 0 || resp->events_size() == 0) return out;
    request.set_after_seq(out.back().seq());
  }
}

bool ShouldReconnect(const absl::Status& status) {
  switch (status.code()) {
    case absl::StatusCode::kOk:  // the coordinator ended the stream (shutdown)
    case absl::StatusCode::kUnavailable:
    case absl::StatusCode::kCancelled:
    case absl::StatusCode::kDeadlineExceeded:
    case absl::StatusCode::kAborted:
    case absl::StatusCode::kResourceExhausted:  // too many streams: later
    case absl::StatusCode::kInternal:
    case absl::StatusCode::kUnknown:
      return true;
    default:
      return false;
  }
}

namespace {

std::string Ending(const absl::Status& status) {
  if (status.ok()) return "the coordinator closed the event stream";
  return absl::StrCat("the event stream ended: ", absl::StatusCodeToString(status.code()),
                      status.message().empty() ? "" : ": ", status.message());
}

}  // namespace

absl::Status FollowEvents(ClusterClient& client, const v1::WatchEventsRequest& start,
                          const FollowIo& io) {
  // Reachable at all? A wrong address or certificate fails here, once.
  v1::ListEventsRequest probe;
  probe.set_limit(1);
  probe.set_newest_first(true);
  if (absl::StatusOr<v1::ListEventsResponse> r = client.ListEvents(probe); !r.ok()) {
    return r.status();
  }
  uint64_t last_seq = start.after_seq();
  bool printed_any = false;
  bool reconnecting = false;
  absl::Duration pause = kFirstPause;
  while (true) {
    v1::WatchEventsRequest req = start;
    if (printed_any) {
      req.set_after_seq(last_seq);
      req.set_since_ms(0);
    }
    bool output_gone = false;
    bool got_events = false;
    absl::Status ended = client.WatchEvents(req, [&](const v1::Event& e) {
      if (printed_any && e.seq() <= last_seq) return true;  // sent again: shown already
      if (reconnecting) {
        *io.err << "slotctl: reconnected; resuming "
                << (printed_any ? absl::StrCat("after event ", last_seq) : "the follow") << "\n";
        io.err->flush();
        reconnecting = false;
      }
      got_events = true;
      if (!io.print(e)) {
        output_gone = true;
        return false;
      }
      last_seq = e.seq();
      printed_any = true;
      return true;
    });
    if (output_gone) return absl::OkStatus();
    if (!ShouldReconnect(ended)) return ended;
    if (got_events) pause = kFirstPause;
    *io.err << "slotctl: " << Ending(ended) << "; reconnecting in " << absl::FormatDuration(pause)
            << (printed_any ? absl::StrCat(" to resume after event ", last_seq) : "") << "\n";
    io.err->flush();
    reconnecting = true;
    io.sleep(pause);
    pause = std::min(pause * 2, kMaxPause);
  }
}

}  // namespace slotkeeper::slotctl
