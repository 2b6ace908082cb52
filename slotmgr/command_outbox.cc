#include "slotmgr/command_outbox.h"

#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "proto/event_kinds.h"

namespace slotkeeper::slotmgr {
namespace {

std::string CommandId(uint64_t seq) { return absl::StrFormat("c%012d", seq); }

// "promote s01", "start-task t7": what the command does, for the journal.
std::string Describe(const v1::Command& command) {
  switch (command.action_case()) {
    case v1::Command::kPromote:
      return "promote " + command.promote().slot();
    case v1::Command::kDemote:
      return "demote " + command.demote().slot();
    case v1::Command::kAssignReplica:
      return "assign-replica " + command.assign_replica().slot();
    case v1::Command::kStartTask:
      return "start-task " + command.start_task().task_id();
    case v1::Command::kCancelTask:
      return "cancel-task " + command.cancel_task().task_id();
    case v1::Command::kReleaseSlot:
      return "release " + command.release_slot().slot();
    case v1::Command::kFinalPull:
      return "final-pull into " + command.final_pull().target_slot();
    case v1::Command::kRestoreQuarantined:
      return "restore-quarantined into " + command.restore_quarantined().target_slot();
    case v1::Command::kReconcile:
      return "reconcile into " + command.reconcile().target_slot();
    case v1::Command::kUnblockUser:
      return "unblock " + command.unblock_user().user() + " in " + command.unblock_user().slot();
    case v1::Command::kPurgeQuarantine:
      return "purge-quarantine " + command.purge_quarantine().slot();
    default:
      return "unknown";
  }
}

}  // namespace

v1::Command MakePromote(const std::string& store, const std::string& slot, uint64_t epoch,
                        int64_t lease_ms, std::vector<v1::CopyPeer> other_copies) {
  v1::Command c;
  v1::PromoteCommand* p = c.mutable_promote();
  p->set_slot(slot);
  p->set_store(store);
  p->set_epoch(epoch);
  v1::Lease* lease = p->mutable_lease();
  lease->set_store(store);
  lease->set_slot(slot);
  lease->set_epoch(epoch);
  lease->set_duration_ms(lease_ms);
  for (v1::CopyPeer& peer : other_copies) *p->add_other_copies() = std::move(peer);
  return c;
}

v1::Command MakeDemote(const std::string& store, const std::string& slot, uint64_t epoch,
                       const std::string& reason) {
  v1::Command c;
  v1::DemoteCommand* d = c.mutable_demote();
  d->set_slot(slot);
  d->set_store(store);
  d->set_epoch(epoch);
  d->set_reason(reason);
  return c;
}

v1::Command MakeAssignReplica(const std::string& store, const std::string& slot, uint64_t epoch,
                              const std::string& master_peer_address,
                              const std::string& master_slot) {
  v1::Command c;
  v1::AssignReplicaCommand* a = c.mutable_assign_replica();
  a->set_slot(slot);
  a->set_store(store);
  a->set_epoch(epoch);
  a->set_master_peer_address(master_peer_address);
  a->set_master_slot(master_slot);
  return c;
}

void CommandOutbox::Restore(std::vector<OutboxEntry> entries, uint64_t last_seq) {
  last_seq_ = last_seq;
  outbox_.clear();
  sent_.clear();
  promotes_.clear();
  for (OutboxEntry& e : entries) {
    const std::string id = e.command().id();
    Add(id, std::move(e));
  }
}

std::string CommandOutbox::PromoteKey(const OutboxEntry& entry) {
  if (!entry.command().has_promote()) return "";
  return absl::StrCat(entry.host(), "/", entry.command().promote().slot());
}

void CommandOutbox::Add(const std::string& id, OutboxEntry entry) {
  if (std::string key = PromoteKey(entry); !key.empty()) promotes_.insert(std::move(key));
  outbox_[id] = std::move(entry);
}

std::map<std::string, OutboxEntry>::iterator CommandOutbox::Remove(
    std::map<std::string, OutboxEntry>::iterator it) {
  if (std::string key = PromoteKey(it->second); !key.empty()) {
    auto p = promotes_.find(key);
    if (p != promotes_.end()) promotes_.erase(p);
  }
  return outbox_.erase(it);
}

std::string CommandOutbox::Issue(Txn& txn, const std::string& host, v1::Command command) {
  command.set_id(CommandId(++last_seq_));
  command.set_issued_ms(clock_->NowMs());
  OutboxEntry entry;
  entry.set_host(host);
  *entry.mutable_command() = command;
  journal_->Record(txn, event_kind::kCommandQueued, v1::INFO,
                   absl::StrCat("command ", command.id(), ": ", Describe(command)), host);
  Add(command.id(), entry);
  txn.commands.push_back(std::move(entry));
  return command.id();
}

void CommandOutbox::DropStale(Txn& txn, const std::string& store) {
  for (auto it = outbox_.begin(); it != outbox_.end();) {
    const v1::Command& c = it->second.command();
    const bool stale = (c.has_promote() && c.promote().store() == store) ||
                       (c.has_assign_replica() && c.assign_replica().store() == store);
    if (stale) {
      txn.erased_commands.push_back(it->first);
      it = Remove(it);
    } else {
      ++it;
    }
  }
}

size_t CommandOutbox::DropHost(Txn& txn, const std::string& host) {
  size_t n = 0;
  for (auto it = outbox_.begin(); it != outbox_.end();) {
    if (it->second.host() != host) {
      ++it;
      continue;
    }
    txn.erased_commands.push_back(it->first);
    it = Remove(it);
    ++n;
  }
  sent_.erase(host);
  return n;
}

std::vector<v1::Command> CommandOutbox::TakeToSend(const std::string& host) {
  std::vector<v1::Command> out;
  std::set<std::string>& sent = sent_[host];
  for (const auto& [id, entry] : outbox_) {
    if (entry.host() == host && sent.insert(id).second) out.push_back(entry.command());
  }
  return out;
}

void CommandOutbox::ResendAll(const std::string& host) { sent_[host].clear(); }

absl::StatusOr<std::optional<v1::Command>> CommandOutbox::Acknowledge(Txn& txn,
                                                                      const std::string& host,
                                                                      const std::string& id) {
  auto it = outbox_.find(id);
  if (it == outbox_.end() || it->second.host() != host) {
    // Agents acknowledge re-sent commands too: an id this coordinator issued
    // and already retired is a harmless duplicate; anything else is an error.
    uint64_t n = 0;
    if (it == outbox_.end() && absl::StartsWith(id, "c") &&
        absl::SimpleAtoi(absl::string_view(id).substr(1), &n) && n > 0 && n <= last_seq_ &&
        id == CommandId(n)) {
      return std::nullopt;
    }
    return absl::NotFoundError(
        absl::StrCat("no command '", id, "' is outstanding for host ", host));
  }
  v1::Command command = it->second.command();
  Remove(it);
  txn.erased_commands.push_back(id);
  return command;
}

bool CommandOutbox::PromotePending(const std::string& host, const std::string& slot) const {
  return promotes_.count(absl::StrCat(host, "/", slot)) > 0;
}

std::set<std::string> CommandOutbox::UnacknowledgedStarts(const std::string& host) const {
  std::set<std::string> out;
  for (const auto& [id, entry] : outbox_) {
    if (entry.host() == host && entry.command().has_start_task()) {
      out.insert(entry.command().start_task().task_id());
    }
  }
  return out;
}

}  // namespace slotkeeper::slotmgr
