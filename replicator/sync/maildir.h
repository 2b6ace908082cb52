// The Maildir rules the data path relies on, in one place.
//
// A Maildir folder is a directory holding "cur" (and normally "new" and
// "tmp" beside it); a user directory is one, and so is each subfolder
// (".Sent", ".Archive", ...). Its cur/, new/ and tmp/ are message
// directories: they hold message files only, never folders, so a walk that
// looks for directories need not read them. tmp/ holds deliveries still
// being written: manifests list the directory but never enter it, so such a
// file is neither copied nor removed. A "cur", "new" or "tmp" outside a
// Maildir folder (no "cur" beside it) is an ordinary directory.
//
// A message is a file directly in a cur/ or new/ directory; its unique part
// (what stays when the mail server renames it for a flag change or a move
// from new/ to cur/) is the file name before ":2," (its flags).
//
// Thread-safe free functions.
#ifndef SLOTKEEPER_REPLICATOR_SYNC_MAILDIR_H_
#define SLOTKEEPER_REPLICATOR_SYNC_MAILDIR_H_

#include <string>

#include "absl/strings/string_view.h"

namespace slotkeeper::sync {

// Whether the directory `name` in `parent_fd` is a message directory: "cur",
// "new" or "tmp" of a Maildir folder (`parent_fd` holds "cur").
bool IsMessageDir(int parent_fd, absl::string_view name);

// Whether the directory `name` in `parent_fd` is the tmp/ of a Maildir
// folder: listed, never entered.
bool IsDeliveryDir(int parent_fd, absl::string_view name);

// Whether the directory `dir` (a relative path below `user_dir`, "" for the
// user directory itself) is a delivery directory or lies inside one. Looks
// at the tree (opens directories below `user_dir`).
bool IsInDeliveryDir(int user_dir, absl::string_view dir);

// True for Maildir message paths: a file directly in a "cur" or "new"
// directory.
bool IsMaildirMessage(absl::string_view path);

// The Maildir unique part of a message path: the basename before ":2," in
// cur/, the whole basename in new/; empty for other files.
std::string MaildirUniqueKey(absl::string_view path);

}  // namespace slotkeeper::sync

#endif  // SLOTKEEPER_REPLICATOR_SYNC_MAILDIR_H_
