#include "replicator/sync/slot_records.h"

#include "absl/strings/str_cat.h"
#include "rocksdb/db.h"

namespace slotkeeper::sync {
namespace {

std::string RecordKey(const std::string& slot) { return absl::StrCat("s/", slot); }

}  // namespace

SlotRecord SlotRecords::Get(const std::string& slot) {
  std::string value;
  SlotRecord record;
  if (db_->Get(rocksdb::ReadOptions(), RecordKey(slot), &value).ok()) {
    if (!record.ParseFromString(value)) record.Clear();
  }
  return record;
}

absl::Status SlotRecords::Update(const std::string& slot,
                                 const std::function<void(SlotRecord*)>& change) {
  absl::MutexLock lock(&mu_);
  SlotRecord record = Get(slot);
  change(&record);
  rocksdb::WriteOptions options;
  options.sync = true;
  rocksdb::Status s = db_->Put(options, RecordKey(slot), record.SerializeAsString());
  if (!s.ok())
    return absl::InternalError(absl::StrCat("slot record of ", slot, ": ", s.ToString()));
  return absl::OkStatus();
}

}  // namespace slotkeeper::sync
