#include "replicator/sync/quarantine_index.h"

#include <memory>

#include "absl/strings/str_cat.h"
#include "rocksdb/db.h"

namespace slotkeeper::sync {
namespace {

std::string SlotPrefix(const std::string& slot) { return absl::StrCat("q/", slot, "\n"); }

std::string ItemKey(const std::string& slot, const std::string& id) {
  return absl::StrCat(SlotPrefix(slot), id);
}

absl::Status Written(const rocksdb::Status& s) {
  if (s.ok()) return absl::OkStatus();
  return absl::InternalError(absl::StrCat("quarantine index: ", s.ToString()));
}

bool IsUnreconciledStranded(const QuarantineRecord& r) {
  return r.item().reason() == kReasonStranded && !r.reconciled();
}

}  // namespace

void QuarantineIndex::CountLocked(const QuarantineRecord& record, int sign,
                                  QuarantineTotals* totals) {
  totals->items += sign;
  totals->bytes += sign * static_cast<int64_t>(record.item().size());
  if (IsUnreconciledStranded(record)) totals->stranded += sign;
}

QuarantineTotals& QuarantineIndex::TotalsLocked(const std::string& slot) {
  auto it = totals_.find(slot);
  if (it != totals_.end()) return it->second;
  QuarantineTotals& totals = totals_[slot];
  const std::string prefix = SlotPrefix(slot);
  std::unique_ptr<rocksdb::Iterator> iter(db_->NewIterator(rocksdb::ReadOptions()));
  for (iter->Seek(prefix); iter->Valid() && iter->key().starts_with(prefix); iter->Next()) {
    QuarantineRecord r;
    if (r.ParseFromArray(iter->value().data(), static_cast<int>(iter->value().size()))) {
      CountLocked(r, +1, &totals);
    }
  }
  return totals;
}

absl::Status QuarantineIndex::Put(const std::string& slot, const QuarantineRecord& record) {
  absl::MutexLock lock(&mu_);
  QuarantineTotals& totals = TotalsLocked(slot);
  const std::string key = ItemKey(slot, record.item().id());
  std::string old_value;
  QuarantineRecord old;
  if (db_->Get(rocksdb::ReadOptions(), key, &old_value).ok() && old.ParseFromString(old_value)) {
    CountLocked(old, -1, &totals);
  }
  absl::Status s = Written(db_->Put(rocksdb::WriteOptions(), key, record.SerializeAsString()));
  if (s.ok()) {
    CountLocked(record, +1, &totals);
  } else if (!old_value.empty()) {
    CountLocked(old, +1, &totals);
  }
  return s;
}

absl::Status QuarantineIndex::Remove(const std::string& slot, const std::vector<std::string>& ids) {
  absl::MutexLock lock(&mu_);
  QuarantineTotals& totals = TotalsLocked(slot);
  rocksdb::WriteBatch batch;
  std::vector<QuarantineRecord> gone;
  for (const std::string& id : ids) {
    std::string value;
    QuarantineRecord r;
    if (!db_->Get(rocksdb::ReadOptions(), ItemKey(slot, id), &value).ok()) continue;
    if (r.ParseFromString(value)) gone.push_back(std::move(r));
    batch.Delete(ItemKey(slot, id));
  }
  absl::Status s = Written(db_->Write(rocksdb::WriteOptions(), &batch));
  if (s.ok()) {
    for (const QuarantineRecord& r : gone) CountLocked(r, -1, &totals);
  }
  return s;
}

std::optional<QuarantineRecord> QuarantineIndex::Get(const std::string& slot,
                                                     const std::string& id) {
  std::string value;
  QuarantineRecord r;
  if (!db_->Get(rocksdb::ReadOptions(), ItemKey(slot, id), &value).ok() ||
      !r.ParseFromString(value)) {
    return std::nullopt;
  }
  return r;
}

void QuarantineIndex::ForEach(const std::string& slot, const std::string& user,
                              const std::function<bool(const QuarantineRecord&)>& visit) {
  const std::string prefix = SlotPrefix(slot);
  std::unique_ptr<rocksdb::Iterator> iter(db_->NewIterator(rocksdb::ReadOptions()));
  for (iter->Seek(prefix); iter->Valid() && iter->key().starts_with(prefix); iter->Next()) {
    QuarantineRecord r;
    if (!r.ParseFromArray(iter->value().data(), static_cast<int>(iter->value().size()))) continue;
    if (!user.empty() && r.item().user() != user) continue;
    if (!visit(r)) return;
  }
}

absl::Status QuarantineIndex::MarkReconciled(const std::string& slot,
                                             const std::vector<std::string>& ids) {
  for (const std::string& id : ids) {
    std::optional<QuarantineRecord> r = Get(slot, id);
    if (!r || r->reconciled()) continue;
    r->set_reconciled(true);
    if (absl::Status s = Put(slot, *r); !s.ok()) return s;
  }
  return absl::OkStatus();
}

QuarantineTotals QuarantineIndex::Totals(const std::string& slot) {
  absl::MutexLock lock(&mu_);
  return TotalsLocked(slot);
}

absl::Status QuarantineIndex::Clear(const std::string& slot) {
  absl::MutexLock lock(&mu_);
  const std::string prefix = SlotPrefix(slot);
  rocksdb::WriteBatch batch;
  std::unique_ptr<rocksdb::Iterator> iter(db_->NewIterator(rocksdb::ReadOptions()));
  for (iter->Seek(prefix); iter->Valid() && iter->key().starts_with(prefix); iter->Next()) {
    batch.Delete(iter->key());
  }
  absl::Status s = Written(db_->Write(rocksdb::WriteOptions(), &batch));
  if (s.ok()) totals_.erase(slot);
  return s;
}

}  // namespace slotkeeper::sync
