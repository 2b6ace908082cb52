#include "replicator/sync/quarantine_purge.h"

#include <errno.h>
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <set>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "base/log.h"
#include "replicator/sync/dir_walker.h"
#include "replicator/sync/maildir.h"

namespace slotkeeper::sync {
namespace {

// Removes everything below a directory, deepest first. It goes on after a
// failure (as much as can go, goes) and keeps the first error; a directory
// still holding something then stays.
class TreeRemover : public DirVisitor {
 public:
  absl::StatusOr<bool> Visit(const WalkDir& dir, const DirEntry& e, const std::string&) override {
    if (IsDirectory(dir.fd, e)) return true;
    if (unlinkat(dir.fd, e.name.c_str(), 0) != 0) {
      status_.Update(ErrnoStatus(errno, absl::StrCat("unlink ", e.name)));
    }
    return false;
  }
  absl::Status Left(const WalkDir& dir, const DirEntry& e, const std::string&) override {
    if (unlinkat(dir.fd, e.name.c_str(), AT_REMOVEDIR) != 0) {
      status_.Update(ErrnoStatus(errno, absl::StrCat("rmdir ", e.name)));
    }
    return absl::OkStatus();
  }
  absl::Status Unreadable(const std::string&, const absl::Status& error) override {
    status_.Update(error);
    return absl::OkStatus();
  }
  const absl::Status& status() const { return status_; }

 private:
  absl::Status status_;
};

// Removes `name` in `dirfd`: a file, or a directory with everything in it.
absl::Status RemoveTree(int dirfd, const std::string& name) {
  absl::StatusOr<Fd> dir = OpenSubdir(dirfd, name);
  if (!dir.ok()) {
    if (absl::IsFailedPrecondition(dir.status())) {  // not a directory
      if (unlinkat(dirfd, name.c_str(), 0) != 0) {
        return ErrnoStatus(errno, absl::StrCat("unlink ", name));
      }
      return absl::OkStatus();
    }
    return dir.status();
  }
  TreeRemover remover;
  if (absl::Status s = WalkTree(dir->get(), &remover); !s.ok()) return s;
  if (!remover.status().ok()) return remover.status();
  *dir = Fd();
  if (unlinkat(dirfd, name.c_str(), AT_REMOVEDIR) != 0) {
    return ErrnoStatus(errno, absl::StrCat("rmdir ", name));
  }
  return absl::OkStatus();
}

// Removes one listed item's file (already gone: fine).
absl::Status UnlinkItem(int quarantine_dir, const std::string& id) {
  auto [dir, base] = SplitDirBase(id);
  absl::StatusOr<Fd> d = OpenDirBeneath(quarantine_dir, dir, false);
  if (!d.ok()) return absl::IsNotFound(d.status()) ? absl::OkStatus() : d.status();
  if (unlinkat(d->get(), std::string(base).c_str(), 0) != 0 && errno != ENOENT) {
    return ErrnoStatus(errno, absl::StrCat("unlink quarantine item ", id));
  }
  return absl::OkStatus();
}

// Removes the items (files, then their entries) and accounts for them.
absl::Status RemoveItems(const SlotQuarantine& q, int quarantine_dir,
                         const std::vector<v1::QuarantineItem>& items, PurgeReport* report) {
  std::vector<std::string> ids;
  absl::Status status;
  for (const v1::QuarantineItem& item : items) {
    absl::Status s = UnlinkItem(quarantine_dir, item.id());
    if (!s.ok()) {
      status.Update(s);
      continue;
    }
    ids.push_back(item.id());
    report->items_removed++;
    report->bytes_removed += item.size();
  }
  if (q.index() != nullptr) status.Update(q.index()->Remove(q.slot(), ids));
  return status;
}

// Whether the item is a copy the mail server can rebuild (index, cache,
// uidlist versions) or a leftover of an interrupted transfer: not a message.
bool Expendable(const v1::QuarantineItem& item) {
  return item.maildir_key().empty() &&
         (item.reason() == kReasonOverwritten || item.reason() == kReasonLeftover);
}

// Stranded mail not yet reconciled: the only copy of those messages may be
// here, so no age or size cap removes it.
bool Unreconciled(const QuarantineRecord& r) {
  return r.item().reason() == kReasonStranded && !r.reconciled();
}

// The day directories ("YYYY-MM-DD") holding unreconciled stranded mail.
std::set<std::string> DaysWithStrandedMail(const SlotQuarantine& q) {
  std::set<std::string> days;
  if (q.index() == nullptr) return days;
  q.index()->ForEach(q.slot(), "", [&](const QuarantineRecord& r) {
    if (Unreconciled(r)) days.insert(r.item().id().substr(0, 10));
    return true;
  });
  return days;
}

// Day directories before `cutoff` ("YYYY-MM-DD") go whole, with their
// entries, except days holding unreconciled stranded mail.
absl::Status PurgeOldDays(const SlotQuarantine& q, int quarantine_dir, const std::string& cutoff,
                          PurgeReport* report) {
  absl::StatusOr<std::vector<DirEntry>> entries = ReadDir(quarantine_dir);
  if (!entries.ok()) return entries.status();
  const std::set<std::string> keep = DaysWithStrandedMail(q);
  for (const DirEntry& e : *entries) {
    absl::Time t;
    std::string err;
    if (e.name.size() != 10 ||
        !absl::ParseTime("%Y-%m-%d", e.name, absl::UTCTimeZone(), &t, &err) || e.name >= cutoff) {
      continue;
    }
    if (keep.count(e.name)) {
      LogWarning("sync", absl::StrCat("slot ", q.slot(), ": quarantine day ", e.name,
                                      " kept past its age: it holds stranded mail not yet "
                                      "reconciled"));
      continue;
    }
    if (absl::Status s = RemoveTree(quarantine_dir, e.name); !s.ok()) return s;
    LogInfo("sync", absl::StrCat("slot ", q.slot(), ": purged quarantine day ", e.name));
    report->days_removed++;
  }
  if (q.index() == nullptr) return absl::OkStatus();
  std::vector<std::string> gone;
  q.index()->ForEach(q.slot(), "", [&](const QuarantineRecord& r) {
    const std::string day = r.item().id().substr(0, 10);
    if (day >= cutoff) return false;  // ids are sorted by day
    if (!keep.count(day)) gone.push_back(r.item().id());
    return true;
  });
  return q.index()->Remove(q.slot(), gone);
}

// The size cap: the oldest expendable items first, then the oldest of those
// past min_keep_days, until the listed items fit.
absl::Status PurgeToSize(const SlotQuarantine& q, int quarantine_dir,
                         const QuarantinePolicy& policy, PurgeReport* report) {
  if (policy.max_bytes == 0 || q.index() == nullptr) return absl::OkStatus();
  const QuarantineTotals totals = q.index()->Totals(q.slot());
  if (totals.bytes <= policy.max_bytes) return absl::OkStatus();
  const int64_t protect_after_ms =
      q.clock()->NowMs() - absl::ToInt64Milliseconds(absl::Hours(24) * policy.min_keep_days);
  std::vector<v1::QuarantineItem> first, then;
  q.index()->ForEach(q.slot(), "", [&](const QuarantineRecord& r) {
    if (Unreconciled(r)) return true;
    if (Expendable(r.item())) {
      first.push_back(r.item());
    } else if (r.item().quarantined_ms() < protect_after_ms) {
      then.push_back(r.item());
    }
    return true;
  });
  auto oldest_first = [](const v1::QuarantineItem& a, const v1::QuarantineItem& b) {
    return a.quarantined_ms() < b.quarantined_ms();
  };
  std::stable_sort(first.begin(), first.end(), oldest_first);
  std::stable_sort(then.begin(), then.end(), oldest_first);
  first.insert(first.end(), then.begin(), then.end());
  uint64_t bytes = totals.bytes;
  std::vector<v1::QuarantineItem> chosen;
  for (const v1::QuarantineItem& item : first) {
    if (bytes <= policy.max_bytes) break;
    chosen.push_back(item);
    bytes -= std::min(bytes, item.size());
  }
  absl::Status s = RemoveItems(q, quarantine_dir, chosen, report);
  const uint64_t left = q.index()->Totals(q.slot()).bytes;
  report->bytes_over_cap = left > policy.max_bytes ? left - policy.max_bytes : 0;
  return s;
}

}  // namespace

absl::StatusOr<PurgeReport> PurgeQuarantine(const SlotQuarantine& q,
                                            const QuarantinePolicy& policy) {
  if (policy.keep_days < 0 || policy.min_keep_days < 0) {
    return absl::InvalidArgumentError("quarantine keep days are negative");
  }
  PurgeReport report;
  absl::StatusOr<Fd> dir = OpenDirBeneath(q.root(), std::string(kQuarantineDir), false);
  if (!dir.ok()) {
    if (absl::IsNotFound(dir.status())) return report;
    return dir.status();
  }
  const std::string cutoff = QuarantineDay(q.clock()->Now() - absl::Hours(24) * policy.keep_days);
  if (absl::Status s = PurgeOldDays(q, dir->get(), cutoff, &report); !s.ok()) return s;
  if (absl::Status s = PurgeToSize(q, dir->get(), policy, &report); !s.ok()) return s;
  return report;
}

absl::StatusOr<PurgeReport> PurgeItems(const SlotQuarantine& q, int64_t older_than_ms,
                                       const std::vector<std::string>& ids) {
  PurgeReport report;
  if (q.index() == nullptr) return absl::FailedPreconditionError("the quarantine is not listed");
  absl::StatusOr<Fd> dir = OpenDirBeneath(q.root(), std::string(kQuarantineDir), false);
  if (!dir.ok()) {
    if (absl::IsNotFound(dir.status())) return report;
    return dir.status();
  }
  const std::set<std::string> named(ids.begin(), ids.end());
  std::vector<v1::QuarantineItem> chosen;
  q.index()->ForEach(q.slot(), "", [&](const QuarantineRecord& r) {
    if (named.count(r.item().id()) || r.item().quarantined_ms() < older_than_ms) {
      chosen.push_back(r.item());
    }
    return true;
  });
  if (absl::Status s = RemoveItems(q, dir->get(), chosen, &report); !s.ok()) return s;
  return report;
}

absl::StatusOr<uint64_t> DropOlderVersions(const SlotQuarantine& q, const std::string& user,
                                           const std::string& path, const std::string& keep_id) {
  if (q.index() == nullptr || IsMaildirMessage(path)) return 0;
  std::vector<v1::QuarantineItem> older;
  q.index()->ForEach(q.slot(), user, [&](const QuarantineRecord& r) {
    const v1::QuarantineItem& item = r.item();
    if (item.path() == path && item.id() != keep_id && item.reason() == kReasonOverwritten &&
        item.maildir_key().empty()) {
      older.push_back(item);
    }
    return true;
  });
  if (older.empty()) return 0;
  absl::StatusOr<Fd> dir = OpenDirBeneath(q.root(), std::string(kQuarantineDir), false);
  if (!dir.ok()) return dir.status();
  PurgeReport report;
  if (absl::Status s = RemoveItems(q, dir->get(), older, &report); !s.ok()) return s;
  return report.items_removed;
}

}  // namespace slotkeeper::sync
