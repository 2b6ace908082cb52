// BlockedUsers: the users whose sync into a slot an agent reported as
// stopped by the data path's mass-deletion guard (the source lost most of a
// user's mail; the replica keeps it), so that each is journaled once when
// it starts ("replication.blocked", a WARNING) and once when it ends
// ("replication.unblocked").
//
// Health reports carry the complete list for each slot; a task update only
// names users it found, so it only adds. Not persisted: a restarted
// coordinator journals the users still blocked again.
//
// Thread-compatible: the coordinator calls it under its mutex.
#ifndef SLOTKEEPER_SLOTMGR_BLOCKED_USERS_H_
#define SLOTKEEPER_SLOTMGR_BLOCKED_USERS_H_

#include <map>
#include <set>
#include <string>

#include "google/protobuf/repeated_field.h"
#include "slotmgr/journal.h"
#include "slotmgr/txn.h"

namespace slotkeeper::slotmgr {

class BlockedUsers {
 public:
  // `users` of `store` are blocked in `host`/`slot`; with `complete`, no
  // other user is.
  void Note(Journal& journal, Txn& txn, const std::string& host, const std::string& slot,
            const std::string& store, const google::protobuf::RepeatedPtrField<std::string>& users,
            bool complete);
  bool empty() const { return blocked_.empty(); }

 private:
  std::map<std::string, std::set<std::string>> blocked_;  // "HOST/SLOT" -> users
};

}  // namespace slotkeeper::slotmgr

#endif  // SLOTKEEPER_SLOTMGR_BLOCKED_USERS_H_
