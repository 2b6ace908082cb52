// Mutation: what a decision taken outside the façade may touch, under the
// coordinator's lock, within one transaction: an operator action
// (Coordinator::Mutate), or a step of the coordinator's own (Tick declaring
// units lost, applying a second opinion).
//
// An action checks everything it needs first and changes the model only
// when it will succeed: when it returns an error, nothing is committed and
// the model must be as it found it. It notes what it changed in `txn` (the
// outbox and journal do so themselves) and sets `recompute` when health
// must be derived again before the commit.
#ifndef SLOTKEEPER_SLOTMGR_MUTATION_H_
#define SLOTKEEPER_SLOTMGR_MUTATION_H_

#include <set>
#include <string>

#include "slotmgr/command_outbox.h"
#include "slotmgr/config.h"
#include "slotmgr/health.h"
#include "slotmgr/journal.h"
#include "slotmgr/model.h"
#include "slotmgr/state.pb.h"
#include "slotmgr/task_manager.h"
#include "slotmgr/txn.h"

namespace slotkeeper::slotmgr {

struct FailoverEnv;  // promoter.h
class Promoter;      // promoter.h

struct Mutation {
  ClusterModel& model;
  CommandOutbox& outbox;
  Journal& journal;
  Txn& txn;
  const CoordinatorConfig& config;
  CoordinatorNow now;
  bool recompute = false;
  // The automation record (guards, limits, the brake; persisted when
  // txn.automation is set), the re-replication tasks, and the one-time
  // notices already journaled. Null only in tests of actions that need none.
  AutomationRecord* automation = nullptr;
  TaskManager* tasks = nullptr;
  std::set<std::string>* notices = nullptr;
  // The user index, and what promotion works on (the promoter and its
  // environment: leases, the planners' view, deriving health again). Set
  // by Coordinator::Mutate; null only in tests of actions that need none.
  UserIndex* users = nullptr;
  FailoverEnv* failover = nullptr;
  Promoter* promoter = nullptr;
};

}  // namespace slotkeeper::slotmgr

#endif  // SLOTKEEPER_SLOTMGR_MUTATION_H_
