// Shared pieces of the fault tests about automation acting on wrong or
// unstable evidence (the evidence brake, reinstating a unit, flap damping,
// the hourly limits): the coordinator's automation state, events by kind
// from the journal, and what a loop device had written to it.
#ifndef SLOTKEEPER_TESTS_E2E_AUTOMATION_FAULTS_H_
#define SLOTKEEPER_TESTS_E2E_AUTOMATION_FAULTS_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "proto/automation.pb.h"
#include "tests/e2e/cluster.h"

namespace slotkeeper::testing {

absl::StatusOr<v1::AutomationState> GetAutomation(Cluster& cluster);

// The journal's events of `kind` (about `host` when not empty), oldest first.
absl::StatusOr<std::vector<v1::Event>> EventsOfKind(Cluster& cluster, const std::string& kind,
                                                    const std::string& host = "");

// Bytes written to the loop device under `fs` since it was attached
// (/sys/block/DEV/stat, sectors written x 512).
absl::StatusOr<uint64_t> BytesWrittenTo(const LoopFilesystem& fs);

// The drive unit `unit` of `host` as the coordinator sees it.
absl::StatusOr<v1::UnitInfo> UnitOf(Cluster& cluster, const std::string& host,
                                    const std::string& unit);

// True when `store` has a copy on `host`'s unit `unit` (slots du<N>s<M>).
bool HasCopyOnUnit(const v1::StoreInfo& store, const std::string& host, const std::string& unit);

}  // namespace slotkeeper::testing

#endif  // SLOTKEEPER_TESTS_E2E_AUTOMATION_FAULTS_H_
