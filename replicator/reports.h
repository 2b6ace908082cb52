// What the agent tells the coordinator about itself, built from the newest
// state when it is sent (proto/agent.proto): the inventory at registration
// and the health report of a session. Pure functions.
#ifndef SLOTKEEPER_REPLICATOR_REPORTS_H_
#define SLOTKEEPER_REPLICATOR_REPORTS_H_

#include <cstdint>
#include <string>
#include <vector>

#include "proto/agent.pb.h"
#include "replicator/config.pb.h"
#include "replicator/health_monitor.h"

namespace slotkeeper::replicator {

// Everything a report carries besides the health snapshot.
struct ReportContext {
  uint64_t report_id = 0;
  int64_t agent_time_ms = 0;
  int64_t echo_coordinator_time_ms = 0;  // 0: no ping yet
  int64_t echo_held_ms = 0;
  bool include_contents = false;
  std::vector<v1::FailsafePromise> failsafe_promises;
};

// Builds a complete HealthReport.
v1::HealthReport BuildReport(const HealthSnapshot& health,
                             const std::vector<v1::Lease>& leases_held,
                             const std::vector<v1::ReplicationStatus>& replication,
                             const ReportContext& context);

// The inventory sent at registration.
v1::HostInventory BuildInventory(const AgentConfig& config, const HealthSnapshot& health,
                                 const std::string& peer_address, const std::string& agent_version);

}  // namespace slotkeeper::replicator

#endif  // SLOTKEEPER_REPLICATOR_REPORTS_H_
