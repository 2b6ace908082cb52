// The real DataPlane: the agent's data commands carried out by the data path
// (//replicator/sync SyncEngine). replicatord links this one.
//
// No method waits for a source: every call to one has a time limit and is
// cancelled when its work stops (sync/peer_client.h). OnRoleChanged,
// AssignReplica, StartTask and CancelTask signal and return; ReleaseSlot and
// Stop wait at most wind_down_timeout for stopped work's local disk I/O.
#ifndef SLOTKEEPER_REPLICATOR_SYNC_DATA_PLANE_H_
#define SLOTKEEPER_REPLICATOR_SYNC_DATA_PLANE_H_

#include <cstdint>
#include <memory>

#include "absl/status/statusor.h"
#include "base/clock.h"
#include "replicator/config.pb.h"
#include "replicator/data_plane.h"
#include "replicator/sync/peer_authorizer.h"
#include "replicator/sync/peer_client.h"

namespace slotkeeper::replicator {

struct SyncDataPlaneOptions {
  // Bytes per second each task or catch-up cycle receives; 0 = unlimited.
  uint64_t bandwidth_bytes_per_second = 0;
  // Time limits of the calls to a source.
  sync::PeerTimeouts peer;
  // How long ReleaseSlot and Stop wait for stopped work to end.
  absl::Duration wind_down_timeout = absl::Seconds(5);
  // Who may read the slots (not owned; null: everyone).
  const sync::PeerAuthorizer* authorizer = nullptr;
};

// Opens the data path's state under `<data_dir>/sync` for the configured
// slots. `config` and `clock` are not owned and must outlive the result.
absl::StatusOr<std::unique_ptr<DataPlane>> MakeSyncDataPlane(
    const AgentConfig& config, Clock* clock, const SyncDataPlaneOptions& options = {});

}  // namespace slotkeeper::replicator

#endif  // SLOTKEEPER_REPLICATOR_SYNC_DATA_PLANE_H_
