// DeletionLog: which Maildir messages each slot holds (by unique name), and,
// for a slot serving as master, which of them were deleted since it became
// master: the evidence that keeps mail stranded on an old master from being
// copied back after the user deleted it on the new one.
//
// Observe() is given a user's current unique names (maildir.h) and compares
// them with those it was given last time: names gone are deletions (a
// message renamed, for a flag change or a move to another folder, keeps its
// unique name and is not one); they are logged with the time when the slot
// is master. A name that comes back leaves the log. The first observation
// of a user only records its names.
//
// Kept in the data path's RocksDB: "k/<slot>\n<user>\n<name>" (names held),
// "d/<slot>\n<user>\n<name>" -> deletion time, "ds/<slot>" -> since when the
// log runs. Thread-safe (one writer per slot and user at a time: the
// engine's maintenance thread). Does not own the database.
#ifndef SLOTKEEPER_REPLICATOR_SYNC_DELETION_LOG_H_
#define SLOTKEEPER_REPLICATOR_SYNC_DELETION_LOG_H_

#include <cstdint>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "proto/peer.pb.h"

namespace rocksdb {
class DB;
}

namespace slotkeeper::sync {

class DeletionLog {
 public:
  explicit DeletionLog(rocksdb::DB* db) : db_(db) {}

  // The slot became master at `since_ms`: the log starts afresh from then.
  absl::Status Start(const std::string& slot, int64_t since_ms);
  // Since when the slot's log runs; nullopt when it has none.
  std::optional<int64_t> Since(const std::string& slot);

  // Whether the user's names were observed before.
  bool Known(const std::string& slot, const std::string& user);
  // Records the user's current names; with `log`, those gone since the last
  // observation are logged as deleted at `now_ms`. Returns how many were
  // logged.
  absl::StatusOr<int> Observe(const std::string& slot, const std::string& user,
                              const std::set<std::string>& names, int64_t now_ms, bool log);

  // The logged deletions of the slot (of one user when `user` is not
  // empty), by user and name.
  std::vector<v1::DeletedMessage> List(const std::string& slot, const std::string& user);
  // Forgets the slot's names and log (it was released).
  absl::Status Clear(const std::string& slot);

 private:
  rocksdb::DB* const db_;
};

}  // namespace slotkeeper::sync

#endif  // SLOTKEEPER_REPLICATOR_SYNC_DELETION_LOG_H_
