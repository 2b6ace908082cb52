#include "replicator/sync/catch_up_cycle.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/statvfs.h>

#include <map>
#include <optional>
#include <set>

#include "absl/strings/str_cat.h"
#include "base/log.h"
#include "base/status_macros.h"
#include "replicator/sync/slot_layout.h"

namespace slotkeeper::sync {
namespace {

// The new master's deletion log by user, for a stranded-mail check; nullopt
// when it has none to give (every message it lacks is then stranded).
std::optional<std::map<std::string, std::set<std::string>>> DeletedAtMaster(
    const PeerClient& master) {
  absl::StatusOr<v1::ListDeletedResponse> listed = master.ListDeleted("");
  if (!listed.ok()) {
    LogWarning("sync", absl::StrCat("no deletion log from ", master.source_name(), ": ",
                                    listed.status().message(),
                                    "; every message it lacks counts as stranded"));
    return std::nullopt;
  }
  std::map<std::string, std::set<std::string>> out;
  for (const v1::DeletedMessage& d : listed->deleted()) out[d.user()].insert(d.maildir_key());
  return out;
}

// A replica on a filesystem mounted read-only cannot take what its master
// changes next. Said before anything else, so that the cycle fails (and the
// replica's lag grows) even when nothing has changed yet: a sync with
// nothing to write would pass on it.
absl::Status CheckWritable(int root) {
  struct statvfs st;
  if (fstatvfs(root, &st) != 0) return ErrnoStatus(errno, "statvfs of the slot");
  if ((st.f_flag & ST_RDONLY) != 0) {
    return absl::FailedPreconditionError(
        "the slot's filesystem is read-only: it cannot follow its master");
  }
  return absl::OkStatus();
}

}  // namespace

CatchUpCycle::CatchUpCycle(CycleDeps deps, ReplicaAssignment replica, const std::atomic<bool>* stop)
    : deps_(std::move(deps)),
      replica_(std::move(replica)),
      stop_(stop),
      master_(deps_.puller->Connect(replica_.master_address, replica_.master_slot, stop)) {}

CycleOutcome CatchUpCycle::Run(const CycleHooks& hooks, const v1::ListUsersResponse* pushed) {
  CycleOutcome outcome;
  outcome.started = deps_.clock->Monotonic();
  absl::StatusOr<std::shared_ptr<const Fd>> root = deps_.slots->Root(replica_.slot);
  absl::Status writable = root.ok() ? CheckWritable((*root)->get()) : root.status();
  absl::StatusOr<bool> pending =
      writable.ok() ? CheckIdentity((*root)->get()) : absl::StatusOr<bool>(writable);
  if (!pending.ok()) {
    outcome.sync = pending.status();
  } else {
    outcome.verify_pending = *pending;
    if (outcome.verify_pending && hooks.identity_pending) hooks.identity_pending();
    SyncAndVerify((*root)->get(), hooks, pushed, &outcome);
  }
  outcome.finished_ms = deps_.clock->NowMs();
  return outcome;
}

void CatchUpCycle::SyncAndVerify(int fd, const CycleHooks& hooks,
                                 const v1::ListUsersResponse* pushed, CycleOutcome* outcome) {
  const std::string& slot = replica_.slot;
  const PeerClient& master = *master_.client;
  if (hooks.take_repairs) {
    StartRepairs(hooks.take_repairs(),
                 SlotQuarantine(fd, slot, deps_.clock, deps_.fs, deps_.quarantine));
  }
  const bool stranded_check = deps_.records->Get(slot).stranded_check_pending();
  // What only a whole catch-up settles: the repairs' users, the stranded
  // check, the verification after an identity change.
  if (!repairing_.empty() || stranded_check || outcome->verify_pending) pushed = nullptr;
  outcome->full = pushed == nullptr;
  std::optional<std::map<std::string, std::set<std::string>>> deleted;
  if (stranded_check) deleted = DeletedAtMaster(master);
  SyncCounters counters;
  StoreSyncContext ctx = deps_.puller->Context(&master, replica_.store, fd, slot, &counters);
  ctx.cancelled = stop_;
  ctx.stranded_check = stranded_check;
  ctx.deleted_at_source = deleted ? &*deleted : nullptr;
  ctx.given_listing = pushed;
  StoreSyncResult partial;
  absl::StatusOr<StoreSyncResult> r = SyncStore(ctx, &partial);
  outcome->sync = r.status();
  if (r.ok()) outcome->synced = std::move(r->listing);
  outcome->lag_ms = r.ok() ? r->lag_ms : partial.lag_ms;
  outcome->blocked_users = partial.blocked_users;
  outcome->bytes_received = counters.bytes_received;
  outcome->files_copied = counters.files_copied;
  const bool complete = r.ok() && partial.blocked_users.empty();
  if (complete && stranded_check) {
    LogInfo("sync",
            absl::StrCat("slot ", slot, ": stranded-mail check done: ",
                         deps_.quarantine->Totals(slot).stranded, " message(s) stranded here"));
    (void)deps_.records->Update(slot,
                                [](SlotRecord* rec) { rec->set_stranded_check_pending(false); });
  }
  if (complete && outcome->verify_pending) {
    outcome->verified = VerifyAfterIdentityChange(fd);
    outcome->verify_pending = !outcome->verified.ok();
  }
  if (complete) FinishRepairs(fd);
}

absl::StatusOr<bool> CatchUpCycle::CheckIdentity(int root) {
  const std::string& slot = replica_.slot;
  const SlotRecord record = deps_.records->Get(slot);
  absl::StatusOr<SlotIdentity> now = ReadSlotIdentity(root);
  if (!now.ok()) return now.status();
  const bool changed = !record.identity().empty() &&
                       (now->instance_id.empty() || now->ToString() != record.identity());
  if (!changed && !record.identity().empty()) return record.verify_pending();
  absl::StatusOr<SlotIdentity> ensured = EnsureSlotIdentity(root, deps_.fs);
  if (!ensured.ok()) return ensured.status();
  if (changed) {
    LogError("sync", absl::StrCat("replica slot ", slot, ": its identity changed (",
                                  record.identity(), " -> ", ensured->ToString(),
                                  "): emptied, replaced or mounted over behind the agent's back; "
                                  "full sync and verification before it is in sync again"));
    // Nothing remembered about the old copy may vouch for the new one.
    SK_RETURN_IF_ERROR(deps_.checkpoints->Clear(slot));
    SK_RETURN_IF_ERROR(deps_.cache->ForgetScope(slot));
  }
  SK_RETURN_IF_ERROR(deps_.records->Update(slot, [&](SlotRecord* r) {
    r->set_identity(ensured->ToString());
    if (changed) r->set_verify_pending(true);
  }));
  return changed || record.verify_pending();
}

void CatchUpCycle::StartRepairs(const std::vector<ScrubFinding>& repairs,
                                const SlotQuarantine& quarantine) {
  for (const ScrubFinding& f : repairs) {
    QuarantineNote note{kReasonCorrupt, f.found};
    // A missing file has nothing to set aside: its user's next sync brings
    // it back.
    absl::StatusOr<v1::QuarantineItem> moved =
        f.missing ? absl::StatusOr<v1::QuarantineItem>(v1::QuarantineItem())
                  : quarantine.Move(f.user, f.path, note);
    if (!moved.ok()) {
      if (!absl::IsNotFound(moved.status())) {
        LogWarning("sync", absl::StrCat("slot ", quarantine.slot(), ": cannot move corrupt ",
                                        f.user, "/", f.path, " aside: ", moved.status().message()));
      }
      continue;
    }
    deps_.cache->Forget(HashCacheKey(quarantine.slot(), f.user, f.path));
    (void)deps_.checkpoints->Forget(quarantine.slot(), f.user);  // the user's next sync walks it
    repairing_.push_back(f);
  }
}

void CatchUpCycle::FinishRepairs(int root) {
  uint64_t repaired = 0;
  for (const ScrubFinding& f : repairing_) {
    absl::StatusOr<Fd> dir = OpenUserDir(root, f.user, /*create=*/false);
    struct stat st;
    if (dir.ok() && fstatat(dir->get(), f.path.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0) {
      LogInfo("sync", absl::StrCat("slot ", replica_.slot, ": ", f.user, "/", f.path,
                                   " repaired from ", replica_.master_address));
      ++repaired;
    }
  }
  repairing_.clear();
  if (deps_.on_repaired) deps_.on_repaired(replica_.slot, repaired);
}

absl::Status CatchUpCycle::VerifyAfterIdentityChange(int root) {
  const PeerClient& master = *master_.client;
  absl::StatusOr<VerifyReport> report =
      VerifyAgainstSource(master, "", root, replica_.slot, deps_.cache);
  if (!report.ok()) return report.status();
  if (!report->consistent()) {
    return absl::DataLossError(absl::StrCat(
        "after the slot's identity changed: verification found ", report->differences.size(),
        " difference(s); first: ", report->differences.front().path));
  }
  LogInfo("sync",
          absl::StrCat("replica slot ", replica_.slot, ": verified against ", master.source_name(),
                       " after its identity changed (", report->files_checked, " files)"));
  return deps_.records->Update(replica_.slot, [](SlotRecord* r) { r->set_verify_pending(false); });
}

}  // namespace slotkeeper::sync
