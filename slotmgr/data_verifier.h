// Data verification for ksck --verify-data: do all copies of a store hold
// the same users with the same content?
//
// VerifyData asks the agent of every usable copy (Queries::CopiesToVerify)
// for its users' content digests (ReplicaPeer.ListUsers, proto/peer.proto)
// and compares each copy with its store's reference copy: the master, or,
// without an answer from it, the first copy that answered. A user missing
// from a copy, or with another digest, is an error; a user that only a
// non-reference copy holds is a warning. An agent that does not answer is
// an error and makes the report say data_verified = false.
//
// Called by the Automation service outside the coordinator's lock; agents
// are asked one after another, each call within the lister's deadline.
// Thread-safe if the PeerLister is.
#ifndef SLOTKEEPER_SLOTMGR_DATA_VERIFIER_H_
#define SLOTKEEPER_SLOTMGR_DATA_VERIFIER_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "proto/automation.pb.h"
#include "proto/peer.pb.h"
#include "slotmgr/queries.h"

namespace slotkeeper::slotmgr {

// How the coordinator reads from an agent's ReplicaPeer service (data
// verification, quarantine and stranded-mail listings); tests replace it.
class PeerLister {
 public:
  virtual ~PeerLister() = default;
  // ReplicaPeer.ListUsers on the agent at `peer_address` (HOST:PORT).
  virtual absl::StatusOr<v1::ListUsersResponse> ListUsers(const std::string& peer_address,
                                                          const v1::ListUsersRequest& request) = 0;
  virtual absl::StatusOr<v1::ListQuarantineResponse> ListQuarantine(
      const std::string& peer_address, const v1::ListQuarantineRequest& request) {
    return absl::UnimplementedError("ListQuarantine");
  }
  virtual absl::StatusOr<v1::ListStrandedResponse> ListStranded(
      const std::string& peer_address, const v1::ListStrandedRequest& request) {
    return absl::UnimplementedError("ListStranded");
  }
};

// Over gRPC with the project's credentials (base/grpc_util.h); each call
// within `deadline`. Thread-safe.
std::unique_ptr<PeerLister> MakeGrpcPeerLister(absl::Duration deadline = absl::Seconds(60));

// Verifies `copies` (any order; grouped by store here), adding what it finds
// to `report->problems` and setting users_verified and data_verified.
// With `deep`, agents read every file from disk again (ListUsersRequest.deep).
void VerifyData(const std::vector<CopyToVerify>& copies, PeerLister& peers,
                v1::ConsistencyReport* report, bool deep = false);

}  // namespace slotkeeper::slotmgr

#endif  // SLOTKEEPER_SLOTMGR_DATA_VERIFIER_H_
