// A DataPlane for tests of the agent's control side that accepts every
// command and records it as one line ("assign s01 st1@3 from H:P/s02"), so a
// test can check what the control side asked of the data path.
#ifndef SLOTKEEPER_REPLICATOR_TESTING_RECORDING_DATA_PLANE_H_
#define SLOTKEEPER_REPLICATOR_TESTING_RECORDING_DATA_PLANE_H_

#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "replicator/data_plane.h"

namespace slotkeeper::replicator::testing {

class RecordingDataPlane : public DataPlane {
 public:
  void RegisterServices(grpc::ServerBuilder&) override {}
  absl::Status Start(TaskUpdateSink*) override { return absl::OkStatus(); }
  void Stop() override {}
  absl::Status AssignReplica(const v1::AssignReplicaCommand& c) override {
    return Record(absl::StrCat("assign ", c.slot(), " ", c.store(), "@", c.epoch(), " from ",
                               c.master_peer_address(), "/", c.master_slot()));
  }
  absl::Status StartTask(const v1::StartTaskCommand& c) override {
    return Record(absl::StrCat("start ", c.task_id(), " into ", c.target_slot()));
  }
  absl::Status CancelTask(const v1::CancelTaskCommand& c) override {
    return Record(absl::StrCat("cancel ", c.task_id()));
  }
  absl::Status ReleaseSlot(const v1::ReleaseSlotCommand& c) override {
    return Record(absl::StrCat("release ", c.slot()));
  }
  void OnRoleChanged(const std::string& slot, const std::string& store, v1::SlotRole role,
                     uint64_t epoch) override {
    Record(absl::StrCat("role ", slot, " ", store, "@", epoch, " ", v1::SlotRole_Name(role)))
        .IgnoreError();
  }
  std::vector<v1::ReplicationStatus> ReplicationStatus() override { return {}; }

  std::vector<std::string> calls() const {
    absl::MutexLock lock(&mu_);
    return calls_;
  }

 private:
  absl::Status Record(std::string line) {
    absl::MutexLock lock(&mu_);
    calls_.push_back(std::move(line));
    return absl::OkStatus();
  }
  mutable absl::Mutex mu_;
  std::vector<std::string> calls_ ABSL_GUARDED_BY(mu_);
};

}  // namespace slotkeeper::replicator::testing

#endif  // SLOTKEEPER_REPLICATOR_TESTING_RECORDING_DATA_PLANE_H_
