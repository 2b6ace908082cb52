#include "replicator/sync/checkpoint_store.h"

#include <memory>
#include <utility>

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
  std::pair<std::string, std::string> parts = absl::StrSplit(value, absl::MaxSplits('\n', 1));
  Checkpoint c;
  c.instance_id = parts.first;
  if (!absl::SimpleAtoi(parts.second, &c.generation)) return std::nullopt;
  return c;
}

absl::Status CheckpointStore::Put(const std::string& target_slot, const std::string& user,
                                  const Checkpoint& checkpoint) {
  rocksdb::WriteOptions options;
  // Not synced: a checkpoint lost in a crash only costs a re-walk of the
  // user (renames and hashes make that cheap); it never loses mail.
  rocksdb::Status s = db_->Put(options, CheckpointKey(target_slot, user),
                               absl::StrCat(checkpoint.instance_id, "\n", checkpoint.generation));
  if (!s.ok()) return absl::InternalError("checkpoint: " + s.ToString());
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
