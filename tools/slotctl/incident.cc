#include "tools/slotctl/incident.h"

#include <algorithm>
#include <set>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/time.h"
#include "proto/event_kinds.h"
#include "proto/model_util.h"
#include "tools/slotctl/render.h"

namespace slotkeeper::slotctl {
namespace {

// The last dot-separated word of a kind: "store.failover" -> "failover".
absl::string_view Verb(absl::string_view kind) {
  size_t dot = kind.rfind('.');
  return dot == absl::string_view::npos ? kind : kind.substr(dot + 1);
}

bool IsSerious(const v1::Event& e) {
  return e.severity() == v1::WARNING || e.severity() == v1::CRITICAL;
}

std::string Date(int64_t ms) {
  return absl::FormatTime("%Y-%m-%d", absl::FromUnixMillis(ms), absl::UTCTimeZone());
}

// A few stores by name, then "and N more".
std::string SomeNames(const std::set<std::string>& names, size_t max = 5) {
  std::vector<std::string> shown;
  for (const std::string& n : names) {
    if (shown.size() == max) break;
    shown.push_back(n);
  }
  std::string out = absl::StrJoin(shown, ", ");
  if (names.size() > max) absl::StrAppend(&out, " and ", names.size() - max, " more");
  return out;
}

std::string Title(const v1::Event* first_problem) {
  if (first_problem == nullptr) return "Mail storage maintenance";
  const std::string& kind = first_problem->kind();
  const std::string& host = first_problem->host();
  const std::string where = host.empty() ? "" : absl::StrCat(" on ", host);
  if (absl::StrContains(kind, "clock")) return absl::StrCat("Clock problem", where);
  if (absl::StartsWith(kind, event_kind::kPrefixUnit))
    return absl::StrCat("Disk enclosure failure", where);
  if (kind == event_kind::kHostDown || kind == event_kind::kHostSuspect) {
    return host.empty() ? "Mail server unreachable"
                        : absl::StrCat("Mail server ", host, " unreachable");
  }
  if (absl::StartsWith(kind, event_kind::kPrefixFilesystem) ||
      absl::StartsWith(kind, event_kind::kPrefixSlot) ||
      absl::StartsWith(kind, event_kind::kPrefixHost)) {
    return absl::StrCat("Storage errors", where);
  }
  if (absl::StartsWith(kind, event_kind::kPrefixAutomation))
    return "Mail storage automation halted";
  if (absl::StartsWith(kind, event_kind::kPrefixStore))
    return absl::StrCat("Mail delivery problem", where);
  return absl::StrCat("Mail storage incident", where);
}

const char* RoleLabel(IncidentRole role) {
  switch (role) {
    case IncidentRole::kProblem:
      return "Problem";
    case IncidentRole::kAction:
      return "Action";
    case IncidentRole::kRecovery:
      return "Recovered";
    case IncidentRole::kIgnored:
      break;
  }
  return "";
}

// Stranded mail and operators' data-safety actions, in words for mail users;
// "" for other kinds.
std::string DataSafetySentence(const v1::Event& e) {
  const std::string& kind = e.kind();
  const std::string store = absl::StrCat("store ", e.store());
  if (kind == event_kind::kStoreStrandedMail) {
    return absl::StrCat("Some mail of ", store,
                        " delivered shortly before the move is still only on the previous "
                        "copy; it is kept safe and will be copied back.");
  }
  if (kind == event_kind::kStoreStrandedCleared) {
    return absl::StrCat("The held-back mail of ", store, " is back in place.");
  }
  if (kind == event_kind::kStoreReconcile) {
    return absl::StrCat("Engineers started copying the held-back mail of ", store, " back.");
  }
  if (kind == event_kind::kQuarantineRestore) {
    return absl::StrCat("Engineers restored set-aside mail in ", store, ".");
  }
  if (kind == event_kind::kUserUnblock) {
    return absl::StrCat("Engineers checked a mailbox in ", store,
                        " and let its backup copies follow it again.");
  }
  return "";
}

// The event in words for mail users, for the kinds the coordinator emits
// (slotmgr's journal); anything else reads as the coordinator's own text.
std::string Sentence(const v1::Event& e) {
  const std::string& kind = e.kind();
  const std::string server = absl::StrCat("mail server ", e.host().empty() ? "?" : e.host());
  const std::string store = absl::StrCat("store ", e.store());
  if (kind == event_kind::kUnitFailed) {
    return absl::StrCat("A disk enclosure", e.unit().empty() ? "" : " (" + e.unit() + ")", " on ",
                        server, " failed.");
  }
  if (kind == event_kind::kUnitLost) {
    return absl::StrCat("The failed disk enclosure on ", server,
                        " was taken out of service; its mailboxes are being copied elsewhere.");
  }
  if (kind == event_kind::kUnitOnline)
    return absl::StrCat("The disk enclosure on ", server, " is back.");
  if (kind == event_kind::kFilesystemState || kind == event_kind::kSlotUnusable ||
      kind == event_kind::kSlotUsable) {
    return IsSerious(e) ? absl::StrCat("Part of the storage on ", server, " stopped working.")
                        : absl::StrCat("Storage on ", server, " is working again.");
  }
  if (kind == event_kind::kHostDown) return absl::StrCat("The ", server, " stopped responding.");
  if (kind == event_kind::kHostSuspect) return absl::StrCat("The ", server, " is not responding.");
  if (kind == event_kind::kHostUp) return absl::StrCat("The ", server, " is responding again.");
  if (kind == event_kind::kHostClockSkewed) {
    return absl::StrCat("The clock of ", server,
                        " is wrong; it will not take over mail delivery until it is fixed.");
  }
  if (kind == event_kind::kStoreState && !e.store().empty()) {
    switch (e.severity()) {
      case v1::CRITICAL:
        return absl::StrCat("Mailboxes in ", store, " could not receive or serve mail.");
      case v1::WARNING:
        return absl::StrCat("Mailboxes in ", store, " lost one of their backup copies.");
      default:
        return absl::StrCat("Mailboxes in ", store, " have all their copies again.");
    }
  }
  if (kind == event_kind::kStoreFailover) {
    return absl::StrCat("Mail delivery for ", store, " was moved to an up-to-date copy.");
  }
  if (kind == event_kind::kStoreFailoverRefused || kind == event_kind::kStoreFailoverRateLimited) {
    return absl::StrCat("Moving mail delivery for ", store,
                        " was held back as a safety measure; engineers are reviewing it.");
  }
  if (kind == event_kind::kTaskCreated)
    return absl::StrCat("Started a new backup copy of ", store, ".");
  if (kind == event_kind::kTaskStarted)
    return absl::StrCat("Copying the mailboxes of ", store, ".");
  if (kind == event_kind::kTaskDone) {
    return absl::StrCat("A new backup copy of ", store, " is complete and verified.");
  }
  if (kind == event_kind::kTaskFailed || kind == event_kind::kTaskRetry) {
    return absl::StrCat("Copying the mailboxes of ", store, " was interrupted; it is retried.");
  }
  if (std::string safety = DataSafetySentence(e); !safety.empty()) return safety;
  if (kind == event_kind::kCopyDropped) {
    return absl::StrCat("The copy of ", store, " on the failed hardware was retired.");
  }
  if (kind == event_kind::kAutomationFrozen) {
    return "Automatic recovery stopped itself as a safety measure; engineers are in control.";
  }
  if (kind == event_kind::kAutomationPaused) return "Engineers paused automatic recovery.";
  if (kind == event_kind::kAutomationResumed) {
    return "Automatic recovery resumed.";
  }
  if (!e.text().empty()) return e.text();
  return absl::StrCat(kind, e.host().empty() ? "" : " on " + e.host(),
                      e.store().empty() ? "" : " for " + store);
}

}  // namespace

IncidentRole ClassifyEvent(const v1::Event& e) {
  static const std::set<absl::string_view> kRoutine = {
      event_kind::kHostRegistered, event_kind::kHostReregistered,    event_kind::kCoordinatorStart,
      event_kind::kStoreCreated,   event_kind::kStoreCopyRecognized, event_kind::kQuarantinePurge};
  // Operators' data-safety actions: journaled as warnings, but what was done
  // about a problem rather than a problem.
  static const std::set<absl::string_view> kOperatorActions = {
      event_kind::kStoreReconcile, event_kind::kQuarantineRestore, event_kind::kUserUnblock};
  static const std::set<absl::string_view> kRecoveryVerbs = {
      "up",       "online",   "healthy",  "cleared", "done",   "recovered", "resumed",
      "unfrozen", "complete", "restored", "dropped", "usable", "clock_ok",  "unblocked"};
  const std::string& kind = e.kind();
  const absl::string_view verb = Verb(kind);
  if (kRoutine.count(kind) > 0 || absl::StartsWith(kind, event_kind::kPrefixCommand) ||
      absl::StartsWith(kind, event_kind::kPrefixInventory)) {
    return e.severity() == v1::CRITICAL ? IncidentRole::kProblem : IncidentRole::kIgnored;
  }
  if (kOperatorActions.count(kind) > 0) return IncidentRole::kAction;
  if (kind == event_kind::kStoreStrandedMail) return IncidentRole::kProblem;
  if (kind == event_kind::kStoreStrandedCleared) return IncidentRole::kRecovery;
  if (absl::EndsWith(verb, "refused") || absl::EndsWith(verb, "failed") ||
      absl::EndsWith(verb, "rate_limited") || absl::EndsWith(verb, "mismatch")) {
    return IncidentRole::kProblem;
  }
  if (kRecoveryVerbs.count(verb) > 0) return IncidentRole::kRecovery;
  // Generic transitions (event_kind::kStoreState, event_kind::kFilesystemState,
  // event_kind::kHostConditions): bad news is serious, a return to normal is not.
  if (verb == "state" || verb == "conditions") {
    return IsSerious(e) ? IncidentRole::kProblem : IncidentRole::kRecovery;
  }
  if (absl::StartsWith(kind, event_kind::kStoreFailover) ||
      absl::StartsWith(kind, event_kind::kPrefixTask) ||
      absl::StartsWith(kind, event_kind::kPrefixPlacement) ||
      absl::StartsWith(kind, event_kind::kPrefixAutomation) || absl::StrContains(kind, "promote") ||
      absl::StrContains(kind, "drain") || kind == event_kind::kUnitLost) {
    return IncidentRole::kAction;
  }
  return IsSerious(e) ? IncidentRole::kProblem : IncidentRole::kIgnored;
}

IncidentReport BuildIncident(const std::vector<v1::Event>& events_in,
                             const v1::ClusterStatus* status, int64_t since_ms, int64_t now_ms) {
  std::vector<v1::Event> events = events_in;
  std::stable_sort(events.begin(), events.end(),
                   [](const v1::Event& a, const v1::Event& b) { return a.seq() < b.seq(); });

  const v1::Event* first_problem = nullptr;
  std::set<std::string> affected_stores, failed_over, hosts;
  int64_t first_ms = 0;
  for (const v1::Event& e : events) {
    IncidentRole role = ClassifyEvent(e);
    if (role == IncidentRole::kIgnored) continue;
    if (first_ms == 0) first_ms = e.time_ms();
    if (role == IncidentRole::kProblem) {
      if (first_problem == nullptr) first_problem = &e;
      if (!e.host().empty()) hosts.insert(e.host());
    }
    if (!e.store().empty() && role != IncidentRole::kRecovery) affected_stores.insert(e.store());
    if (e.kind() == event_kind::kStoreFailover && !e.store().empty()) {
      failed_over.insert(e.store());
    }
  }

  IncidentReport report;
  int unavailable = 0, degraded = 0;
  bool recovering = false;
  if (status != nullptr) {
    for (const v1::StoreInfo& s : status->troubled_stores()) {
      if (s.state() == v1::STORE_NO_MASTER || s.state() == v1::STORE_UNAVAILABLE) ++unavailable;
      if (s.state() == v1::STORE_DEGRADED) ++degraded;
    }
    const v1::RecoveryProgress& r = status->recovery();
    recovering = r.stores_recovering() > 0 || r.tasks_running() > 0 || r.tasks_queued() > 0;
  }

  std::string status_text;
  if (first_ms == 0 && unavailable == 0 && degraded == 0 && !recovering) {
    report.title = "All systems operational";
    report.status = "Resolved";
    report.markdown = absl::StrCat("# ", report.title, "\n\nNo incidents between ",
                                   FormatTime(since_ms), " and ", FormatTime(now_ms), ".\n");
    return report;
  }
  report.title = Title(first_problem);
  if (status == nullptr) {
    report.status = "Investigating";
    status_text = "We are looking into it; the current state of the service is not known yet.";
  } else if (unavailable > 0) {
    report.status = "Identified";
    status_text = absl::StrCat("Some mailboxes (", unavailable,
                               " storage group(s)) cannot receive or serve mail right now. "
                               "We know the cause and are working on it.");
  } else if (degraded > 0 || recovering) {
    report.status = "Monitoring";
    status_text =
        "Mail is being delivered and read normally. We are rebuilding backup copies in the "
        "background; you do not need to do anything.";
  } else {
    report.status = "Resolved";
    status_text = "Mail service is fully restored and every mailbox has all its backup copies.";
  }

  std::string md =
      absl::StrCat("# ", report.title, "\n\n", "**Status: ", report.status, "** — ", status_text,
                   "\n\n_Last updated ", FormatTime(now_ms), "._\n\n## What happened\n\n");
  const std::string host_text =
      hosts.empty()
          ? std::string("one of our mail storage servers")
          : absl::StrCat(hosts.size() == 1 ? "mail storage server " : "mail storage servers ",
                         absl::StrJoin(hosts, ", "));
  absl::StrAppend(&md, "Starting at ", FormatClock(first_ms), " UTC on ", Date(first_ms),
                  ", a problem on ", host_text, " affected ");
  if (affected_stores.empty()) {
    absl::StrAppend(&md, "mail storage; no mailbox store was reported affected.");
  } else {
    absl::StrAppend(&md, affected_stores.size(), " mailbox store(s) (", SomeNames(affected_stores),
                    ").");
  }
  if (!failed_over.empty()) {
    absl::StrAppend(&md, " Mail delivery for ", failed_over.size(),
                    " of them was moved to an up-to-date copy on another server; users of those "
                    "stores may have seen delays or brief errors while it moved.");
  }
  absl::StrAppend(&md, "\n\n## Timeline (UTC)\n\n");

  // Consecutive events of one kind are folded into one line.
  for (size_t i = 0; i < events.size();) {
    const v1::Event& e = events[i];
    const IncidentRole role = ClassifyEvent(e);
    if (role == IncidentRole::kIgnored) {
      ++i;
      continue;
    }
    size_t j = i + 1;
    std::set<std::string> stores;
    if (!e.store().empty()) stores.insert(e.store());
    while (j < events.size() && events[j].kind() == e.kind() &&
           events[j].severity() == e.severity()) {
      if (!events[j].store().empty()) stores.insert(events[j].store());
      ++j;
    }
    const size_t n = j - i;
    const int64_t end_ms = events[j - 1].time_ms();
    std::string when = FormatClock(e.time_ms());
    if (n > 1 && FormatClock(end_ms) != when) absl::StrAppend(&when, "–", FormatClock(end_ms));
    std::string sentence = Sentence(e);
    if (!sentence.empty() && !absl::EndsWith(sentence, ".")) sentence.push_back('.');
    absl::StrAppend(&md, "- **", when, "** ", RoleLabel(role), ": ", sentence);
    if (n > 1) {
      stores.erase(e.store());
      absl::StrAppend(&md, " Same for ", n - 1, " more",
                      stores.empty() ? "" : absl::StrCat(" (", SomeNames(stores), ")"), ".");
    }
    absl::StrAppend(&md, "\n");
    i = j;
  }

  absl::StrAppend(&md, "\n## Still in progress\n\n");
  if (status == nullptr) {
    absl::StrAppend(&md, "- The current state could not be read; an update will follow.\n");
  } else {
    bool any = false;
    if (unavailable > 0) {
      any = true;
      absl::StrAppend(&md, "- ", unavailable,
                      " mailbox store(s) have no working primary copy yet; mail for their users "
                      "is delayed, not lost, and will be delivered once it is restored.\n");
    }
    if (recovering) {
      any = true;
      const v1::RecoveryProgress& r = status->recovery();
      absl::StrAppend(&md, "- Rebuilding backup copies of ", r.stores_recovering(),
                      " mailbox store(s): ", FormatPercent(r.users_done(), r.users_total()),
                      " of mailboxes copied");
      if (r.eta_ms() >= 0)
        absl::StrAppend(&md, ", about ", model::FormatDuration(r.eta_ms()), " left");
      absl::StrAppend(&md, ".\n");
    } else if (degraded > 0) {
      any = true;
      absl::StrAppend(&md, "- ", degraded,
                      " mailbox store(s) still have fewer backup copies than usual.\n");
    }
    const v1::AutomationState& a = status->automation();
    if (a.mode() == v1::AUTOMATION_PAUSED || a.mode() == v1::AUTOMATION_FROZEN) {
      any = true;
      absl::StrAppend(&md, "- Automatic recovery is on hold while engineers work on it",
                      a.reason().empty() ? "" : absl::StrCat(" (", a.reason(), ")"), ".\n");
    }
    if (!any) absl::StrAppend(&md, "- Nothing: the service is back to normal.\n");
  }
  absl::StrAppend(&md, "\n_", events.size(), " journal events from ", FormatTime(since_ms), " to ",
                  FormatTime(now_ms), "; times are UTC._\n");
  report.markdown = std::move(md);
  return report;
}

}  // namespace slotkeeper::slotctl
