// The second opinion before a drive unit is declared lost (lost_units.h):
// reading the unit's slots over the peer channel.
//
// The reading is done by the coordinator itself, as another host: it calls
// ReplicaPeer.ListUsers with content digests on the unit's agent for every
// slot of the unit that holds a copy (the call ksck --verify-data makes), so
// the store marker is read and every file of every user is looked at. A
// unit is readable when every such slot answers. A dead drive (EIO), an
// unmounted filesystem or a dead host does not answer; a read-only but
// healthy filesystem, or a unit blamed by a wrong probe, does. (Asking
// another agent to read the slots would add a path from host to host; the
// agents have no such command yet.)
//
// SecondOpinionWorker runs the readings on a thread of its own, outside
// the coordinator's lock, and applies each through Coordinator::Mutate. It
// finds the units waiting from the journal (unit.second_opinion events) and
// from a full look at the hosts when it starts and every half minute (a
// coordinator restarted while units waited). Thread-safe.
#ifndef SLOTKEEPER_SLOTMGR_SECOND_OPINION_H_
#define SLOTKEEPER_SLOTMGR_SECOND_OPINION_H_

#include <cstdint>
#include <memory>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "slotmgr/coordinator.h"
#include "slotmgr/data_verifier.h"
#include "slotmgr/lost_units.h"

namespace slotkeeper::slotmgr {

// Reads the slots of `request` through `peers`.
SecondOpinion AskSecondOpinion(PeerLister& peers, const OpinionRequest& request);

class SecondOpinionWorker {
 public:
  // Neither is owned; both must outlive the worker.
  SecondOpinionWorker(Coordinator* core, PeerLister* peers) : core_(core), peers_(peers) {}
  ~SecondOpinionWorker() { Stop(); }

  // Starts the thread (once); Stop ends it (idempotent).
  void Start();
  void Stop();

  // One pass: every second opinion the coordinator waits for is asked and
  // applied. Returns how many were applied. Called by the thread; tests
  // call it directly.
  int RunOnce(bool full_look);

 private:
  void Loop();

  Coordinator* const core_;
  PeerLister* const peers_;
  uint64_t cursor_ = 0;  // the last journal event looked at (the thread's)
  absl::Mutex mu_;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::thread thread_;
};

}  // namespace slotkeeper::slotmgr

#endif  // SLOTKEEPER_SLOTMGR_SECOND_OPINION_H_
