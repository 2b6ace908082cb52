// Declaring drive units lost: when a unit becomes due, the second opinion
// asked before it is declared, and the declaration itself.
//
// A unit is due to be declared lost when it has failed for longer than
// replace_after (FAILED with replace_at passed), when it kept flapping for
// that long (flap-suppressed with replace_at passed: replace_at is not reset
// while it is suppressed), or when its host has been DOWN for that long.
// A due unit is not declared at once: the coordinator first reads its slots
// over the peer channel (a second opinion: ReplicaPeer.ListUsers with
// digests, from the coordinator, see second_opinion.h), because the
// evidence against it may be wrong. A unit whose slots can be read is not
// lost: its masters fail over as usual, its copies are not replaced, and it
// is held out of service until an operator reinstates it (reinstate.h);
// while its evidence lasts it is read again every replace_after, and
// declared lost once it cannot be read. A flapping unit is declared lost
// even when it can be read: what makes it lost is how often it fails.
//
// Every step asks automation_guard.h first (the evidence brake, a pause of
// the host, the hourly limit), when the unit becomes due and again when the
// second opinion arrives. Functions over a Mutation, under the
// coordinator's lock; thread-compatible.
#ifndef SLOTKEEPER_SLOTMGR_LOST_UNITS_H_
#define SLOTKEEPER_SLOTMGR_LOST_UNITS_H_

#include <string>
#include <utility>
#include <vector>

#include "proto/model.pb.h"
#include "slotmgr/mutation.h"

namespace slotkeeper::slotmgr {

// The coordinator's tick: asks a second opinion on every unit that became
// due (journaled), unless it is held back.
void RequestLostDeclarations(Mutation& m);

// Declares `unit` of `host` lost now: every copy on it becomes LOST (to be
// replaced), with events. Sets m.recompute.
void DeclareUnitLost(Mutation& m, HostRecord& host, v1::UnitInfo& unit, const std::string& why);

// What reading a due unit's slots found.
struct SecondOpinion {
  std::string host;
  std::string unit;
  bool readable = false;
  std::string detail;  // what was read, or what failed
};

// Applies a second opinion: holds the unit (readable, not flapping) or
// declares it lost, if it is still due and nothing holds automation back
// now. True when the unit was held or declared; false when the opinion
// was no longer wanted (recovered, declared, or held back again).
bool ApplySecondOpinion(Mutation& m, const SecondOpinion& opinion);

// What to read for the second opinions `host` waits for: per due unit, the
// slots on it that hold a copy, with their stores.
struct OpinionRequest {
  std::string host;
  std::string unit;
  std::string peer_address;
  std::vector<std::pair<std::string, std::string>> slots;  // slot, store
};
std::vector<OpinionRequest> OpinionsWanted(const v1::HostInfo& host);

}  // namespace slotkeeper::slotmgr

#endif  // SLOTKEEPER_SLOTMGR_LOST_UNITS_H_
