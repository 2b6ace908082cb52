// MasterWatch: what the coordinator knows about its masters beyond the
// model, from what agents report, and the failsafe rule built on it.
//
//   - Serving: a master serves while its agent reports holding its lease
//     (HealthReport.leases_held); NoteReport sets SlotInfo.serving and
//     serving_on_failsafe and journals when a master stops or starts serving
//     and when it goes on or off failsafe grants. A promote not yet
//     acknowledged is not judged (the report may predate it).
//   - Refused promotions: a target that refused or failed a promote is not
//     chosen again for a while (Refuse / IsRefused).
//   - Re-promotion: a master that is usable but not serving is promoted
//     again at most once per interval (RepromoteDue / NoteRepromoted).
//   - Failsafe evidence: the witnesses each store's master last reported
//     (persisted in StoreRecord.master_witnesses), the promises each host
//     reports, and since when each host's session has been up. From them,
//     MayBeOnFailsafe says whether an old master may still serve on
//     failsafe grants, in which case no other copy may be promoted unless
//     it is one of the witnesses (which refuse promotion while they promise;
//     proto/README.md, "Failsafe").
//
// Times are the coordinator's monotonic clock. Thread-compatible: the
// coordinator calls it under its mutex; the Journal and config are not
// owned.
#ifndef SLOTKEEPER_SLOTMGR_MASTER_WATCH_H_
#define SLOTKEEPER_SLOTMGR_MASTER_WATCH_H_

#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "proto/agent.pb.h"
#include "slotmgr/command_outbox.h"
#include "slotmgr/config.h"
#include "slotmgr/journal.h"
#include "slotmgr/model.h"
#include "slotmgr/txn.h"

namespace slotkeeper::slotmgr {

class MasterWatch {
 public:
  MasterWatch(Journal* journal, const CoordinatorConfig* config)
      : journal_(journal), config_(config) {}

  // `host` registered (a new session) at `mono`; its promises are unknown
  // until it reports.
  void SessionStarted(const std::string& host, int64_t mono);
  // `host` fell silent: its session no longer proves anything.
  void HostSilent(const std::string& host);

  // Applies a report of `host` (whose info is `h`): serving flags of its
  // master slots, witnesses of the stores it masters, its promises.
  // Journals what changed and notes changed records in `txn`. True when
  // health must be derived again.
  bool NoteReport(Txn& txn, ClusterModel& model, const std::string& host, v1::HostInfo& h,
                  const v1::HealthReport& report, const CommandOutbox& outbox);
  // A promote of `slot` was acknowledged as applied: it serves.
  void PromoteApplied(Txn& txn, ClusterModel& model, const v1::SlotRef& slot);

  // `slot` refused or failed a promotion of `store`: not chosen again for
  // `for_ms`.
  void Refuse(const std::string& store, const v1::SlotRef& slot, int64_t mono, int64_t for_ms);
  bool IsRefused(const std::string& store, const v1::SlotRef& slot, int64_t mono) const;
  // The slots of `store` refused now.
  std::vector<v1::SlotRef> Refused(const std::string& store, int64_t mono) const;

  // Whether a not-serving master `slot` may be promoted again now.
  bool RepromoteDue(const v1::SlotRef& slot, int64_t mono) const;
  void NoteRepromoted(const v1::SlotRef& slot, int64_t mono);

  // Whether the master of `store` that the coordinator is replacing may
  // still serve on failsafe grants, so that promoting `target` now could
  // make two masters. False when `target` is one of its witnesses (it
  // refuses while it promises), when it reported none (it cannot ask), or
  // when a witness has been connected for longer than a failsafe lease
  // (lease plus margin) and reports no promise for the store (the master
  // needs every witness's grant).
  bool MayBeOnFailsafe(const StoreRecord& store, const v1::SlotRef& target, int64_t mono) const;

 private:
  bool PromisesFor(const std::string& host, const std::string& store) const;

  Journal* const journal_;
  const CoordinatorConfig* const config_;
  std::map<std::string, int64_t> session_since_;                         // by host
  std::map<std::string, std::vector<v1::FailsafePromise>> promises_;     // by host
  std::map<std::string, std::map<std::string, int64_t>> refused_until_;  // store -> slot
  std::map<std::string, int64_t> repromoted_;                            // by "HOST/SLOT"
  std::set<std::string> not_serving_;                                    // "HOST/SLOT"
  std::set<std::string> on_failsafe_;                                    // stores
};

}  // namespace slotkeeper::slotmgr

#endif  // SLOTKEEPER_SLOTMGR_MASTER_WATCH_H_
