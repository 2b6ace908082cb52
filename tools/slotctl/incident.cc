#include "tools/slotctl/incident.h"

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "proto/event_kinds.h"
#include "tools/slotctl/incident_render.h"
#include "tools/slotctl/incident_summary.h"
#include "tools/slotctl/incident_timeline.h"

namespace slotkeeper::slotctl {
namespace {

namespace ek = event_kind;

std::string Title(const IncidentScope& scope) {
  if (scope.empty()) return "All systems operational";
  const v1::Event& root = scope.root();
  const std::string& kind = root.kind();
  const std::string where = root.host().empty() ? "" : absl::StrCat(" on ", root.host());
  if (absl::StrContains(kind, "clock")) return absl::StrCat("Clock problem", where);
  if (absl::StartsWith(kind, ek::kPrefixUnit)) return absl::StrCat("Disk enclosure failure", where);
  if (kind == ek::kHostDown || kind == ek::kHostSuspect) {
    return root.host().empty() ? "Mail server unreachable"
                               : absl::StrCat("Mail server ", root.host(), " unreachable");
  }
  if (absl::StartsWith(kind, ek::kPrefixFilesystem) || absl::StartsWith(kind, ek::kPrefixSlot) ||
      absl::StartsWith(kind, ek::kPrefixHost)) {
    return absl::StrCat("Storage errors", where);
  }
  if (absl::StartsWith(kind, ek::kPrefixAutomation)) return "Mail storage automation halted";
  if (absl::StartsWith(kind, ek::kPrefixStore) || absl::StartsWith(kind, "replication.")) {
    return absl::StrCat("Mail storage problem",
                        root.store().empty() ? "" : " in store " + root.store());
  }
  return absl::StrCat("Mail storage incident", where);
}

// The status word and its sentence, from what is still open.
void SetStatus(const IncidentScope& scope, const IncidentSummary& sum, IncidentFacts& f) {
  bool outage = false, risk = false, follow_up = false;
  for (const OpenItem& item : sum.open) {
    outage |= item.severity == OpenItem::kOutage;
    risk |= item.severity == OpenItem::kRisk;
    follow_up |= item.severity == OpenItem::kFollowUp;
  }
  if (!sum.status_known) {
    f.status = "Investigating";
    f.status_text = "We are looking into it; the current state of the service is not known yet.";
  } else if (outage) {
    f.status = "Identified";
    f.status_text =
        "Some mail cannot be delivered or read right now. We know the cause and are working on it.";
  } else if (risk) {
    f.status = "Monitoring";
    f.status_text =
        "Mail is delivered and read normally. Recovery work is still going on in the background "
        "(below); you do not need to do anything.";
  } else {
    f.status = "Resolved";
    f.status_text = scope.empty() && !follow_up
                        ? "Mail service is working normally."
                        : "Mail service is fully restored and every mailbox has all its backup "
                          "copies.";
    if (follow_up) f.status_text += " Some follow-up work remains (below).";
  }
}

}  // namespace

IncidentReport BuildIncident(const IncidentInputs& in) {
  const IncidentScope scope = ScopeIncident(in.events);
  const IncidentSummary summary = Summarize(scope, in.status, in.stores);
  const std::vector<TimelineCause> timeline = BuildTimeline(scope);
  IncidentFacts f;
  f.title = Title(scope);
  f.scope = &scope;
  f.summary = &summary;
  f.timeline = &timeline;
  f.since_ms = in.since_ms;
  f.now_ms = in.now_ms;
  SetStatus(scope, summary, f);
  if (scope.empty() && f.status == "Identified") f.title = "Mail delivery problem";
  if (scope.empty() && f.status == "Monitoring") f.title = "Mail storage recovery in progress";
  IncidentReport report;
  report.title = f.title;
  report.status = f.status;
  report.markdown = RenderIncidentMarkdown(f);
  report.json = RenderIncidentJson(f);
  return report;
}

}  // namespace slotkeeper::slotctl
