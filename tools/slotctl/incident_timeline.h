// The timeline of an incident: its linked events (incident_scope.h) in words
// for mail users, one line per cause with its consequences folded under it.
//
// Causes are the root fault, the decisions taken about it (a failover, a
// drive unit taken out of service, the automation's brakes) and operators'
// actions; each other event goes under the latest cause before it that is
// about the same store, task, or host and drive unit (a cause takes on the
// stores and tasks of its consequences), else under the root. Within a
// cause, events that read the same apart from their store are one line
// naming every store ("stores st5 and st6"), from the first to the last
// time; causes of the same sentence in the same second (apart from their
// stores and drive units) are one line.
//
// Pure functions; thread-safe.
#ifndef SLOTKEEPER_TOOLS_SLOTCTL_INCIDENT_TIMELINE_H_
#define SLOTKEEPER_TOOLS_SLOTCTL_INCIDENT_TIMELINE_H_

#include <cstdint>
#include <set>
#include <string>
#include <vector>

#include "tools/slotctl/incident_scope.h"

namespace slotkeeper::slotctl {

// One line of the timeline: what happened (a sentence), from first_ms to
// last_ms, as `events` journal events of `kinds`.
struct TimelineLine {
  int64_t first_ms = 0;
  int64_t last_ms = 0;
  IncidentRole role = IncidentRole::kProblem;
  std::string text;
  std::set<std::string> stores;
  std::set<std::string> units;  // drive units, of causes folded into one line
  std::set<std::string> kinds;
  size_t events = 0;
};

struct TimelineCause {
  TimelineLine line;
  std::vector<TimelineLine> consequences;
};

std::vector<TimelineCause> BuildTimeline(const IncidentScope& scope);

// The event in words for mail users, naming `stores` ("store st5", "stores
// st5 and st6"; empty when the event names no store) and, for drive-unit
// events, `units` (empty: the event's own).
std::string IncidentSentence(const v1::Event& event, const std::set<std::string>& stores,
                             const std::set<std::string>& units = {});

// "store st5", "stores st5 and st6", "8 stores (st1, st2, st3, st4, st5 and
// 3 more)".
std::string StoresText(const std::set<std::string>& stores);

}  // namespace slotkeeper::slotctl

#endif  // SLOTKEEPER_TOOLS_SLOTCTL_INCIDENT_TIMELINE_H_
