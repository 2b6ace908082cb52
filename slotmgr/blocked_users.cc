#include "slotmgr/blocked_users.h"

#include "absl/strings/str_cat.h"
#include "proto/event_kinds.h"

namespace slotkeeper::slotmgr {

void BlockedUsers::Note(Journal& journal, Txn& txn, const std::string& host,
                        const std::string& slot, const std::string& store,
                        const google::protobuf::RepeatedPtrField<std::string>& users,
                        bool complete) {
  const std::string where = absl::StrCat(host, "/", slot);
  auto it = blocked_.find(where);
  if (users.empty() && (it == blocked_.end() || !complete)) return;
  std::set<std::string>& known = blocked_[where];
  for (const std::string& user : users) {
    if (!known.insert(user).second) continue;
    journal.Record(
        txn, event_kind::kReplicationBlocked, v1::WARNING,
        absl::StrCat("sync of user ", user, " of store ", store, " into ", where,
                     " stopped by the mass-deletion guard: the source lost most of its "
                     "mail; the replica keeps it. Check the master before anything else"),
        host, slot, store);
  }
  if (complete) {
    const std::set<std::string> now(users.begin(), users.end());
    for (auto u = known.begin(); u != known.end();) {
      if (now.count(*u) > 0) {
        ++u;
        continue;
      }
      journal.Record(
          txn, event_kind::kReplicationUnblocked, v1::INFO,
          absl::StrCat("sync of user ", *u, " of store ", store, " into ", where, " runs again"),
          host, slot, store);
      u = known.erase(u);
    }
  }
  if (known.empty()) blocked_.erase(where);
}

}  // namespace slotkeeper::slotmgr
