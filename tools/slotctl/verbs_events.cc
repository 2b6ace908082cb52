// The `events` verb: pages of the journal, newest first, and --follow.
#include <algorithm>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "proto/model_util.h"
#include "tools/slotctl/event_follow.h"
#include "tools/slotctl/events_paging.h"
#include "tools/slotctl/render.h"
#include "tools/slotctl/verbs.h"

namespace slotkeeper::slotctl {
namespace {

std::string EventSubject(const v1::Event& e) {
  std::vector<std::string> parts;
  if (!e.store().empty()) parts.push_back(absl::StrCat("store=", e.store()));
  if (!e.host().empty()) {
    std::string where = e.host();
    if (!e.unit().empty()) absl::StrAppend(&where, "/", e.unit());
    if (!e.slot().empty()) absl::StrAppend(&where, "/", e.slot());
    parts.push_back(where);
  }
  if (!e.task().empty()) parts.push_back(absl::StrCat("task=", e.task()));
  return absl::StrJoin(parts, " ");
}

// One line per event, its sequence number first (what --before and --after
// take).
void PrintEventLine(Invocation& inv, const v1::Event& e) {
  if (inv.json) {
    inv.out() << ToJson(e, /*compact=*/true) << "\n";
    inv.out().flush();
    return;
  }
  Tone tone = e.severity() == v1::CRITICAL
                  ? Tone::kBad
                  : (e.severity() == v1::WARNING ? Tone::kWarn : Tone::kPlain);
  // Fixed widths rather than a Table: a follow prints lines as they come.
  const std::string seq = absl::StrCat(e.seq());
  const std::string severity = model::Name(e.severity());
  const std::string kind = e.kind();
  const std::string subject = EventSubject(e);
  inv.out() << std::string(seq.size() < 6 ? 6 - seq.size() : 0, ' ') << seq << "  "
            << FormatTime(e.time_ms()) << "  " << Paint(severity, tone, inv.color)
            << std::string(severity.size() < 8 ? 8 - severity.size() : 0, ' ') << "  " << kind
            << std::string(kind.size() < 18 ? 18 - kind.size() : 0, ' ') << "  " << subject
            << std::string(subject.size() < 24 ? 24 - subject.size() : 0, ' ') << "  " << e.text()
            << "\n";
  inv.out().flush();
}

absl::Status RunFollow(Invocation& inv, const ParsedArgs& args, int64_t since_ms) {
  for (const char* f : {"store", "host", "kind", "limit", "before", "after"}) {
    if (args.Has(f)) {
      return UsageError(
          "--follow shows every event: it does not take --store, --host, --kind, --limit, "
          "--before or --after");
    }
  }
  v1::WatchEventsRequest req;
  req.set_since_ms(since_ms);
  FollowIo io;
  io.print = [&](const v1::Event& e) {
    PrintEventLine(inv, e);
    return inv.out().good();
  };
  io.err = &inv.err();
  io.sleep = inv.env->sleep ? inv.env->sleep : [](absl::Duration d) { absl::SleepFor(d); };
  return FollowEvents(inv.Client(), req, io);
}

// The paging flags; the filters the remaining count is for go to
// `same_flags`, to repeat in the closing line.
absl::StatusOr<EventsPaging> PagingFrom(const Invocation& inv, const ParsedArgs& args,
                                        std::string* same_flags) {
  EventsPaging p;
  for (const char* f : {"before", "after"}) {
    if (!args.Has(f)) continue;
    absl::StatusOr<EventBound> b = ParseEventBound(args.Get(f), absl::StrCat("--", f));
    if (!b.ok()) return UsageError(b.status().message());
    (std::string(f) == "before" ? p.before : p.after) = *b;
  }
  // A page anchored by --before or --after has no time window unless --since
  // is given; a first page shows the last hour.
  if (args.Has("since") || (!p.before && !p.after)) {
    const std::string since_text = args.Get("since", "1h");
    absl::StatusOr<absl::Duration> since = ParseDuration(since_text, "--since");
    if (!since.ok()) return UsageError(since.status().message());
    p.since_ms = inv.NowMs() - absl::ToInt64Milliseconds(*since);
    absl::StrAppend(same_flags, " --since ", since_text);
  }
  if (args.Has("limit")) {
    absl::StatusOr<int> n = ParseIntInRange(args.Get("limit"), 1, 100000, "--limit");
    if (!n.ok()) return UsageError(n.status().message());
    p.limit = static_cast<uint32_t>(*n);
    absl::StrAppend(same_flags, " --limit ", *n);
  }
  for (const char* f : {"store", "host", "kind"}) {
    if (!args.Has(f)) continue;
    if (absl::Status s = ValidateName(args.Get(f), absl::StrCat("--", f)); !s.ok()) {
      return UsageError(s.message());
    }
    absl::StrAppend(same_flags, " --", f, " ", args.Get(f));
  }
  p.store = args.Get("store");
  p.host = args.Get("host");
  p.kind = args.Get("kind");
  return p;
}

}  // namespace

absl::Status RunEvents(Invocation& inv, const ParsedArgs& args) {
  if (args.Has("follow")) {
    absl::StatusOr<absl::Duration> since = ParseDuration(args.Get("since", "1h"), "--since");
    if (!since.ok()) return UsageError(since.status().message());
    return RunFollow(inv, args, inv.NowMs() - absl::ToInt64Milliseconds(*since));
  }
  std::string same_flags;
  absl::StatusOr<EventsPaging> paging = PagingFrom(inv, args, &same_flags);
  if (!paging.ok()) return paging.status();
  const v1::ListEventsRequest req = EventsRequest(*paging);
  absl::StatusOr<v1::ListEventsResponse> resp = inv.Client().ListEvents(req);
  if (!resp.ok()) return resp.status();
  if (inv.json) {
    // Machine readers get the page in chronological order, whichever end
    // it was read from; `remaining` says how many more match.
    v1::ListEventsResponse chrono = *resp;
    if (req.newest_first()) {
      std::reverse(chrono.mutable_events()->begin(), chrono.mutable_events()->end());
    }
    inv.out() << ToJson(chrono) << "\n";
    return absl::OkStatus();
  }
  if (resp->events_size() == 0) {
    inv.out() << "No events"
              << (paging->since_ms != 0 ? absl::StrCat(" since ", FormatTime(paging->since_ms))
                                        : std::string(" in that range"))
              << ".\n";
  }
  for (const v1::Event& e : resp->events()) PrintEventLine(inv, e);
  if (std::string more = MoreEventsLine(req, *resp, same_flags); !more.empty()) {
    inv.out() << more << "\n";
  }
  return absl::OkStatus();
}

}  // namespace slotkeeper::slotctl
