// The real DataPlane: the agent's data commands carried out by the data path
// (//replicator/sync SyncEngine). replicatord links this one.
#ifndef SLOTKEEPER_REPLICATOR_SYNC_DATA_PLANE_H_
#define SLOTKEEPER_REPLICATOR_SYNC_DATA_PLANE_H_

#include <cstdint>
#include <memory>

#include "absl/status/statusor.h"
#include "base/clock.h"
#include "replicator/config.pb.h"
#include "replicator/data_plane.h"

namespace slotkeeper::replicator {

struct SyncDataPlaneOptions {
  // Bytes per second each task or catch-up cycle receives; 0 = unlimited.
  uint64_t bandwidth_bytes_per_second = 0;
};

// Opens the data path's state under `<data_dir>/sync` for the configured
// slots. `config` and `clock` are not owned and must outlive the result.
absl::StatusOr<std::unique_ptr<DataPlane>> MakeSyncDataPlane(
    const AgentConfig& config, Clock* clock, const SyncDataPlaneOptions& options = {});

}  // namespace slotkeeper::replicator

#endif  // SLOTKEEPER_REPLICATOR_SYNC_DATA_PLANE_H_
