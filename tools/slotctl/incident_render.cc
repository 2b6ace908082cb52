#include "tools/slotctl/incident_render.h"

#include <map>
#include <set>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/time/time.h"
#include "tools/slotctl/render.h"

namespace slotkeeper::slotctl {
namespace {

std::string Date(int64_t ms) {
  return absl::FormatTime("%Y-%m-%d", absl::FromUnixMillis(ms), absl::UTCTimeZone());
}

// The first action in a few words.
std::string ActionName(const std::string& kind) {
  static const std::map<std::string, std::string> kNames = {
      {"store.final_pull", "saving the latest mail before switching"},
      {"store.failover", "moving mail delivery"},
      {"store.failover_waits_failsafe", "moving mail delivery, held until safe"},
      {"unit.second_opinion", "checking the failed hardware"},
      {"unit.lost", "taking the hardware out of service"},
      {"task.created", "starting a new backup copy"},
      {"copy.lost", "writing off a copy"},
  };
  auto it = kNames.find(kind);
  return it == kNames.end() ? kind : it->second;
}

// The offset of `ms` from `start_ms` in whole seconds of the clock, so that
// "02:12:15 (+0:04)" agrees with a start at 02:12:11.
std::string ClockOffset(int64_t ms, int64_t start_ms) {
  return FormatOffsetFromStart((ms / 1000 - start_ms / 1000) * 1000);
}

std::string WhenLine(const TimelineLine& line, int64_t start_ms) {
  std::string when = FormatSecond(line.first_ms, start_ms);
  std::string offset = ClockOffset(line.first_ms, start_ms);
  if (line.last_ms / 1000 != line.first_ms / 1000) {
    absl::StrAppend(&when, "–", FormatSecond(line.last_ms, start_ms));
    absl::StrAppend(&offset, "–", ClockOffset(line.last_ms, start_ms));
  }
  return absl::StrCat(when, " (", offset, ")");
}

// Stores whose mail is unavailable at the end of the journal.
std::set<std::string> Ongoing(const IncidentSummary& s) {
  std::set<std::string> out;
  for (const StoreOutcome& o : s.stores) {
    if (o.unavailable_since_ms != 0) out.insert(o.store);
  }
  return out;
}

// The opening paragraph: what happened, to whom, for how long.
std::string Overview(const IncidentFacts& f) {
  const IncidentSummary& s = *f.summary;
  const TimelineCause& root = f.timeline->front();
  std::string what = root.line.text;
  if (!what.empty() && what[0] >= 'A' && what[0] <= 'Z') {
    what[0] = static_cast<char>(what[0] - 'A' + 'a');
  }
  std::string md = absl::StrCat("At ", FormatSecond(s.start_ms, s.start_ms), " UTC on ",
                                Date(s.start_ms), ", ", what);
  std::set<std::string> unavailable, failed_over;
  for (const StoreOutcome& o : s.stores) {
    if (o.unavailable_ms > 0 || o.unavailable_since_ms != 0) unavailable.insert(o.store);
    if (o.failover_ms != 0) failed_over.insert(o.store);
  }
  if (unavailable.empty()) {
    absl::StrAppend(&md, " No mail became unavailable.");
  } else {
    const std::set<std::string> ongoing = Ongoing(s);
    absl::StrAppend(&md, " Mail for ", StoresText(unavailable),
                    s.users_affected ? absl::StrCat(" (", *s.users_affected, " users)") : "",
                    " could not be delivered or read",
                    ongoing.empty()
                        ? absl::StrCat(" for up to ", FormatSpan(s.longest_unavailable_ms), ".")
                        : absl::StrCat("; for ", StoresText(ongoing), " it still cannot."));
  }
  if (!failed_over.empty()) {
    absl::StrAppend(&md, " Mail delivery for ", StoresText(failed_over),
                    failed_over.size() == 1 ? " was moved to an up-to-date copy on another server."
                                            : " was moved to up-to-date copies on other servers.");
  }
  if (s.redundancy_restored) {
    absl::StrAppend(&md, " Every affected mailbox had all its backup copies again after ",
                    FormatSpan(s.redundancy_ms), ".");
  }
  return md + "\n\n";
}

std::string FiguresTable(const IncidentFacts& f) {
  const IncidentSummary& s = *f.summary;
  std::string md = "| | |\n| --- | --- |\n";
  absl::StrAppend(&md, "| First sign of the problem | ", FormatSecond(s.start_ms, s.start_ms),
                  " UTC |\n");
  absl::StrAppend(&md, "| Time to first action | ",
                  s.first_action_ms == 0 ? std::string("none recorded")
                                         : absl::StrCat(FormatSpan(s.first_action_ms - s.start_ms),
                                                        " (", ActionName(s.first_action_kind), ")"),
                  " |\n");
  absl::StrAppend(&md, "| Users whose mail was unavailable | ",
                  s.users_affected ? absl::StrCat(*s.users_affected) : std::string("unknown"),
                  " |\n");
  absl::StrAppend(
      &md, "| Longest time mail was unavailable | ",
      Ongoing(s).empty() ? FormatSpan(s.longest_unavailable_ms) : std::string("not over yet"),
      " |\n");
  absl::StrAppend(
      &md, "| Time to full redundancy | ",
      s.redundancy_restored ? FormatSpan(s.redundancy_ms) : std::string("not reached yet"), " |\n");
  std::string data = s.tasks_done == 0 ? std::string("none")
                                       : absl::StrCat(FormatBytes(s.bytes_moved), " in ",
                                                      s.tasks_done, " new copies");
  if (s.tasks_bytes_unknown > 0) {
    absl::StrAppend(&data, " (", s.tasks_bytes_unknown, " of them did not say how much: unknown)");
  }
  absl::StrAppend(&md, "| Data copied | ", data, " |\n\n");
  return md;
}

std::string StoresTable(const IncidentSummary& s) {
  if (s.stores.empty()) return "";
  std::string md =
      "| Store | Users | Mail unavailable | Failed over after | Now served from | All copies again "
      "|\n| --- | --- | --- | --- | --- | --- |\n";
  bool users_unknown = false;
  for (const StoreOutcome& o : s.stores) {
    users_unknown |= !o.users.has_value();
    std::string unavailable = o.unavailable_ms > 0 ? FormatSpan(o.unavailable_ms) : "-";
    if (o.unavailable_since_ms != 0) {
      unavailable = absl::StrCat(o.unavailable_ms > 0 ? unavailable + ", and " : "", "since ",
                                 FormatSecond(o.unavailable_since_ms, s.start_ms));
    }
    const std::string healthy = !o.left_healthy ? "-"
                                : o.healthy_now ? ClockOffset(o.healthy_ms, s.start_ms)
                                                : std::string("not yet");
    absl::StrAppend(&md, "| ", o.store, " | ", o.users ? absl::StrCat(*o.users) : "?", " | ",
                    unavailable, " | ",
                    o.failover_after_ms >= 0 ? FormatSpan(o.failover_after_ms) : "-", " | ",
                    o.failover_to.empty() ? "-" : o.failover_to.substr(0, o.failover_to.find('/')),
                    " | ", healthy, " |\n");
  }
  if (users_unknown) {
    md +=
        "\n_Users \"?\": not known (no user is routed to the store although it holds mail, or the "
        "stores could not be read)._\n";
  }
  return md + "\n";
}

std::string Timeline(const IncidentFacts& f) {
  const int64_t start = f.summary->start_ms;
  std::string md = "## Timeline (UTC)\n\n";
  for (const TimelineCause& cause : *f.timeline) {
    absl::StrAppend(&md, "- **", WhenLine(cause.line, start), "** ", cause.line.text, "\n");
    for (const TimelineLine& line : cause.consequences) {
      absl::StrAppend(&md, "  - ", WhenLine(line, start), " ", line.text, "\n");
    }
  }
  return md + "\n";
}

std::string StillOpen(const IncidentFacts& f) {
  std::string md = "## Still open\n\n";
  if (!f.summary->status_known) {
    return md + "- The current state could not be read; an update will follow.\n\n";
  }
  if (f.summary->open.empty()) return md + "- Nothing: the service is back to normal.\n\n";
  for (const OpenItem& item : f.summary->open) {
    absl::StrAppend(&md, "- ", item.severity == OpenItem::kFollowUp ? "Follow-up: " : "", item.text,
                    "\n");
  }
  return md + "\n";
}

std::string Footer(const IncidentFacts& f) {
  const IncidentScope& scope = *f.scope;
  std::string md = absl::StrCat("_", scope.window_events, " journal events from ",
                                FormatTime(f.since_ms), " to ", FormatTime(f.now_ms), "; ",
                                scope.events.size(), " of them belong to this incident");
  if (scope.unlinked_problems > 0) {
    absl::StrAppend(&md, "; ", scope.unlinked_problems,
                    " other problem(s) in the window are not linked to it");
  }
  absl::StrAppend(&md,
                  ". Times are when our systems recorded each step; \"+m:ss\" counts from the "
                  "first sign of the problem._\n");
  return md;
}

}  // namespace

std::string FormatOffsetFromStart(int64_t ms) {
  const char* sign = ms < 0 ? "-" : "+";
  int64_t s = (ms < 0 ? -ms : ms) / 1000;
  if (s >= 3600) return absl::StrFormat("%s%d:%02d:%02d", sign, s / 3600, s / 60 % 60, s % 60);
  return absl::StrFormat("%s%d:%02d", sign, s / 60, s % 60);
}

std::string FormatSpan(int64_t ms) {
  const int64_t s = ((ms < 0 ? 0 : ms) + 500) / 1000;  // to the nearest second
  if (s < 60) return absl::StrCat(s, " s");
  if (s < 3600)
    return s % 60 == 0 ? absl::StrCat(s / 60, " min") : absl::StrCat(s / 60, " min ", s % 60, " s");
  return s / 60 % 60 == 0 ? absl::StrCat(s / 3600, " h")
                          : absl::StrCat(s / 3600, " h ", s / 60 % 60, " min");
}

std::string FormatSecond(int64_t ms, int64_t day_of_ms) {
  const absl::Time t = absl::FromUnixMillis(ms);
  if (Date(ms) != Date(day_of_ms)) {
    return absl::FormatTime("%Y-%m-%d %H:%M:%S", t, absl::UTCTimeZone());
  }
  return absl::FormatTime("%H:%M:%S", t, absl::UTCTimeZone());
}

std::string RenderIncidentMarkdown(const IncidentFacts& f) {
  std::string md = absl::StrCat("# ", f.title, "\n\n**Status: ", f.status, "** — ", f.status_text,
                                "\n\n_Last updated ", FormatTime(f.now_ms), "._\n\n");
  if (f.scope->empty()) {
    return md + absl::StrCat("No incidents between ", FormatTime(f.since_ms), " and ",
                             FormatTime(f.now_ms), ".\n\n", StillOpen(f));
  }
  absl::StrAppend(&md, "## Summary\n\n", Overview(f), FiguresTable(f), StoresTable(*f.summary),
                  Timeline(f), StillOpen(f), Footer(f));
  return md;
}

}  // namespace slotkeeper::slotctl
