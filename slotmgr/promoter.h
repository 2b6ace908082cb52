// Promoter: decides and issues promotions. Each heartbeat (Step) it fails
// over stores whose master has been unusable for longer than the grace (hard
// evidence or silence), finishes operator failovers and drains once the old
// lease can no longer be valid, promotes again a usable master that holds no
// lease, and asks for a final pull from a master that can still be read. It
// also carries out a promotion (Promote) and what follows its refusal
// (PromoteFailed: the next candidate at once).
//
// Safety (never two masters): a promotion is issued only when the old
// master's lease can no longer be valid on the coordinator's monotonic clock
// (LeaseTable::MayBeValid) and, while the old master may serve on failsafe
// grants, only to one of the copies that granted them (MasterWatch); the
// epoch is raised first so that every older command is stale. The argument
// in full: proto/README.md, "Failsafe".
//
// It keeps what only this process knows (when it first saw each master
// unusable, failed promotions to retry at once, final pulls on their way);
// everything else it works on is the coordinator's, lent under its lock for
// one call (FailoverEnv). Not thread-safe: the coordinator's mutex guards it.
#ifndef SLOTKEEPER_SLOTMGR_PROMOTER_H_
#define SLOTKEEPER_SLOTMGR_PROMOTER_H_

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <string>

#include "base/clock.h"
#include "proto/agent.pb.h"
#include "proto/model.pb.h"
#include "slotmgr/cluster_view.h"
#include "slotmgr/command_outbox.h"
#include "slotmgr/config.h"
#include "slotmgr/journal.h"
#include "slotmgr/lease_table.h"
#include "slotmgr/master_watch.h"
#include "slotmgr/model.h"
#include "slotmgr/txn.h"
#include "slotmgr/view_builder.h"

namespace slotkeeper::slotmgr {

// The coordinator's state a Promoter call works on.
struct FailoverEnv {
  ClusterModel& model;
  CommandOutbox& outbox;
  LeaseTable& leases;
  MasterWatch& masters;
  Journal& journal;
  AutomationRecord& automation;
  std::set<std::string>& notices;  // one-time notices already journaled
  const CoordinatorConfig& config;
  Clock* clock;
  std::function<std::optional<ClusterView>()> view;  // nullopt: inconsistent (logged)
  std::function<void(Txn&)> recompute;               // derives health again
  bool automation_running;
};

class Promoter {
 public:
  // The failover work due now (see the file comment).
  void Step(FailoverEnv& env, Txn& txn);
  // Makes `target` the master of `store` at the next epoch: demotes the old
  // master, promotes the target, points every replica at it, journals and
  // publishes the routing change. `automatic` counts it towards the rate limit.
  void Promote(FailoverEnv& env, Txn& txn, StoreRecord& store, const v1::SlotRef& target,
               const std::string& why, bool automatic);
  // The best promotion of `store` (view_builder.h), leaving out the copies
  // that refused one lately, and waiting while the old master may still
  // serve on failsafe grants (then `refused` says so).
  PromotionChoice Choose(FailoverEnv& env, const ClusterView& view, const StoreRecord& store,
                         bool force, const v1::SlotRef* wanted);
  // The target of the current promotion refused it (its pre_promote hook
  // vetoed, or the promote hook failed): back to replica, left out for a
  // lease, and the next candidate is promoted without a new grace.
  void PromoteFailed(FailoverEnv& env, Txn& txn, const std::string& host,
                     const v1::PromoteCommand& promote, const v1::CommandAck& ack);
  // The final pull of `store` ended (acknowledged, ok or not).
  void FinalPullAnswered(const std::string& store);

 private:
  bool PlannedStep(FailoverEnv& env, Txn& txn, StoreRecord& rec, std::optional<ClusterView>& view);
  // A usable master whose agent holds no lease (restarted, or fenced while
  // the coordinator was away): promoted again at the same epoch.
  void Repromote(FailoverEnv& env, Txn& txn, StoreRecord& store, const v1::Copy& master);
  // True while a failover of `store` to `target` waits for its final pull
  // (the pull is under way and within its deadline).
  bool FinalPullStep(FailoverEnv& env, Txn& txn, StoreRecord& store, const v1::SlotRef& target);

  // When this process first saw each store's master unusable, and on hard
  // evidence (monotonic; -1: not yet): the failover grace counts from these.
  struct GraceStart {
    int64_t unusable_mono = -1;
    int64_t hard_mono = -1;
  };
  std::map<std::string, GraceStart> grace_;  // by store
  // Stores whose promotion failed: the next candidate is promoted without
  // waiting for a grace again.
  std::set<std::string> retry_now_;
  // Stores whose latest promotion was automatic (it counts towards the rate
  // limit unless its target refuses it).
  std::set<std::string> automatic_;
  struct FinalPull {
    v1::SlotRef target;
    int64_t issued_mono = 0;
    bool answered = false;
  };
  std::map<std::string, FinalPull> final_pulls_;  // by store
};

}  // namespace slotkeeper::slotmgr

#endif  // SLOTKEEPER_SLOTMGR_PROMOTER_H_
