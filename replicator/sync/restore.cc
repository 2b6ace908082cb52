#include "replicator/sync/restore.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>

#include <map>
#include <set>
#include <utility>

#include "absl/strings/str_cat.h"
#include "base/log.h"
#include "base/status_macros.h"
#include "replicator/sync/install.h"
#include "replicator/sync/maildir.h"
#include "replicator/sync/manifest.h"
#include "replicator/sync/slot_layout.h"

namespace slotkeeper::sync {
namespace {

// The content of a quarantined item, received into a temporary file of
// `dirfd` and checked.
struct Received {
  std::string temp;
  Fd file;
  int64_t mtime_ns = 0;
  uint32_t mode = 0600;
};

// Receives item `item` from `holder` into a new temporary file in `dirfd`.
// The content must match the item's listed hash (when it has one) and the
// hash the holder computed while sending.
absl::StatusOr<Received> Receive(const PlacementTarget& target, const PeerClient& holder,
                                 const v1::QuarantineItem& item, int dirfd) {
  Received r;
  r.temp = NewTempName();
  SK_ASSIGN_OR_RETURN(r.file, target.fs->CreateFile(dirfd, r.temp, 0600));
  std::unique_ptr<FileStream> stream = holder.FetchQuarantined(item.id(), target.cancelled);
  ContentHasher hasher;
  std::string sent_hash;
  uint64_t received = 0;
  absl::Status status;
  v1::FileChunk chunk;
  for (;;) {
    absl::StatusOr<bool> more = stream->Read(&chunk);
    if (!more.ok()) status = more.status();
    if (!more.ok() || !*more) break;
    if (!chunk.error().empty()) {
      status = absl::DataLossError(absl::StrCat(item.id(), ": ", chunk.error()));
      break;
    }
    received += chunk.data().size();
    if (received > item.size()) {  // a peer may not fill the disk
      status = absl::DataLossError(
          absl::StrCat(item.id(), ": more than its listed ", item.size(), " bytes sent"));
      break;
    }
    status = target.fs->Write(r.file.get(), chunk.data().data(), chunk.data().size());
    if (!status.ok()) break;
    hasher.Update(chunk.data().data(), chunk.data().size());
    if (chunk.eof()) {
      sent_hash = chunk.hash();
      r.mtime_ns = chunk.mtime_ns();
      if (chunk.mode() != 0) r.mode = chunk.mode();
    }
  }
  if (!status.ok()) stream->Cancel();
  status.Update(stream->Finish());
  const std::string got = hasher.Finish();
  if (status.ok() && (got != sent_hash || (!item.hash().empty() && got != item.hash()))) {
    status = absl::DataLossError(
        absl::StrCat(item.id(), ": received content does not match its hash; not restored"));
  }
  if (status.ok()) status = target.fs->Sync(r.file.get());
  if (!status.ok()) {
    (void)target.fs->Unlink(dirfd, r.temp);
    return status;
  }
  return r;
}

enum class Placed { kPlaced, kNameTaken, kPathTaken, kDeleted };

// Places one item at users/<item.user>/<item.path> unless that would
// duplicate (`keys`: the unique names the user's mailbox holds, kept up to
// date) or resurrect (`deleted` may be null) a message, or replace a file.
absl::StatusOr<Placed> PlaceItem(const PlacementTarget& target, const PeerClient& holder,
                                 const v1::QuarantineItem& item, std::set<std::string>* keys,
                                 const std::set<std::string>* deleted) {
  SK_RETURN_IF_ERROR(ValidateUserName(item.user()));
  SK_RETURN_IF_ERROR(ValidateRelativePath(item.path()));
  // The unique name as this side reads the path (a peer's word for it is
  // not trusted: a wrong one would let a duplicate in).
  const std::string key = MaildirUniqueKey(item.path());
  if (!key.empty() && keys->count(key)) return Placed::kNameTaken;
  if (!key.empty() && deleted != nullptr && deleted->count(key)) return Placed::kDeleted;
  SK_ASSIGN_OR_RETURN(Fd user_dir, OpenUserDir(target.slot_root, item.user(), /*create=*/true));
  auto [dir, base] = SplitDirBase(item.path());
  SK_ASSIGN_OR_RETURN(Fd dirfd, OpenDirBeneath(user_dir.get(), dir, /*create=*/true));
  const std::string name(base);
  struct stat st;
  if (fstatat(dirfd.get(), name.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0) return Placed::kPathTaken;
  SK_ASSIGN_OR_RETURN(Received r, Receive(target, holder, item, dirfd.get()));
  // The mailbox's owner: that of the directory the file goes into.
  absl::Status s;
  if (fstat(dirfd.get(), &st) == 0)
    s = target.fs->SetOwner(dirfd.get(), r.temp, st.st_uid, st.st_gid);
  if (s.ok()) s = target.fs->SetMetadata(dirfd.get(), r.temp, r.mtime_ns, r.mode);
  if (s.ok()) s = target.fs->RenameNoReplace(dirfd.get(), r.temp, dirfd.get(), name);
  if (s.ok()) s = target.fs->Sync(dirfd.get());
  if (!s.ok()) {
    (void)target.fs->Unlink(dirfd.get(), r.temp);
    if (absl::IsAlreadyExists(s)) return Placed::kPathTaken;
    return s;
  }
  if (!key.empty()) keys->insert(key);
  return Placed::kPlaced;
}

// The item `id` as `holder` lists it.
absl::StatusOr<v1::QuarantineItem> FindItem(const PeerClient& holder, const std::string& id) {
  SK_ASSIGN_OR_RETURN(v1::ListQuarantineResponse listed, holder.ListQuarantine("", 0));
  for (const v1::QuarantineItem& item : listed.items()) {
    if (item.id() == id) return item;
  }
  return absl::NotFoundError(
      absl::StrCat(holder.source_name(), " lists no quarantine item \"", id, "\""));
}

}  // namespace

std::string ReconcileReport::Summary() const {
  std::string out = absl::StrCat(placed, " of ", stranded, " stranded message(s) placed, ",
                                 already_present, " already present, ", deleted,
                                 " deleted since the failover, ", failed, " failed");
  if (!first_error.empty()) absl::StrAppend(&out, " (first: ", first_error, ")");
  return out;
}

absl::StatusOr<std::string> RestoreQuarantinedItem(const PlacementTarget& target,
                                                   const PeerClient& holder,
                                                   const std::string& item_id) {
  SK_ASSIGN_OR_RETURN(const v1::QuarantineItem item, FindItem(holder, item_id));
  SK_ASSIGN_OR_RETURN(std::set<std::string> keys, ScanMessageKeys(target.slot_root, item.user()));
  SK_ASSIGN_OR_RETURN(const Placed placed, PlaceItem(target, holder, item, &keys, nullptr));
  const std::string where = absl::StrCat(item.user(), "/", item.path());
  switch (placed) {
    case Placed::kPlaced:
      LogInfo("sync", absl::StrCat("slot ", target.slot, ": restored ", where, " from ",
                                   holder.source_name(), " item ", item_id));
      return where;
    case Placed::kNameTaken:
      return absl::FailedPreconditionError(
          absl::StrCat(where, ": a message named ", item.maildir_key(),
                       " is already in the mailbox; not restored (it would be a duplicate)"));
    case Placed::kPathTaken:
      return absl::FailedPreconditionError(absl::StrCat(where, " exists; not restored over it"));
    case Placed::kDeleted:
      break;
  }
  return absl::InternalError("unreachable");
}

absl::StatusOr<ReconcileReport> ReconcileStranded(const PlacementTarget& target,
                                                  const PeerClient& old_master,
                                                  const std::string& store) {
  if (target.deletion_log == nullptr || !target.deletion_log->Since(target.slot)) {
    return absl::FailedPreconditionError(absl::StrCat(
        "slot ", target.slot, " keeps no deletion log (it is not master): nothing reconciled"));
  }
  SK_ASSIGN_OR_RETURN(const v1::ListStrandedResponse stranded, old_master.ListStranded());
  if (!store.empty() && stranded.store() != store) {
    return absl::FailedPreconditionError(absl::StrCat(old_master.source_name(), " holds store \"",
                                                      stranded.store(), "\", not \"", store, "\""));
  }
  ReconcileReport report;
  report.stranded = stranded.messages_size();
  std::map<std::string, std::vector<std::string>> ids_by_user;
  for (const v1::StrandedMessage& m : stranded.messages()) {
    ids_by_user[m.user()].push_back(m.quarantine_id());
  }
  for (const auto& [user, ids] : ids_by_user) {
    auto fail = [&](const absl::Status& s, uint64_t n) {
      report.failed += n;
      if (report.first_error.empty()) report.first_error = std::string(s.message());
    };
    absl::StatusOr<v1::ListQuarantineResponse> listed = old_master.ListQuarantine(user, 0);
    absl::StatusOr<std::set<std::string>> keys = ScanMessageKeys(target.slot_root, user);
    if (!listed.ok() || !keys.ok()) {
      fail(listed.ok() ? keys.status() : listed.status(), ids.size());
      continue;
    }
    std::set<std::string> deleted;
    for (const v1::DeletedMessage& d : target.deletion_log->List(target.slot, user)) {
      deleted.insert(d.maildir_key());
    }
    const std::set<std::string> wanted(ids.begin(), ids.end());
    for (const v1::QuarantineItem& item : listed->items()) {
      if (!wanted.count(item.id()) || item.user() != user) continue;
      absl::StatusOr<Placed> placed = PlaceItem(target, old_master, item, &*keys, &deleted);
      if (!placed.ok()) {
        fail(placed.status(), 1);
      } else if (*placed == Placed::kPlaced) {
        report.placed++;
      } else if (*placed == Placed::kDeleted) {
        report.deleted++;
      } else {
        report.already_present++;
      }
    }
  }
  LogInfo("sync", absl::StrCat("slot ", target.slot, ": reconciled from ", old_master.source_name(),
                               ": ", report.Summary()));
  return report;
}

}  // namespace slotkeeper::sync
