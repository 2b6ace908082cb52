// The figures of an incident, from its linked events (incident_scope.h), the
// stores (for user counts) and the cluster's status now (for what is still
// at risk).
//
// What each figure measures, all from the coordinator's journal:
//   - time to first action: from the first fault the coordinator recorded
//     (the root) to the first linked event of what it did about it
//     (IncidentRole::kAction: a final pull, a failover, a unit taken out of
//     service, ...). When the hardware actually failed is not journaled:
//     detection ends where the journal begins.
//   - per store, mail unavailable: from the store's first store.state
//     without a serving master (STORE_NO_MASTER or STORE_UNAVAILABLE,
//     journaled as CRITICAL) to its next store.state with one (DEGRADED or
//     HEALTHY, which the coordinator derives only from a master holding its
//     lease); episodes are added up. Failed over after: from the store
//     becoming unavailable (or the root, when the store never was) to its
//     store.failover. Full copies again: from the root to its last
//     store.state HEALTHY.
//   - users affected: StoreInfo.user_count of the stores whose mail was
//     unavailable, as the stores are now; unknown without the stores, and
//     for a store that holds mail (used_bytes) but has no user routed to it
//     (the coordinator routes each user name to one store: names that
//     collide across stores count for one of them only).
//     A store counts as unavailable from its no-master state on, even while
//     its old master may still serve on its lease: the coordinator cannot
//     tell whether it does.
//   - time to full redundancy: from the root to the last affected store
//     (one that left STORE_HEALTHY) healthy again; none while one is not.
//   - data moved: bytes of the linked task.done events, from their text
//     ("(N of M bytes copied)", the only place the journal carries them);
//     tasks whose text does not say are counted as unknown.
//   - still open: from ClusterStatus (stores without master, degraded,
//     copies being rebuilt, automation paused, frozen or braked) and every
//     StoreInfo's copies (users stopped by the mass-deletion guard, stranded
//     messages, a copy whose identity changed), wherever they are; to follow
//     up: files quarantined on copies of the incident's stores, hosts still
//     unreachable, drive units failed or lost, clocks still wrong. A scrub's
//     count of corrupt files is not used: it only ever grows, and on a
//     replica they are fetched again at once.
//
// Pure functions; thread-safe.
#ifndef SLOTKEEPER_TOOLS_SLOTCTL_INCIDENT_SUMMARY_H_
#define SLOTKEEPER_TOOLS_SLOTCTL_INCIDENT_SUMMARY_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "proto/automation.pb.h"
#include "tools/slotctl/incident_scope.h"

namespace slotkeeper::slotctl {

// What happened to one store named by the incident. Times are journal
// times (ms); 0 = did not happen.
struct StoreOutcome {
  std::string store;
  std::optional<uint64_t> users;     // unknown without the store's info
  int64_t unavailable_ms = 0;        // total, ended episodes
  int64_t unavailable_since_ms = 0;  // an episode not ended in the journal
  int64_t failover_ms = 0;           // the first store.failover
  int64_t failover_after_ms = -1;    // from unavailable (or the root)
  std::string failover_to;           // "host/slot"
  bool left_healthy = false;         // any store.state other than HEALTHY
  int64_t healthy_ms = 0;            // the last store.state HEALTHY
  bool healthy_now = false;          // after its last store.state
};

// Something the status says is not right yet.
struct OpenItem {
  enum Severity { kOutage, kRisk, kFollowUp } severity;
  std::string store;  // when it is about one
  std::string text;   // in words for users
};

struct IncidentSummary {
  int64_t start_ms = 0;  // the root
  int64_t first_action_ms = 0;
  std::string first_action_kind;
  std::vector<StoreOutcome> stores;        // by name
  std::optional<uint64_t> users_affected;  // of stores whose mail was unavailable
  int64_t longest_unavailable_ms = 0;
  bool redundancy_restored = false;
  int64_t redundancy_ms = 0;  // from the root, when restored
  uint64_t bytes_moved = 0;
  int tasks_done = 0;
  int tasks_bytes_unknown = 0;
  bool status_known = false;
  std::vector<OpenItem> open;
};

// `stores` may be empty (user counts unknown); `status` may be null (the
// current state unknown).
IncidentSummary Summarize(const IncidentScope& scope, const v1::ClusterStatus* status,
                          const std::vector<v1::StoreInfo>& stores);

// The bytes a task.done's text says were copied ("(N of M bytes copied)").
std::optional<uint64_t> BytesCopied(const std::string& task_done_text);

}  // namespace slotkeeper::slotctl

#endif  // SLOTKEEPER_TOOLS_SLOTCTL_INCIDENT_SUMMARY_H_
