// The JSON of the status page (status_page.h): what /api/status and
// /api/incident answer, built from the coordinator's query answers.
//
// Pure functions of their inputs (no clock, no locks): thread-safe. Proto
// messages are printed with protobuf's JSON printer as `slotctl --json`
// prints them (snake_case names, every field present, 64-bit integers as
// strings, enums by their full names), so the page and scripts read the
// same keys.
#ifndef SLOTKEEPER_SLOTMGR_STATUS_JSON_H_
#define SLOTKEEPER_SLOTMGR_STATUS_JSON_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "proto/automation.pb.h"
#include "proto/model.pb.h"
#include "tools/slotctl/incident.h"

namespace slotkeeper::slotmgr {

// Everything /api/status shows, read from Queries one answer at a time.
struct StatusSnapshot {
  v1::ClusterStatus status;
  v1::ListHostsResponse hosts;
  v1::ListStoresResponse stores;
  v1::ListTasksResponse tasks;    // unfinished tasks
  std::vector<v1::Event> events;  // the latest events, in any order
};

// How far a task is and how long it may take, from its reported progress.
// `fraction` is bytes_done / bytes_total within [0, 1], or -1 when the total
// is not known; `eta_ms` is what is left at the reported rate, or -1 when
// the total or the rate is not known.
struct TaskEstimate {
  double fraction = -1;
  int64_t eta_ms = -1;
};
TaskEstimate EstimateTask(const v1::TaskProgress& progress);

// The `limit` events of highest seq, newest first.
std::vector<v1::Event> NewestEvents(std::vector<v1::Event> events, size_t limit);

// One JSON object:
//   {"headline": {"safety": "safe"|..., "title": ..., "detail": ...},
//    "status": ClusterStatus, "hosts": [HostInfo], "stores": [StoreInfo],
//    "tasks": [{"info": TaskInfo, "fraction": F, "eta_ms": N}],
//    "events": [Event, newest first]}
// The headline is slotctl status's (tools/slotctl/headline.h).
std::string StatusJson(const StatusSnapshot& snapshot);

// {"title": ..., "status": ..., "markdown": ..., "summary": the write-up's
// own JSON object (tools/slotctl/incident.h), "since_ms": N, "now_ms": N}.
std::string IncidentJson(const slotctl::IncidentReport& report, int64_t since_ms, int64_t now_ms);

// {"error": MESSAGE}, for the API's 4xx and 5xx answers.
std::string ErrorJson(const std::string& message);

}  // namespace slotkeeper::slotmgr

#endif  // SLOTKEEPER_SLOTMGR_STATUS_JSON_H_
