// The incident post's two forms: Markdown for a status page and JSON with
// the same facts as fields. Pure functions; thread-safe.
#ifndef SLOTKEEPER_TOOLS_SLOTCTL_INCIDENT_RENDER_H_
#define SLOTKEEPER_TOOLS_SLOTCTL_INCIDENT_RENDER_H_

#include <cstdint>
#include <string>
#include <vector>

#include "tools/slotctl/incident_scope.h"
#include "tools/slotctl/incident_summary.h"
#include "tools/slotctl/incident_timeline.h"

namespace slotkeeper::slotctl {

// Everything a post says, gathered by BuildIncident.
struct IncidentFacts {
  std::string title;
  std::string status;       // "Investigating", "Identified", "Monitoring", "Resolved"
  std::string status_text;  // one sentence after it
  const IncidentScope* scope = nullptr;
  const IncidentSummary* summary = nullptr;
  const std::vector<TimelineCause>* timeline = nullptr;
  int64_t since_ms = 0;
  int64_t now_ms = 0;
};

std::string RenderIncidentMarkdown(const IncidentFacts& facts);
std::string RenderIncidentJson(const IncidentFacts& facts);

// "+0:04", "+12:30", "+1:02:03": `ms` after the start, in whole seconds.
std::string FormatOffsetFromStart(int64_t ms);
// "4 s", "2 min 10 s", "1 h 5 min": a span for readers, to the nearest
// second (then minute).
std::string FormatSpan(int64_t ms);
// "13:50:07"; with the date when it is not `day_of_ms`'s day.
std::string FormatSecond(int64_t ms, int64_t day_of_ms);

}  // namespace slotkeeper::slotctl

#endif  // SLOTKEEPER_TOOLS_SLOTCTL_INCIDENT_RENDER_H_
