#include "replicator/sync/deletion_log.h"

#include <memory>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "rocksdb/db.h"

namespace slotkeeper::sync {
namespace {

std::string KnownPrefix(const std::string& slot, const std::string& user) {
  return absl::StrCat("k/", slot, "\n", user, "\n");
}
std::string LogPrefix(const std::string& slot) { return absl::StrCat("d/", slot, "\n"); }
std::string SinceKey(const std::string& slot) { return absl::StrCat("ds/", slot); }
// Marks a user observed at least once (an empty mailbox has no names).
std::string SeenKey(const std::string& slot, const std::string& user) {
  return absl::StrCat("k/", slot, "\n", user);
}

absl::Status Written(const rocksdb::Status& s) {
  if (s.ok()) return absl::OkStatus();
  return absl::InternalError(absl::StrCat("deletion log: ", s.ToString()));
}

void DeletePrefix(rocksdb::DB* db, const std::string& prefix, rocksdb::WriteBatch* batch) {
  std::unique_ptr<rocksdb::Iterator> it(db->NewIterator(rocksdb::ReadOptions()));
  for (it->Seek(prefix); it->Valid() && it->key().starts_with(prefix); it->Next()) {
    batch->Delete(it->key());
  }
}

}  // namespace

absl::Status DeletionLog::Start(const std::string& slot, int64_t since_ms) {
  rocksdb::WriteBatch batch;
  DeletePrefix(db_, LogPrefix(slot), &batch);
  batch.Put(SinceKey(slot), absl::StrCat(since_ms));
  rocksdb::WriteOptions options;
  options.sync = true;
  return Written(db_->Write(options, &batch));
}

std::optional<int64_t> DeletionLog::Since(const std::string& slot) {
  std::string value;
  int64_t since = 0;
  if (!db_->Get(rocksdb::ReadOptions(), SinceKey(slot), &value).ok() ||
      !absl::SimpleAtoi(value, &since)) {
    return std::nullopt;
  }
  return since;
}

bool DeletionLog::Known(const std::string& slot, const std::string& user) {
  std::string value;
  return db_->Get(rocksdb::ReadOptions(), SeenKey(slot, user), &value).ok();
}

absl::StatusOr<int> DeletionLog::Observe(const std::string& slot, const std::string& user,
                                         const std::set<std::string>& names, int64_t now_ms,
                                         bool log) {
  const std::string prefix = KnownPrefix(slot, user);
  const std::string log_prefix = absl::StrCat(LogPrefix(slot), user, "\n");
  rocksdb::WriteBatch batch;
  std::set<std::string> before;
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions()));
  for (it->Seek(prefix); it->Valid() && it->key().starts_with(prefix); it->Next()) {
    before.insert(it->key().ToString().substr(prefix.size()));
  }
  int logged = 0;
  for (const std::string& name : before) {
    if (names.count(name)) continue;
    batch.Delete(prefix + name);
    if (log) {
      batch.Put(log_prefix + name, absl::StrCat(now_ms));
      ++logged;
    }
  }
  for (const std::string& name : names) {
    if (before.count(name)) continue;
    batch.Put(prefix + name, "");
    batch.Delete(log_prefix + name);  // back again: no longer deleted
  }
  batch.Put(SeenKey(slot, user), "");
  // Synced when something was logged: a lost deletion could let a stranded
  // copy of a deleted message come back.
  rocksdb::WriteOptions options;
  options.sync = logged > 0;
  if (absl::Status s = Written(db_->Write(options, &batch)); !s.ok()) return s;
  return logged;
}

std::vector<v1::DeletedMessage> DeletionLog::List(const std::string& slot,
                                                  const std::string& user) {
  std::vector<v1::DeletedMessage> out;
  const std::string prefix =
      user.empty() ? LogPrefix(slot) : absl::StrCat(LogPrefix(slot), user, "\n");
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions()));
  for (it->Seek(prefix); it->Valid() && it->key().starts_with(prefix); it->Next()) {
    const std::string rest = it->key().ToString().substr(LogPrefix(slot).size());
    const size_t nl = rest.find('\n');
    if (nl == std::string::npos) continue;
    v1::DeletedMessage& d = out.emplace_back();
    d.set_user(rest.substr(0, nl));
    d.set_maildir_key(rest.substr(nl + 1));
    int64_t when = 0;
    if (absl::SimpleAtoi(it->value().ToString(), &when)) d.set_deleted_ms(when);
  }
  return out;
}

absl::Status DeletionLog::Clear(const std::string& slot) {
  rocksdb::WriteBatch batch;
  DeletePrefix(db_, absl::StrCat("k/", slot, "\n"), &batch);
  DeletePrefix(db_, LogPrefix(slot), &batch);
  batch.Delete(SinceKey(slot));
  return Written(db_->Write(rocksdb::WriteOptions(), &batch));
}

}  // namespace slotkeeper::sync
