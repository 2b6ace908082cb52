// A DataPlane for tests of the agent's control side: every data command is
// refused with UNIMPLEMENTED ("data path not linked in this build") and no
// replication state is reported, so the coordinator never believes a copy is
// under way. replicatord links SyncDataPlane (sync_data_plane.h) instead.
#ifndef SLOTKEEPER_REPLICATOR_TESTING_UNLINKED_DATA_PLANE_H_
#define SLOTKEEPER_REPLICATOR_TESTING_UNLINKED_DATA_PLANE_H_

#include <memory>

#include "replicator/data_plane.h"

namespace slotkeeper::replicator::testing {

std::unique_ptr<DataPlane> MakeUnlinkedDataPlane();

}  // namespace slotkeeper::replicator::testing

#endif  // SLOTKEEPER_REPLICATOR_TESTING_UNLINKED_DATA_PLANE_H_
