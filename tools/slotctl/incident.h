// The incident write-up: a window of the event journal (and, when known, the
// cluster's status now) turned into a status-page post in Markdown, in words
// for mail users rather than operators.
//
// A pure function of its inputs: no clock, no I/O. Thread-safe.
#ifndef SLOTKEEPER_TOOLS_SLOTCTL_INCIDENT_H_
#define SLOTKEEPER_TOOLS_SLOTCTL_INCIDENT_H_

#include <cstdint>
#include <string>
#include <vector>

#include "proto/automation.pb.h"

namespace slotkeeper::slotctl {

// How an event reads in the post.
enum class IncidentRole {
  kIgnored,   // routine (registrations, heartbeats): left out
  kProblem,   // something broke or was detected
  kAction,    // what the system (or an operator) did about it
  kRecovery,  // something came back
};

// Classifies by the event's kind ("host.down", "store.failover",
// "task.done", ...) and severity.
IncidentRole ClassifyEvent(const v1::Event& event);

struct IncidentReport {
  std::string title;     // e.g. "Disk enclosure failure on imap4"
  std::string status;    // "Investigating", "Identified", "Monitoring", "Resolved"
  std::string markdown;  // the whole post
};

// `events` in journal order (others are sorted by seq); `status` may be
// null when the current state is unknown; the window is [since_ms, now_ms].
IncidentReport BuildIncident(const std::vector<v1::Event>& events, const v1::ClusterStatus* status,
                             int64_t since_ms, int64_t now_ms);

}  // namespace slotkeeper::slotctl

#endif  // SLOTKEEPER_TOOLS_SLOTCTL_INCIDENT_H_
