#include "replicator/sync/quarantine.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <functional>
#include <utility>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "base/log.h"
#include "replicator/sync/dir_walker.h"
#include "replicator/sync/maildir.h"

namespace slotkeeper::sync {
namespace {

// Names `base`, then "base.1", "base.2", ... in turn until `place` (a
// rename or link to that name) does not find it taken; the name used.
absl::StatusOr<std::string> PlaceInto(
    const std::string& base, const std::function<absl::Status(const std::string&)>& place) {
  for (int attempt = 0; attempt < 1000; ++attempt) {
    std::string name = attempt == 0 ? base : absl::StrCat(base, ".", attempt);
    absl::Status s = place(name);
    if (absl::IsAlreadyExists(s)) continue;
    if (!s.ok()) return s;
    return name;
  }
  return absl::ResourceExhaustedError(absl::StrCat("quarantine: too many copies of ", base));
}

// Checks a user's path that is about to be quarantined: a valid relative
// path, except that its own name may carry kTempPrefix (a leftover of an
// interrupted sync).
absl::Status CheckQuarantinedPath(absl::string_view user, absl::string_view path) {
  if (absl::Status s = ValidateUserName(user); !s.ok()) return s;
  auto [dir, base] = SplitDirBase(path);
  std::string checked(path);
  if (absl::StartsWith(base, kTempPrefix)) {
    checked =
        absl::StrCat(path.substr(0, path.size() - base.size()), base.substr(kTempPrefix.size()));
  }
  if (absl::Status s = ValidateRelativePath(checked); !s.ok()) {
    return absl::InvalidArgumentError(absl::StrCat("path \"", path, "\": ", s.message()));
  }
  return absl::OkStatus();
}

// Lists every regular file below a quarantined user directory `dir` (id
// prefix `id_prefix`) in the index.
class ReleasedFiles : public DirVisitor {
 public:
  ReleasedFiles(std::function<void(const std::string& rel, uint64_t size)> note)
      : note_(std::move(note)) {}
  absl::StatusOr<bool> Visit(const WalkDir& dir, const DirEntry& e,
                             const std::string& rel) override {
    struct stat st;
    if (fstatat(dir.fd, e.name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) return false;
    if (S_ISDIR(st.st_mode)) return true;
    if (S_ISREG(st.st_mode)) note_(rel, static_cast<uint64_t>(st.st_size));
    return false;
  }
  absl::Status Unreadable(const std::string&, const absl::Status&) override {
    return absl::OkStatus();  // what cannot be listed is still kept
  }

 private:
  std::function<void(const std::string&, uint64_t)> note_;
};

}  // namespace

std::string QuarantineDay(absl::Time t) {
  return absl::FormatTime("%Y-%m-%d", t, absl::UTCTimeZone());
}

SlotQuarantine::SlotQuarantine(int slot_root, std::string slot, Clock* clock, TargetFs* fs,
                               QuarantineIndex* index)
    : root_(slot_root), slot_(std::move(slot)), clock_(clock), fs_(fs), index_(index) {}

absl::StatusOr<Fd> SlotQuarantine::TodayDir(absl::string_view user, absl::string_view rel_dir,
                                            std::string* id_prefix) const {
  *id_prefix = absl::StrCat(QuarantineDay(clock_->Now()), "/", user);
  if (!rel_dir.empty()) absl::StrAppend(id_prefix, "/", rel_dir);
  return OpenDirBeneath(root_, absl::StrCat(kQuarantineDir, "/", *id_prefix), /*create=*/true);
}

v1::QuarantineItem SlotQuarantine::Record(const std::string& id, absl::string_view user,
                                          absl::string_view path, uint64_t size,
                                          const QuarantineNote& note) const {
  v1::QuarantineItem item;
  item.set_id(id);
  item.set_user(std::string(user));
  item.set_path(std::string(path));
  item.set_size(size);
  item.set_quarantined_ms(clock_->NowMs());
  item.set_reason(note.reason);
  if (note.reason != kReasonLeftover) item.set_maildir_key(MaildirUniqueKey(path));
  item.set_hash(note.hash);
  if (index_ != nullptr) {
    QuarantineRecord record;
    *record.mutable_item() = item;
    // The file is safe either way; an unlisted one is purged with its day.
    if (absl::Status s = index_->Put(slot_, record); !s.ok()) {
      LogWarning("sync", absl::StrCat("slot ", slot_, ": ", id, " not listed: ", s.message()));
    }
  }
  return item;
}

absl::StatusOr<v1::QuarantineItem> SlotQuarantine::Move(absl::string_view user,
                                                        absl::string_view path,
                                                        const QuarantineNote& note) const {
  if (absl::Status s = CheckQuarantinedPath(user, path); !s.ok()) return s;
  auto [dir, base] = SplitDirBase(path);
  absl::StatusOr<Fd> from = OpenUserDir(root_, user, /*create=*/false);
  if (!from.ok()) return from.status();
  if (!dir.empty()) {
    from = OpenDirBeneath(from->get(), dir, false);
    if (!from.ok()) return from.status();
  }
  const std::string name(base);
  struct stat st;
  if (fstatat(from->get(), name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) {
    return ErrnoStatus(errno, absl::StrCat("stat ", path));
  }
  std::string id_prefix;
  absl::StatusOr<Fd> to = TodayDir(user, dir, &id_prefix);
  if (!to.ok()) return to.status();
  absl::StatusOr<std::string> placed = PlaceInto(name, [&](const std::string& n) {
    return fs_->RenameNoReplace(from->get(), name, to->get(), n);
  });
  if (!placed.ok()) return placed.status();
  return Record(absl::StrCat(id_prefix, "/", *placed), user, path,
                static_cast<uint64_t>(st.st_size), note);
}

absl::StatusOr<v1::QuarantineItem> SlotQuarantine::Keep(absl::string_view user,
                                                        absl::string_view path, int dirfd,
                                                        const std::string& name,
                                                        const QuarantineNote& note) const {
  if (absl::Status s = CheckQuarantinedPath(user, path); !s.ok()) return s;
  struct stat st;
  if (fstatat(dirfd, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) {
    return ErrnoStatus(errno, absl::StrCat("stat ", path));
  }
  std::string id_prefix;
  absl::StatusOr<Fd> to = TodayDir(user, SplitDirBase(path).first, &id_prefix);
  if (!to.ok()) return to.status();
  absl::StatusOr<std::string> placed =
      PlaceInto(name, [&](const std::string& n) { return fs_->Link(dirfd, name, to->get(), n); });
  if (!placed.ok()) return placed.status();
  return Record(absl::StrCat(id_prefix, "/", *placed), user, path,
                static_cast<uint64_t>(st.st_size), note);
}

absl::Status SlotQuarantine::MoveUserDir(absl::string_view user, absl::string_view reason) const {
  if (absl::Status s = ValidateUserName(user); !s.ok()) return s;
  absl::StatusOr<Fd> users = OpenUsersDir(root_);
  if (!users.ok()) return users.status();
  const std::string day = QuarantineDay(clock_->Now());
  absl::StatusOr<Fd> to = OpenDirBeneath(root_, absl::StrCat(kQuarantineDir, "/", day), true);
  if (!to.ok()) return to.status();
  const std::string name(user);
  absl::StatusOr<std::string> placed = PlaceInto(name, [&](const std::string& n) {
    return fs_->RenameNoReplace(users->get(), name, to->get(), n);
  });
  if (!placed.ok()) return placed.status();
  if (index_ == nullptr) return absl::OkStatus();
  absl::StatusOr<Fd> moved = OpenSubdir(to->get(), *placed);
  if (!moved.ok()) return absl::OkStatus();  // moved; only the listing is missing
  const std::string id_prefix = absl::StrCat(day, "/", *placed, "/");
  QuarantineNote note;
  note.reason = std::string(reason);
  ReleasedFiles lister([&](const std::string& rel, uint64_t size) {
    Record(id_prefix + rel, user, rel, size, note);
  });
  return WalkTree(moved->get(), &lister);
}

absl::StatusOr<Fd> OpenQuarantined(int slot_root, const std::string& id) {
  auto [dir, base] = SplitDirBase(id);
  if (dir.empty() || base.empty() || base == "." || base == ".." ||
      !ValidateRelativePath(dir).ok()) {
    return absl::InvalidArgumentError(absl::StrCat("\"", id, "\" is not a quarantine item"));
  }
  absl::StatusOr<Fd> d = OpenDirBeneath(slot_root, absl::StrCat(kQuarantineDir, "/", dir), false);
  if (!d.ok()) return d.status();
  // Never blocking on a FIFO, never through a symlink (OpenRegularFile).
  struct stat st;
  absl::StatusOr<Fd> file = OpenRegularFile(d->get(), std::string(base), O_RDONLY, &st);
  if (!file.ok()) {
    return absl::Status(file.status().code(),
                        absl::StrCat("quarantine item ", id, ": ", file.status().message()));
  }
  return file;
}

}  // namespace slotkeeper::sync
