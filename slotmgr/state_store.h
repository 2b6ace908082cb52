// Durable state of the coordinator.
//
// `StateStore` is the seam between the coordinator and its storage: today an
// embedded RocksDB (`RocksStateStore`), later a store shared by several
// coordinators (etcd). The coordinator keeps the whole model in memory, loads
// it once at start (`Load`) and writes every decision as one `StateBatch`: the
// changed records and the decision's events, applied atomically and synced.
//
// Keys (one RocksDB column family):
//   meta/schema        schema version, decimal
//   meta/counters      MetaRecord
//   host/<host>        HostRecord            store/<store>  StoreRecord
//   task/<id>          StoredTask            cmd/<id>       OutboxEntry
//   user/<user>        store name (the users -> store index)
//   automation         AutomationRecord
//   event/<seq,20d>    Event                 evtime/<ms,20d>/<seq,20d>  (time index)
#ifndef SLOTKEEPER_SLOTMGR_STATE_STORE_H_
#define SLOTKEEPER_SLOTMGR_STATE_STORE_H_

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "proto/model.pb.h"
#include "slotmgr/state.pb.h"

namespace rocksdb {
class DB;
}

namespace slotkeeper::slotmgr {

// The schema this build writes and understands. A database written by a newer
// build is refused at open rather than misread.
inline constexpr int kSchemaVersion = 1;

// A set of changes applied atomically by StateStore::Commit. Not thread-safe;
// one batch belongs to one decision.
class StateBatch {
 public:
  struct Op {
    std::string key;
    std::string value;
    bool erase = false;
  };

  void PutHost(const HostRecord& host);
  void EraseHost(absl::string_view host);
  void PutStore(const StoreRecord& store);
  void PutTask(const StoredTask& task);
  void PutCommand(const OutboxEntry& entry);
  void EraseCommand(absl::string_view command_id);
  void PutUser(absl::string_view user, absl::string_view store);
  void PutAutomation(const AutomationRecord& automation);
  void PutMeta(const MetaRecord& meta);
  // The event must carry its sequence number already.
  void AppendEvent(const v1::Event& event);

  const std::vector<Op>& ops() const { return ops_; }
  bool empty() const { return ops_.empty(); }

 private:
  void Put(std::string key, const google::protobuf::MessageLite& message);
  std::vector<Op> ops_;
};

// Everything the coordinator persisted, as loaded at start.
struct StateSnapshot {
  std::vector<HostRecord> hosts;
  std::vector<StoreRecord> stores;
  std::vector<StoredTask> tasks;
  std::vector<OutboxEntry> outbox;
  std::map<std::string, std::string> users;  // user -> store
  std::optional<AutomationRecord> automation;
  MetaRecord meta;
};

struct EventQuery {
  uint64_t after_seq = 0;   // only events with seq > after_seq
  uint64_t before_seq = 0;  // only events with seq < before_seq (0 = any)
  int64_t since_ms = 0;     // only events at or after this time (0 = any)
  int64_t until_ms = 0;     // only events at or before this time (0 = any)
  size_t limit = 1000;
  std::string store;  // filters; empty = any
  std::string host;
  std::string kind;  // this kind, or kinds under it ("audit": "audit.call")
  // Read from the newest match backwards (the page keeps the newest).
  bool newest_first = false;
};

// What ReadEventPage found: at most `limit` events in the query's reading
// order, and how many more match beyond the last of them.
struct EventPage {
  std::vector<v1::Event> events;
  uint64_t remaining = 0;
};

// Which events a pruning pass deletes (journal_retention.h): from the oldest
// on, each event older than `older_than_ms` or with seq below `below_seq`,
// and before `floor_ms` — or with seq below `force_below_seq` whatever its
// time; the pass stops at the first other event, or after `max_delete`.
struct EventPrune {
  int64_t older_than_ms = 0;
  uint64_t below_seq = 0;
  int64_t floor_ms = 0;
  uint64_t force_below_seq = 0;
  size_t max_delete = 0;
};

// Thread-safe: Commit and the reads may be called concurrently.
class StateStore {
 public:
  virtual ~StateStore() = default;
  virtual absl::StatusOr<StateSnapshot> Load() = 0;
  // Applies all of `batch` or nothing, durably (synced) before returning.
  virtual absl::Status Commit(const StateBatch& batch) = 0;
  // Events matching `query` in its reading order (oldest first unless
  // newest_first), with the count of those beyond `limit`. Counting reads
  // every match in range.
  virtual absl::StatusOr<EventPage> ReadEventPage(const EventQuery& query) = 0;
  // ReadEventPage without the count.
  absl::StatusOr<std::vector<v1::Event>> ReadEvents(const EventQuery& query) {
    absl::StatusOr<EventPage> page = ReadEventPage(query);
    if (!page.ok()) return page.status();
    return std::move(page->events);
  }
  // Deletes what `prune` allows, durably; returns how many events went.
  virtual absl::StatusOr<size_t> PruneEvents(const EventPrune& prune) = 0;
  // The engine's own figures for monitoring (name -> value; for RocksDB its
  // integer properties without the "rocksdb." prefix: estimate-num-keys,
  // total-sst-files-size, live-sst-files-size, cur-size-all-mem-tables,
  // num-immutable-mem-table). Empty when the engine has none.
  virtual std::map<std::string, uint64_t> EngineStats() const { return {}; }
};

// The RocksDB implementation. Owns the database; closing happens at
// destruction. `sync_writes` is false only in benchmarks and tests that
// measure something else.
class RocksStateStore : public StateStore {
 public:
  // Opens (creating if needed) the database in `dir`. Fails with
  // FAILED_PRECONDITION if it was written by a newer schema version, and with
  // UNAVAILABLE if it cannot be opened (e.g. another process holds its lock).
  static absl::StatusOr<std::unique_ptr<RocksStateStore>> Open(const std::string& dir,
                                                               bool sync_writes = true);
  ~RocksStateStore() override;

  absl::StatusOr<StateSnapshot> Load() override;
  absl::Status Commit(const StateBatch& batch) override;
  absl::StatusOr<EventPage> ReadEventPage(const EventQuery& query) override;
  absl::StatusOr<size_t> PruneEvents(const EventPrune& prune) override;
  std::map<std::string, uint64_t> EngineStats() const override;

  // For tests: writes a raw key (e.g. a future schema version).
  absl::Status PutRawForTest(const std::string& key, const std::string& value);

 private:
  RocksStateStore(std::unique_ptr<rocksdb::DB> db, bool sync_writes);
  std::unique_ptr<rocksdb::DB> db_;
  const bool sync_writes_;
};

}  // namespace slotkeeper::slotmgr

#endif  // SLOTKEEPER_SLOTMGR_STATE_STORE_H_
