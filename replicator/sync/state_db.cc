#include "replicator/sync/state_db.h"

#include "absl/strings/str_cat.h"
#include "base/rocksdb_info_log.h"
#include "rocksdb/filter_policy.h"
#include "rocksdb/table.h"

namespace slotkeeper::sync {

absl::StatusOr<std::unique_ptr<rocksdb::DB>> OpenStateDb(const std::string& dir) {
  rocksdb::Options options;
  options.create_if_missing = true;
  options.max_background_jobs = 1;
  BoundInfoLog(kAgentInfoLog, options);
  // Most hash-cache lookups of a sync are for names the cache has never
  // seen (new deliveries, a flag change's new name): a Bloom filter answers
  // those without reading a block of every table file.
  rocksdb::BlockBasedTableOptions table;
  table.filter_policy.reset(rocksdb::NewBloomFilterPolicy(10));
  options.table_factory.reset(rocksdb::NewBlockBasedTableFactory(table));
  rocksdb::DB* db = nullptr;
  rocksdb::Status s = rocksdb::DB::Open(options, dir, &db);
  if (!s.ok()) {
    std::string msg = absl::StrCat("state db ", dir, ": ", s.ToString());
    if (s.IsIOError()) return absl::FailedPreconditionError(msg);
    return absl::InternalError(msg);
  }
  return std::unique_ptr<rocksdb::DB>(db);
}

}  // namespace slotkeeper::sync
