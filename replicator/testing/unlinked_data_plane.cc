#include "replicator/testing/unlinked_data_plane.h"

namespace slotkeeper::replicator::testing {
namespace {

class UnlinkedDataPlane : public DataPlane {
 public:
  void RegisterServices(grpc::ServerBuilder&) override {}
  absl::Status Start(TaskUpdateSink*) override { return absl::OkStatus(); }
  void Stop() override {}
  absl::Status AssignReplica(const v1::AssignReplicaCommand&) override { return Refuse(); }
  absl::Status StartTask(const v1::StartTaskCommand&) override { return Refuse(); }
  absl::Status CancelTask(const v1::CancelTaskCommand&) override { return Refuse(); }
  absl::Status ReleaseSlot(const v1::ReleaseSlotCommand&) override { return Refuse(); }
  void OnRoleChanged(const std::string&, const std::string&, v1::SlotRole, uint64_t) override {}
  std::vector<v1::ReplicationStatus> ReplicationStatus() override { return {}; }

 private:
  static absl::Status Refuse() {
    return absl::UnimplementedError("data path not linked in this build");
  }
};

}  // namespace

std::unique_ptr<DataPlane> MakeUnlinkedDataPlane() { return std::make_unique<UnlinkedDataPlane>(); }

}  // namespace slotkeeper::replicator::testing
