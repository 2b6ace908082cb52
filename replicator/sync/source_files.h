// Which files a source serves: the rule applied before any file of a slot
// is hashed for a manifest, sent inline with a delta or streamed by
// FetchFiles.
//
// A file is served only when it is
// - a regular file, opened with O_NONBLOCK | O_NOFOLLOW (OpenRegularFile):
//   a FIFO, socket or device in a Maildir (a local user's mkfifo) is skipped
//   and logged, never opened blocking, so it cannot hold a source thread;
//   a symlink is never followed;
// - on the slot's filesystem (st_dev of the slot root): a file or directory
//   mounted into a Maildir from elsewhere is not part of the slot;
// - with one link, or else owned by the owner of the user's directory.
//
// The last rule is about hard links. Whoever can write into a Maildir can
// hard-link into it any file of the same filesystem they can name (with
// fs.protected_hardlinks = 0, even files they cannot read): /etc/shadow
// when the slot shares the root filesystem, another user's mail. The agent
// runs as root and would read and ship it. Whether the other names of a
// linked file are inside the slot cannot be told without walking the whole
// filesystem, so the rule looks at the owner instead:
// - it stops links to files of anyone but the mail account that owns the
//   user's directory: root's files (/etc/shadow), other accounts' files,
//   another system user's mail;
// - it allows what Dovecot does itself: one delivery hard-linked into
//   several users' Maildirs, a message copied between folders by a link,
//   all owned by the mail account (vmail, or the system user) that owns
//   the user directories; and the data path's own temporary second names
//   (the quarantine's), owned like the files they name;
// - it does not stop a link to another file of that same account outside
//   the slot: whoever can make it can read that file anyway (it is theirs),
//   so serving it gives them nothing they lack. With one shared mail
//   account, an attacker holding that account reads every user's mail
//   already; that is outside what a data path can defend.
//
// Thread-safety: free functions over descriptors.
#ifndef SLOTKEEPER_REPLICATOR_SYNC_SOURCE_FILES_H_
#define SLOTKEEPER_REPLICATOR_SYNC_SOURCE_FILES_H_

#include <sys/stat.h>
#include <sys/types.h>

#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "replicator/sync/paths.h"

namespace slotkeeper::sync {

// What a user's files are judged against.
struct ServeScope {
  dev_t device = 0;      // st_dev of the slot root
  uid_t user_owner = 0;  // st_uid of the user's directory
};

// The scope of the user directory `user_dir` of the slot `slot_root`.
// FAILED_PRECONDITION when the user directory is on another filesystem
// than the slot (something is mounted there).
absl::StatusOr<ServeScope> ServeScopeOf(int slot_root, int user_dir);

// The scope of `user_dir` alone (its own filesystem): for callers that
// hold no slot root descriptor.
absl::StatusOr<ServeScope> ServeScopeOfUserDir(int user_dir);

// OK when the regular file stat'ed as `st` (at `rel`, for the message) may
// be served under `scope`; FAILED_PRECONDITION naming the rule it breaks.
absl::Status CheckServable(const ServeScope& scope, const struct stat& st, absl::string_view rel);

// OpenRegularFile (read-only, plus `flags`), then CheckServable on the
// open descriptor's stat. `rel` names the file in errors.
absl::StatusOr<Fd> OpenServable(int dirfd, const std::string& name, absl::string_view rel,
                                const ServeScope& scope, struct stat* st, int flags = 0);

}  // namespace slotkeeper::sync

#endif  // SLOTKEEPER_REPLICATOR_SYNC_SOURCE_FILES_H_
