#include "slotmgr/state_store.h"

#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "base/rocksdb_info_log.h"
#include "base/status_macros.h"
#include "rocksdb/db.h"
#include "rocksdb/options.h"
#include "rocksdb/write_batch.h"

namespace slotkeeper::slotmgr {
namespace {

constexpr char kSchemaKey[] = "meta/schema";
constexpr char kMetaKey[] = "meta/counters";
constexpr char kAutomationKey[] = "automation";

std::string Padded(uint64_t n) { return absl::StrFormat("%020d", n); }

std::string EventKey(uint64_t seq) { return absl::StrCat("event/", Padded(seq)); }

std::string EventTimeKey(int64_t time_ms, uint64_t seq) {
  return absl::StrCat("evtime/", Padded(time_ms < 0 ? 0 : static_cast<uint64_t>(time_ms)), "/",
                      Padded(seq));
}

absl::Status FromRocks(const rocksdb::Status& s, absl::string_view what) {
  if (s.ok()) return absl::OkStatus();
  return absl::UnavailableError(absl::StrCat(what, ": ", s.ToString()));
}

template <typename M>
absl::Status ParseInto(const rocksdb::Slice& key, const rocksdb::Slice& value, M* out) {
  if (!out->ParseFromArray(value.data(), static_cast<int>(value.size()))) {
    return absl::DataLossError(absl::StrCat("state store: cannot parse record ", key.ToString()));
  }
  return absl::OkStatus();
}

bool Matches(const v1::Event& e, const EventQuery& q) {
  if (e.seq() <= q.after_seq) return false;
  if (q.before_seq != 0 && e.seq() >= q.before_seq) return false;
  if (q.since_ms != 0 && e.time_ms() < q.since_ms) return false;
  if (q.until_ms != 0 && e.time_ms() > q.until_ms) return false;
  if (!q.store.empty() && e.store() != q.store) return false;
  if (!q.host.empty() && e.host() != q.host) return false;
  if (!q.kind.empty() && e.kind() != q.kind &&
      !absl::StartsWith(e.kind(), absl::StrCat(q.kind, "."))) {
    return false;
  }
  return true;
}

}  // namespace

void StateBatch::Put(std::string key, const google::protobuf::MessageLite& message) {
  ops_.push_back(Op{std::move(key), message.SerializeAsString(), false});
}

void StateBatch::EraseHost(absl::string_view host) {
  ops_.push_back(Op{absl::StrCat("host/", host), "", true});
}

void StateBatch::PutHost(const HostRecord& host) {
  Put(absl::StrCat("host/", host.info().name()), host);
}
void StateBatch::PutStore(const StoreRecord& store) {
  Put(absl::StrCat("store/", store.info().name()), store);
}
void StateBatch::PutTask(const StoredTask& task) {
  Put(absl::StrCat("task/", task.info().id()), task);
}
void StateBatch::PutCommand(const OutboxEntry& entry) {
  Put(absl::StrCat("cmd/", entry.command().id()), entry);
}
void StateBatch::EraseCommand(absl::string_view command_id) {
  ops_.push_back(Op{absl::StrCat("cmd/", command_id), "", true});
}
void StateBatch::PutUser(absl::string_view user, absl::string_view store) {
  ops_.push_back(Op{absl::StrCat("user/", user), std::string(store), false});
}
void StateBatch::PutAutomation(const AutomationRecord& automation) {
  Put(kAutomationKey, automation);
}
void StateBatch::PutMeta(const MetaRecord& meta) { Put(kMetaKey, meta); }
void StateBatch::AppendEvent(const v1::Event& event) {
  Put(EventKey(event.seq()), event);
  ops_.push_back(Op{EventTimeKey(event.time_ms(), event.seq()), "", false});
}

RocksStateStore::RocksStateStore(std::unique_ptr<rocksdb::DB> db, bool sync_writes)
    : db_(std::move(db)), sync_writes_(sync_writes) {}

RocksStateStore::~RocksStateStore() {
  if (db_ != nullptr) db_->Close().PermitUncheckedError();
}

absl::StatusOr<std::unique_ptr<RocksStateStore>> RocksStateStore::Open(const std::string& dir,
                                                                       bool sync_writes) {
  if (dir.empty()) return absl::InvalidArgumentError("state store: --data_dir is empty");
  rocksdb::Options options;
  options.create_if_missing = true;
  BoundInfoLog(kCoordinatorInfoLog, options);
  rocksdb::DB* raw = nullptr;
  rocksdb::Status s = rocksdb::DB::Open(options, dir, &raw);
  if (!s.ok()) {
    return absl::UnavailableError(
        absl::StrCat("state store: cannot open RocksDB at ", dir, ": ", s.ToString()));
  }
  std::unique_ptr<rocksdb::DB> db(raw);
  std::string version;
  s = db->Get(rocksdb::ReadOptions(), kSchemaKey, &version);
  if (s.IsNotFound()) {
    rocksdb::WriteOptions wo;
    wo.sync = true;
    s = db->Put(wo, kSchemaKey, std::to_string(kSchemaVersion));
    if (!s.ok()) return FromRocks(s, "state store: writing schema version");
  } else if (!s.ok()) {
    return FromRocks(s, "state store: reading schema version");
  } else {
    int found = 0;
    if (!absl::SimpleAtoi(version, &found)) {
      return absl::DataLossError(
          absl::StrCat("state store: schema version key in ", dir, " is garbled: '", version, "'"));
    }
    if (found > kSchemaVersion) {
      return absl::FailedPreconditionError(absl::StrCat(
          "state store: ", dir, " was written by a newer slotmgrd (schema version ", found,
          "; this build understands up to ", kSchemaVersion, "); refusing to open it"));
    }
  }
  return std::unique_ptr<RocksStateStore>(new RocksStateStore(std::move(db), sync_writes));
}

absl::StatusOr<StateSnapshot> RocksStateStore::Load() {
  StateSnapshot snap;
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions()));
  for (it->SeekToFirst(); it->Valid(); it->Next()) {
    const rocksdb::Slice key = it->key();
    const rocksdb::Slice value = it->value();
    absl::string_view k(key.data(), key.size());
    absl::Status st;
    if (absl::StartsWith(k, "host/")) {
      st = ParseInto(key, value, &snap.hosts.emplace_back());
    } else if (absl::StartsWith(k, "store/")) {
      st = ParseInto(key, value, &snap.stores.emplace_back());
    } else if (absl::StartsWith(k, "task/")) {
      st = ParseInto(key, value, &snap.tasks.emplace_back());
    } else if (absl::StartsWith(k, "cmd/")) {
      st = ParseInto(key, value, &snap.outbox.emplace_back());
    } else if (absl::StartsWith(k, "user/")) {
      snap.users[std::string(k.substr(5))] = value.ToString();
    } else if (k == kAutomationKey) {
      snap.automation.emplace();
      st = ParseInto(key, value, &*snap.automation);
    } else if (k == kMetaKey) {
      st = ParseInto(key, value, &snap.meta);
    }
    if (!st.ok()) return st;
  }
  if (!it->status().ok()) return FromRocks(it->status(), "state store: loading");
  return snap;
}

absl::Status RocksStateStore::Commit(const StateBatch& batch) {
  if (batch.empty()) return absl::OkStatus();
  rocksdb::WriteBatch wb;
  for (const StateBatch::Op& op : batch.ops()) {
    rocksdb::Status s = op.erase ? wb.Delete(op.key) : wb.Put(op.key, op.value);
    if (!s.ok()) return FromRocks(s, "state store: building batch");
  }
  rocksdb::WriteOptions wo;
  wo.sync = sync_writes_;
  return FromRocks(db_->Write(wo, &wb), "state store: commit");
}

absl::StatusOr<EventPage> RocksStateStore::ReadEventPage(const EventQuery& query) {
  EventPage page;
  auto take = [&](const rocksdb::Slice& key, const rocksdb::Slice& value) -> absl::Status {
    v1::Event e;
    SK_RETURN_IF_ERROR(ParseInto(key, value, &e));
    if (!Matches(e, query)) return absl::OkStatus();
    if (page.events.size() < query.limit) {
      page.events.push_back(std::move(e));
    } else {
      ++page.remaining;
    }
    return absl::OkStatus();
  };
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions()));
  const bool by_time =
      (query.since_ms > 0 || query.until_ms > 0) && query.after_seq == 0 && query.before_seq == 0;
  if (by_time) {
    // Walk the time index between the bounds, then fetch each event.
    const rocksdb::Slice prefix("evtime/");
    if (query.newest_first) {
      it->SeekForPrev(query.until_ms > 0 ? EventTimeKey(query.until_ms, UINT64_MAX)
                                         : std::string("evtime0"));
    } else {
      it->Seek(EventTimeKey(query.since_ms, 0));
    }
    for (; it->Valid() && it->key().starts_with(prefix);
         query.newest_first ? it->Prev() : it->Next()) {
      absl::string_view k(it->key().data(), it->key().size());
      const size_t slash = k.rfind('/');
      int64_t ms = 0;
      uint64_t seq = 0;
      if (!absl::SimpleAtoi(k.substr(7, slash - 7), &ms) ||
          !absl::SimpleAtoi(k.substr(slash + 1), &seq)) {
        continue;
      }
      if (query.newest_first ? ms < query.since_ms : query.until_ms > 0 && ms > query.until_ms) {
        break;
      }
      std::string value;
      rocksdb::Status s = db_->Get(rocksdb::ReadOptions(), EventKey(seq), &value);
      if (s.IsNotFound()) continue;
      if (!s.ok()) return FromRocks(s, "state store: reading event");
      SK_RETURN_IF_ERROR(take(EventKey(seq), value));
    }
  } else {
    const rocksdb::Slice prefix("event/");
    if (query.newest_first) {
      it->SeekForPrev(query.before_seq > 0 ? EventKey(query.before_seq - 1)
                                           : std::string("event0"));
    } else {
      it->Seek(EventKey(query.after_seq + 1));
    }
    for (; it->Valid() && it->key().starts_with(prefix);
         query.newest_first ? it->Prev() : it->Next()) {
      if (query.newest_first) {
        // Past the lower bound: nothing older can match.
        if (it->key().compare(rocksdb::Slice(EventKey(query.after_seq))) <= 0) break;
      } else if (query.before_seq > 0 &&
                 it->key().compare(rocksdb::Slice(EventKey(query.before_seq))) >= 0) {
        break;
      }
      SK_RETURN_IF_ERROR(take(it->key(), it->value()));
    }
  }
  if (!it->status().ok()) return FromRocks(it->status(), "state store: reading events");
  return page;
}

absl::StatusOr<size_t> RocksStateStore::PruneEvents(const EventPrune& prune) {
  rocksdb::WriteBatch wb;
  size_t deleted = 0;
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions()));
  for (it->Seek("event/");
       it->Valid() && it->key().starts_with("event/") && deleted < prune.max_delete; it->Next()) {
    v1::Event e;
    if (absl::Status st = ParseInto(it->key(), it->value(), &e); !st.ok()) return st;
    const bool expired = e.time_ms() < prune.older_than_ms || e.seq() < prune.below_seq;
    const bool forced = e.seq() < prune.force_below_seq;
    if (!forced && (!expired || e.time_ms() >= prune.floor_ms)) break;
    rocksdb::Status s = wb.Delete(it->key());
    if (s.ok()) s = wb.Delete(EventTimeKey(e.time_ms(), e.seq()));
    if (!s.ok()) return FromRocks(s, "state store: building prune batch");
    ++deleted;
  }
  if (!it->status().ok()) return FromRocks(it->status(), "state store: reading events to prune");
  if (deleted == 0) return deleted;
  rocksdb::WriteOptions wo;
  wo.sync = sync_writes_;
  SK_RETURN_IF_ERROR(FromRocks(db_->Write(wo, &wb), "state store: pruning events"));
  return deleted;
}

std::map<std::string, uint64_t> RocksStateStore::EngineStats() const {
  std::map<std::string, uint64_t> out;
  for (const char* name : {"estimate-num-keys", "total-sst-files-size", "live-sst-files-size",
                           "cur-size-all-mem-tables", "num-immutable-mem-table"}) {
    uint64_t value = 0;
    if (db_->GetIntProperty(std::string("rocksdb.") + name, &value)) out[name] = value;
  }
  return out;
}

absl::Status RocksStateStore::PutRawForTest(const std::string& key, const std::string& value) {
  return FromRocks(db_->Put(rocksdb::WriteOptions(), key, value), "state store: raw put");
}

}  // namespace slotkeeper::slotmgr
