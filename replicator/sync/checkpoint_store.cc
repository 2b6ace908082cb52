#include "replicator/sync/checkpoint_store.h"

#include <memory>
#include <utility>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "rocksdb/db.h"

namespace slotkeeper::sync {
namespace {

std::string CheckpointKey(const std::string& slot, const std::string& user) {
  return absl::StrCat("c/", slot, "\n", user);
}

}  // namespace

std::optional<CheckpointStore::Checkpoint> CheckpointStore::Get(const std::string& target_slot,
                                                                const std::string& user) {
  std::string value;
  if (!db_->Get(rocksdb::ReadOptions(), CheckpointKey(target_slot, user), &value).ok()) {
    return std::nullopt;
  }
  // instance \n generation [\n source slot \n identity]: an entry written
  // before the last two existed names neither, so it matches nothing.
  std::vector<std::string> parts = absl::StrSplit(value, '\n');
  Checkpoint c;
  if (parts.size() < 2 || !absl::SimpleAtoi(parts[1], &c.generation)) return std::nullopt;
  c.instance_id = parts[0];
  if (parts.size() >= 4) {
    c.source_slot = parts[2];
    c.replica_identity = parts[3];
  }
  return c;
}

absl::Status CheckpointStore::Put(const std::string& target_slot, const std::string& user,
                                  const Checkpoint& checkpoint) {
  rocksdb::WriteOptions options;
  // Not synced: a checkpoint lost in a crash only costs a re-walk of the
  // user (renames and hashes make that cheap); it never loses mail.
  rocksdb::Status s =
      db_->Put(options, CheckpointKey(target_slot, user),
               absl::StrCat(checkpoint.instance_id, "\n", checkpoint.generation, "\n",
                            checkpoint.source_slot, "\n", checkpoint.replica_identity));
  if (!s.ok()) return absl::InternalError("checkpoint: " + s.ToString());
  return absl::OkStatus();
}

absl::Status CheckpointStore::Forget(const std::string& target_slot, const std::string& user) {
  rocksdb::Status s = db_->Delete(rocksdb::WriteOptions(), CheckpointKey(target_slot, user));
  if (!s.ok()) return absl::InternalError("checkpoint forget: " + s.ToString());
  return absl::OkStatus();
}

absl::Status CheckpointStore::Clear(const std::string& target_slot) {
  const std::string prefix = absl::StrCat("c/", target_slot, "\n");
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions()));
  rocksdb::WriteBatch batch;
  for (it->Seek(prefix); it->Valid() && it->key().starts_with(prefix); it->Next()) {
    batch.Delete(it->key());
  }
  rocksdb::Status s = db_->Write(rocksdb::WriteOptions(), &batch);
  if (!s.ok()) return absl::InternalError("checkpoint clear: " + s.ToString());
  return absl::OkStatus();
}

}  // namespace slotkeeper::sync
