// Reinstating a drive unit: returning a held or lost unit to service once
// every copy on it verifies against its store, so that a false alarm costs
// a catch-up by delta instead of a full re-replication.
//
// Three steps, the first two outside the coordinator's lock:
//   1. ReinstateCandidates: the copies on the unit (every slot of it that
//      holds a store), each with its store's master to compare with.
//   2. VerifyCandidates: asks the agents (ReplicaPeer.ListUsers with
//      content digests, as ksck --verify-data does) for each copy and its
//      master, and compares them user by user. A copy verifies when it can
//      be read, holds its store (the slot's store marker), its identity did
//      not change behind its agent's back, and it holds some of the
//      master's users: it is that store's data, however stale. A copy that
//      is the master itself verifies when it can be read.
//   3. ApplyReinstate (Coordinator::Mutate): checks again, under the lock,
//      everything the verification assumed, then returns the unit to
//      ONLINE: each copy that is not the master becomes SEEDING with a
//      TASK_CATCH_UP task from the current master (the data path copies
//      only what differs, then verifies by content hash against the
//      source); when that task is done the copy is a replica again, in
//      sync. Replacement tasks placed for its lost copies are cancelled when
//      the store keeps its required copies without their targets; the
//      others go on, but no longer drop the reinstated copy when done.
//
// Safety argument: what can never happen.
//  - A stale or foreign copy serving mail: a reinstated copy is SEEDING,
//    which is never promoted and never a source, until its catch-up task
//    has copied what differs from the current master and verified every
//    file against it (TaskManager, DONE counts only when verified). A
//    catch-up that fails for good leaves the copy LOST again (on disk).
//  - A copy given back whose slot changed (emptied, replaced, another
//    filesystem): identity changes, a missing store marker or a copy that
//    holds none of the store's users do not verify, and one copy that does
//    not verify refuses the whole reinstatement (nothing changes).
//  - A store left short of copies by a cancellation: a replacement task is
//    cancelled only when the store's copies other than the task's target,
//    the reinstated one included, are at least its required copies.
//  - A unit returned while its evidence still holds, or while its host is
//    not up: refused.
//  - Reinstating what changed meanwhile: the copies verified must be the
//    copies on the unit when the change is applied, else it is refused.
// Thread-compatible; see each function.
#ifndef SLOTKEEPER_SLOTMGR_REINSTATE_H_
#define SLOTKEEPER_SLOTMGR_REINSTATE_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "proto/automation.pb.h"
#include "slotmgr/data_verifier.h"
#include "slotmgr/mutation.h"
#include "slotmgr/queries.h"

namespace slotkeeper::slotmgr {

// One copy on the unit to verify, with its store's master.
struct ReinstateCandidate {
  std::string store;
  v1::SlotRef slot;
  v1::SlotRole role = v1::SLOT_ROLE_UNSPECIFIED;
  std::string peer_address;  // of the unit's host
  bool identity_changed = false;
  v1::SlotRef master;  // empty when the store has no master
  std::string master_peer_address;
};

// The copies on `unit` of `host`, from the coordinator's reads (thread-safe,
// like Queries). INVALID_ARGUMENT for malformed names, NOT_FOUND for an
// unknown host or unit.
absl::StatusOr<std::vector<ReinstateCandidate>> ReinstateCandidates(const Queries& queries,
                                                                    const std::string& host,
                                                                    const std::string& unit);

// Verifies each candidate through `peers` (outside the lock; agents are
// asked one after another, each within the lister's deadline).
std::vector<v1::ReinstatedCopy> VerifyCandidates(const std::vector<ReinstateCandidate>& candidates,
                                                 PeerLister& peers);

// Applies (or with request.dry_run(), only plans) the reinstatement of the
// unit whose copies `verified` describes. FAILED_PRECONDITION, with
// nothing changed, when the unit cannot be reinstated (see the file
// comment); a dry run answers with the copies that did not verify instead.
// `caller` and request.set_by() are journaled with the reason.
absl::StatusOr<v1::ReinstateUnitResponse> ApplyReinstate(
    Mutation& m, const v1::ReinstateUnitRequest& request,
    const std::vector<v1::ReinstatedCopy>& verified, const std::string& caller);

}  // namespace slotkeeper::slotmgr

#endif  // SLOTKEEPER_SLOTMGR_REINSTATE_H_
