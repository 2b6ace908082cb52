#include "replicator/sync/maintenance.h"

#include <sys/statvfs.h>

#include <set>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "base/log.h"
#include "replicator/sync/manifest.h"
#include "replicator/sync/slot_layout.h"

namespace slotkeeper::sync {
namespace {

// The capacity a slot's quarantine share is taken of: configured, else its
// filesystem's size.
uint64_t CapacityOf(const MaintenanceOptions& options, const std::string& slot, int root) {
  auto it = options.capacity_bytes.find(slot);
  if (it != options.capacity_bytes.end() && it->second > 0) return it->second;
  struct statvfs vfs;
  if (fstatvfs(root, &vfs) != 0) return 0;
  return static_cast<uint64_t>(vfs.f_blocks) * vfs.f_frsize;
}

}  // namespace

Maintenance::Maintenance(MaintenanceDeps deps, MaintenanceOptions options)
    : deps_(deps), options_(std::move(options)) {}

Maintenance::~Maintenance() { Stop(); }

void Maintenance::Start() {
  absl::MutexLock lock(&mu_);
  if (thread_.joinable()) return;
  stop_ = false;
  thread_ = std::thread([this] { Loop(); });
}

void Maintenance::Stop() {
  {
    absl::MutexLock lock(&mu_);
    stop_ = true;
  }
  if (thread_.joinable()) thread_.join();
}

void Maintenance::Wake() {
  absl::MutexLock lock(&mu_);
  wake_ = true;
}

void Maintenance::Loop() {
  for (;;) {
    RunOnce();
    const absl::Duration next = deps_.clock->Monotonic() + options_.tick;
    absl::MutexLock lock(&mu_);
    // The engine clock decides when; a stop or wake is seen at once, the
    // clock every 200 ms of real time.
    auto signalled = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return stop_ || wake_; };
    while (!signalled() && deps_.clock->Monotonic() < next) {
      mu_.AwaitWithTimeout(absl::Condition(&signalled), absl::Milliseconds(200));
    }
    if (stop_) return;
    wake_ = false;
  }
}

void Maintenance::RunOnce(bool purge) {
  absl::MutexLock round(&round_mu_);
  for (const std::string& slot : deps_.slots->names()) {
    absl::StatusOr<std::shared_ptr<const Fd>> root = deps_.slots->Root(slot);
    if (!root.ok()) continue;
    const bool master = deps_.records->Get(slot).master();
    if (master) CheckMasterIdentity(slot, (*root)->get());
    IndexSlot(slot, (*root)->get(), master);
    auto last = last_purge_.find(slot);
    if (purge || last == last_purge_.end() ||
        deps_.clock->Monotonic() - last->second >= options_.purge_interval) {
      Purge(slot, (*root)->get());
      last_purge_[slot] = deps_.clock->Monotonic();
    }
  }
}

void Maintenance::IndexNow(const std::string& slot) {
  absl::MutexLock round(&round_mu_);
  absl::StatusOr<std::shared_ptr<const Fd>> root = deps_.slots->Root(slot);
  if (!root.ok()) return;
  IndexSlot(slot, (*root)->get(), deps_.records->Get(slot).master());
}

void Maintenance::IndexSlot(const std::string& slot, int root, bool master) {
  // A slot without users (a spare, one not yet filled) has nothing to index
  // and no change tracking to ask.
  if (absl::IsNotFound(OpenUsersDir(root).status())) return;
  absl::StatusOr<std::map<std::string, UserGeneration>> users = deps_.tracker->Refresh(root, slot);
  if (!users.ok()) {
    LogWarning("sync", absl::StrCat("slot ", slot, ": message index: ", users.status().message()));
    return;
  }
  const bool logging = master && deps_.deletion_log->Since(slot).has_value();
  const bool stranded = deps_.quarantine->Totals(slot).stranded > 0;
  for (const auto& [user, gen] : *users) {
    const std::string key = absl::StrCat(slot, "\n", user);
    auto done = indexed_.find(key);
    if (done != indexed_.end() && done->second == gen.generation) continue;
    absl::StatusOr<std::set<std::string>> names = ScanMessageKeys(root, user);
    if (!names.ok()) {
      LogWarning("sync", absl::StrCat("slot ", slot, ": ", names.status().message()));
      continue;
    }
    absl::StatusOr<int> logged =
        deps_.deletion_log->Observe(slot, user, *names, deps_.clock->NowMs(), logging);
    if (!logged.ok()) {
      LogWarning("sync", absl::StrCat("slot ", slot, ": ", logged.status().message()));
      continue;
    }
    indexed_[key] = gen.generation;
    if (stranded) {
      std::vector<std::string> back;
      deps_.quarantine->ForEach(slot, user, [&](const QuarantineRecord& r) {
        if (r.item().reason() == kReasonStranded && !r.reconciled() &&
            names->count(r.item().maildir_key())) {
          back.push_back(r.item().id());
        }
        return true;
      });
      if (!back.empty()) {
        LogInfo("sync", absl::StrCat("slot ", slot, ", user ", user, ": ", back.size(),
                                     " stranded message(s) are on the master again"));
        (void)deps_.quarantine->MarkReconciled(slot, back);
      }
    }
  }
}

void Maintenance::CheckMasterIdentity(const std::string& slot, int root) {
  const SlotRecord record = deps_.records->Get(slot);
  absl::StatusOr<SlotIdentity> now = ReadSlotIdentity(root);
  if (!now.ok()) return;
  const bool changed = !record.identity().empty() &&
                       (now->instance_id.empty() || now->ToString() != record.identity());
  if (now->instance_id.empty()) {
    absl::StatusOr<SlotIdentity> written = EnsureSlotIdentity(root, deps_.fs);
    if (written.ok()) now = written;
  }
  if (!changed && !record.identity().empty()) return;
  if (changed) {
    LogError("sync", absl::StrCat("master slot ", slot, ": its identity changed (",
                                  record.identity(), " -> ", now->ToString(),
                                  "): emptied, replaced or mounted over behind the agent's back"));
  }
  (void)deps_.records->Update(slot, [&](SlotRecord* r) {
    r->set_identity(now->instance_id.empty() ? "" : now->ToString());
    if (changed) r->set_verify_pending(true);
  });
}

void Maintenance::Purge(const std::string& slot, int root) {
  QuarantinePolicy policy;
  policy.keep_days = options_.quarantine_keep_days;
  policy.min_keep_days = options_.quarantine_min_keep_days;
  policy.max_bytes = static_cast<uint64_t>(options_.quarantine_max_share *
                                           static_cast<double>(CapacityOf(options_, slot, root)));
  const SlotQuarantine quarantine(root, slot, deps_.clock, deps_.fs, deps_.quarantine);
  absl::StatusOr<PurgeReport> report = PurgeQuarantine(quarantine, policy);
  if (!report.ok()) {
    LogWarning("sync",
               absl::StrCat("slot ", slot, ": quarantine purge: ", report.status().message()));
    return;
  }
  if (report->items_removed > 0 || report->days_removed > 0) {
    LogInfo("sync",
            absl::StrCat("slot ", slot, ": quarantine purged: ", report->days_removed, " day(s), ",
                         report->items_removed, " item(s), ", report->bytes_removed, " bytes"));
  }
  if (report->bytes_over_cap > 0) {
    LogWarning("sync", absl::StrCat("slot ", slot, ": quarantine ", report->bytes_over_cap,
                                    " bytes over its cap; what remains is mail younger than ",
                                    policy.min_keep_days, " days"));
  }
}

}  // namespace slotkeeper::sync
