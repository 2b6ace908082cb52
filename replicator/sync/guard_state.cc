#include "replicator/sync/guard_state.h"

#include <algorithm>
#include <memory>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "rocksdb/db.h"

namespace slotkeeper::sync {
namespace {

constexpr int64_t kBucketMs = 3'600'000;  // one hour

std::string SlotPrefix(const std::string& slot) { return absl::StrCat("g/", slot, "\n"); }

bool InWindow(const GuardOptions& options, const GuardBucket& b, int64_t now_ms) {
  // A bucket counts while any part of its hour lies within the window.
  return b.start_ms() + kBucketMs > now_ms - absl::ToInt64Milliseconds(options.window);
}

uint64_t RecentRemovals(const GuardOptions& options, const GuardRecord& record, int64_t now_ms) {
  uint64_t sum = 0;
  for (const GuardBucket& b : record.buckets()) {
    if (InWindow(options, b, now_ms)) sum += b.removals();
  }
  return sum;
}

}  // namespace

uint64_t HighWaterMark(const GuardOptions& options, const GuardRecord& record, int64_t now_ms) {
  uint64_t most = 0;
  for (const GuardBucket& b : record.buckets()) {
    if (InWindow(options, b, now_ms)) most = std::max<uint64_t>(most, b.max_messages());
  }
  return most;
}

GuardVerdict JudgeRemovals(const GuardOptions& options, const GuardRecord& record, int64_t now_ms,
                           const GuardInput& input) {
  GuardVerdict v;
  if (input.removals == 0) return v;
  const uint64_t high = std::max(HighWaterMark(options, record, now_ms), input.messages_before);
  const uint64_t recent = RecentRemovals(options, record, now_ms);
  const uint64_t total = recent + input.removals;
  if (total < options.min_removals_to_block ||
      static_cast<double>(total) <= options.max_removal_share * static_cast<double>(high)) {
    return v;
  }
  v.blocked = true;
  v.reason = absl::StrFormat(
      "mass-deletion guard: this sync would remove or rewrite %d message(s)%s, of at most %d "
      "held within %s (more than %.0f%%); nothing changed",
      input.removals,
      recent > 0 ? absl::StrFormat(" after %d removed within the window", recent) : "", high,
      absl::FormatDuration(options.window), options.max_removal_share * 100);
  return v;
}

GuardRecord RecordSync(const GuardOptions& options, GuardRecord record, int64_t now_ms,
                       const GuardInput& input) {
  GuardRecord out = record;
  out.clear_buckets();
  for (const GuardBucket& b : record.buckets()) {
    if (InWindow(options, b, now_ms)) *out.add_buckets() = b;
  }
  const int64_t hour = now_ms - now_ms % kBucketMs;
  if (out.buckets_size() == 0 || out.buckets(out.buckets_size() - 1).start_ms() != hour) {
    out.add_buckets()->set_start_ms(hour);
  }
  GuardBucket* b = out.mutable_buckets(out.buckets_size() - 1);
  b->set_max_messages(std::max({b->max_messages(), input.messages_before, input.messages_after}));
  b->set_removals(b->removals() + input.removals);
  return out;
}

GuardRecord GuardStore::Get(const std::string& slot, const std::string& user) {
  std::string value;
  GuardRecord record;
  if (db_->Get(rocksdb::ReadOptions(), SlotPrefix(slot) + user, &value).ok()) {
    if (!record.ParseFromString(value)) record.Clear();
  }
  return record;
}

absl::Status GuardStore::Update(const std::string& slot, const std::string& user, bool durable,
                                const std::function<void(GuardRecord*)>& change) {
  absl::MutexLock lock(&mu_);
  GuardRecord record = Get(slot, user);
  change(&record);
  rocksdb::WriteOptions options;
  options.sync = durable;
  rocksdb::Status s = db_->Put(options, SlotPrefix(slot) + user, record.SerializeAsString());
  if (!s.ok())
    return absl::InternalError(absl::StrCat("guard record of ", user, ": ", s.ToString()));
  return absl::OkStatus();
}

std::map<std::string, std::string> GuardStore::Blocked(const std::string& slot) {
  std::map<std::string, std::string> out;
  const std::string prefix = SlotPrefix(slot);
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions()));
  for (it->Seek(prefix); it->Valid() && it->key().starts_with(prefix); it->Next()) {
    GuardRecord r;
    if (!r.ParseFromArray(it->value().data(), static_cast<int>(it->value().size()))) continue;
    if (r.blocked()) {
      out[it->key().ToString().substr(prefix.size())] = r.blocked_reason();
    }
  }
  return out;
}

absl::Status GuardStore::Unblock(const std::string& slot, const std::string& user) {
  if (!Get(slot, user).blocked()) return absl::OkStatus();
  return Update(slot, user, /*durable=*/true, [](GuardRecord* r) {
    if (r->blocked()) r->set_allow_once(true);
  });
}

absl::Status GuardStore::Clear(const std::string& slot) {
  absl::MutexLock lock(&mu_);
  const std::string prefix = SlotPrefix(slot);
  rocksdb::WriteBatch batch;
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions()));
  for (it->Seek(prefix); it->Valid() && it->key().starts_with(prefix); it->Next()) {
    batch.Delete(it->key());
  }
  rocksdb::Status s = db_->Write(rocksdb::WriteOptions(), &batch);
  if (!s.ok())
    return absl::InternalError(absl::StrCat("guard records of ", slot, ": ", s.ToString()));
  return absl::OkStatus();
}

}  // namespace slotkeeper::sync
