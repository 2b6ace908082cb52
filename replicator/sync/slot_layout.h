// The on-disk layout of a slot, with one owner:
//
//   <slot>/.slotkeeper-store       the store the slot holds (one line); absent
//                                  in a spare slot
//   <slot>/users/<user>/...        each user's mail (Maildir), one directory
//                                  per valid user name (ValidateUserName)
//   <slot>/.quarantine/<day>/...   what a replica moved aside instead of
//                                  deleting it (quarantine.h)
//   <slot>/.slotkeeper-instance    the slot's instance id (one line): random,
//                                  written on this host when the slot is
//                                  first synced into or seeded, never copied
//                                  from a peer (it is outside users/)
//
// The data path (both sides) and the agent's slot scan (replicator/
// host_probes) reach these names only through this header, so "which store,
// which users" has one answer. Everything is opened below a slot root
// descriptor with O_NOFOLLOW.
//
// Thread-safe free functions.
#ifndef SLOTKEEPER_REPLICATOR_SYNC_SLOT_LAYOUT_H_
#define SLOTKEEPER_REPLICATOR_SYNC_SLOT_LAYOUT_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "replicator/sync/paths.h"
#include "replicator/sync/target_fs.h"

namespace slotkeeper::sync {

inline constexpr absl::string_view kStoreMarker = ".slotkeeper-store";
inline constexpr absl::string_view kUsersDir = "users";
inline constexpr absl::string_view kQuarantineDir = ".quarantine";
inline constexpr absl::string_view kInstanceFile = ".slotkeeper-instance";

// "users/<user>": a user's directory relative to the slot root (also for
// messages; `user` is not checked).
std::string UserDirPath(absl::string_view user);

// Opens <slot>/users. NOT_FOUND when the slot has none yet.
absl::StatusOr<Fd> OpenUsersDir(int slot_root);

// Opens <slot>/users/<user> after checking the name (ValidateUserName).
// With `create`, missing directories are created (mode 0755).
absl::StatusOr<Fd> OpenUserDir(int slot_root, absl::string_view user, bool create);

// The users of a slot, sorted: the directories under users/ named by valid
// user names. Anything else there is skipped with a warning. Empty when the
// slot has no users/ directory.
absl::StatusOr<std::vector<std::string>> ListSlotUsers(int slot_root);

// The store named by the slot's marker, surrounding whitespace removed.
// NOT_FOUND when there is no marker (a spare slot).
absl::StatusOr<std::string> ReadStoreMarker(int slot_root);

// Writes the marker naming `store`: a temporary file made durable, renamed
// over the marker, then the slot directory made durable. On error the old
// marker (if any) stays and the temporary file is removed.
absl::Status WriteStoreMarker(int slot_root, const std::string& store, TargetFs* fs);

// Makes the slot's marker name `store`: nothing when it does already (a
// catch-up cycle runs this every time, and a marker rewrite costs two
// fsyncs), else WriteStoreMarker. A marker that names the store was made
// durable by the WriteStoreMarker that wrote it; one written by hand is
// taken as it is.
absl::Status EnsureStoreMarker(int slot_root, const std::string& store, TargetFs* fs);

// What makes a slot this slot and not another with the same name: its
// instance id, and the inode and filesystem (st_dev) of its directory. An
// emptied slot loses its instance file; a slot directory replaced (an
// older copy put back, another filesystem mounted there) has another inode
// or device. Checkpoints name it (checkpoint_store.h): a copy whose
// identity changed holds unknown content.
struct SlotIdentity {
  std::string instance_id;  // empty: no instance file
  uint64_t device = 0;
  uint64_t inode = 0;
  // "instance:device:inode", as checkpoints and records keep it.
  std::string ToString() const;
  bool operator==(const SlotIdentity& o) const {
    return instance_id == o.instance_id && device == o.device && inode == o.inode;
  }
};

// The identity of the slot whose root directory is `slot_root` (an empty
// instance_id when the slot has no instance file).
absl::StatusOr<SlotIdentity> ReadSlotIdentity(int slot_root);

// The slot's identity, writing a new random instance id first when it has
// none (like the store marker: temporary file, fsync, rename, fsync).
absl::StatusOr<SlotIdentity> EnsureSlotIdentity(int slot_root, TargetFs* fs);

}  // namespace slotkeeper::sync

#endif  // SLOTKEEPER_REPLICATOR_SYNC_SLOT_LAYOUT_H_
