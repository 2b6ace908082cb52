// CommandOutbox: the commands the coordinator issued to agents and that are
// not yet acknowledged.
//
// Owns the command id counter, the outbox (by id; persisted through the
// Txn, `cmd/<id>`, so a restarted coordinator sends them again), and, per
// host, which ids went out on the host's current session (not persisted: a
// new session gets everything again). Ids are "c" + 12 digits in issue
// order, so the outbox, ordered by id, re-sends in issue order.
//
// Thread-compatible: the coordinator calls it under its mutex. The Clock and
// Journal are not owned and must outlive the outbox.
#ifndef SLOTKEEPER_SLOTMGR_COMMAND_OUTBOX_H_
#define SLOTKEEPER_SLOTMGR_COMMAND_OUTBOX_H_

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "base/clock.h"
#include "proto/agent.pb.h"
#include "slotmgr/journal.h"
#include "slotmgr/state.pb.h"
#include "slotmgr/txn.h"

namespace slotkeeper::slotmgr {

// The commands the coordinator sends, built one way everywhere.
// A promotion to master of `store` in `slot` at `epoch`, with a lease and
// the store's other copies (the failsafe witnesses).
v1::Command MakePromote(const std::string& store, const std::string& slot, uint64_t epoch,
                        int64_t lease_ms, std::vector<v1::CopyPeer> other_copies = {});
// The master of `store` in `slot` steps down (fencing) for `epoch`.
v1::Command MakeDemote(const std::string& store, const std::string& slot, uint64_t epoch,
                       const std::string& reason);
// `slot` holds a replica of `store` that follows `master_slot` on the agent
// at `master_peer_address` from `epoch` on.
v1::Command MakeAssignReplica(const std::string& store, const std::string& slot, uint64_t epoch,
                              const std::string& master_peer_address,
                              const std::string& master_slot);

class CommandOutbox {
 public:
  CommandOutbox(Clock* clock, Journal* journal) : clock_(clock), journal_(journal) {}

  // Restores the persisted outbox and counter (Coordinator::Create).
  void Restore(std::vector<OutboxEntry> entries, uint64_t last_seq);
  // The number of the last command issued (persisted in MetaRecord).
  uint64_t last_seq() const { return last_seq_; }
  size_t size() const { return outbox_.size(); }

  // Issues `command` to `host`: gives it the next id and the issue time,
  // keeps it until acknowledged, notes it in `txn` and journals
  // "command.queued". Returns the id.
  std::string Issue(Txn& txn, const std::string& host, v1::Command command);

  // Drops the unacknowledged promotions and replica assignments of `store`
  // (stale once a new epoch begins; demotions stay: they fence).
  void DropStale(Txn& txn, const std::string& store);
  // Retires every command queued for `host` (a host being forgotten), noted
  // in `txn`; returns how many.
  size_t DropHost(Txn& txn, const std::string& host);

  // Commands for `host` not yet sent on its current session; marks them sent.
  std::vector<v1::Command> TakeToSend(const std::string& host);
  // A new session of `host`: everything unacknowledged goes out again.
  void ResendAll(const std::string& host);

  // Retires the command `id` that `host` acknowledged (noted in `txn`) and
  // returns it. nullopt for a harmless duplicate: an id this coordinator
  // issued and already retired. NOT_FOUND for any other id, or one issued
  // to another host (nothing changes).
  absl::StatusOr<std::optional<v1::Command>> Acknowledge(Txn& txn, const std::string& host,
                                                         const std::string& id);

  // Ids of the tasks whose StartTask to `host` is still unacknowledged.
  std::set<std::string> UnacknowledgedStarts(const std::string& host) const;
  // Whether a Promote of `slot` to `host` is still unacknowledged.
  bool PromotePending(const std::string& host, const std::string& slot) const;

 private:
  Clock* const clock_;
  Journal* const journal_;
  uint64_t last_seq_ = 0;
  // Every change of outbox_ goes through these two, which keep promotes_.
  void Add(const std::string& id, OutboxEntry entry);
  std::map<std::string, OutboxEntry>::iterator Remove(
      std::map<std::string, OutboxEntry>::iterator it);
  static std::string PromoteKey(const OutboxEntry& entry);  // "host/slot", "" if no promote

  std::map<std::string, OutboxEntry> outbox_;          // by command id
  std::map<std::string, std::set<std::string>> sent_;  // host -> ids sent on its session
  // "host/slot" of each unacknowledged promote (PromotePending is on the
  // report path: it must not scan the outbox).
  std::multiset<std::string> promotes_;
};

}  // namespace slotkeeper::slotmgr

#endif  // SLOTKEEPER_SLOTMGR_COMMAND_OUTBOX_H_
