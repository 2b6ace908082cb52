// The incident write-up: a window of the event journal, the stores and the
// cluster's status now, turned into a status-page post for mail users
// (Markdown) and the same facts as structured fields (JSON).
//
// The post covers one incident: the first fault in the window and what is
// causally linked to it (incident_scope.h says how, and where that stops);
// its figures (time to first action, mail unavailable and users affected
// per store, time to full redundancy, data moved, what is still at risk) are
// defined in incident_summary.h; its timeline (one line per cause, its
// consequences folded under it) in incident_timeline.h.
//
// A pure function of its inputs: no clock, no I/O. Thread-safe.
#ifndef SLOTKEEPER_TOOLS_SLOTCTL_INCIDENT_H_
#define SLOTKEEPER_TOOLS_SLOTCTL_INCIDENT_H_

#include <cstdint>
#include <string>
#include <vector>

#include "proto/automation.pb.h"
#include "tools/slotctl/incident_scope.h"

namespace slotkeeper::slotctl {

struct IncidentInputs {
  // The journal of the window, in any order (sorted by seq).
  std::vector<v1::Event> events;
  // The cluster now; null when unknown (the post says so).
  const v1::ClusterStatus* status = nullptr;
  // Every store (ListStores), for user counts and their copies' data-safety
  // fields; empty when unknown.
  std::vector<v1::StoreInfo> stores;
  // The window, [since_ms, now_ms].
  int64_t since_ms = 0;
  int64_t now_ms = 0;
};

struct IncidentReport {
  std::string title;     // e.g. "Disk enclosure failure on imap4"
  std::string status;    // "Investigating", "Identified", "Monitoring", "Resolved"
  std::string markdown;  // the whole post
  std::string json;      // the same facts, one JSON object (ends with a newline)
};

IncidentReport BuildIncident(const IncidentInputs& inputs);

}  // namespace slotkeeper::slotctl

#endif  // SLOTKEEPER_TOOLS_SLOTCTL_INCIDENT_H_
