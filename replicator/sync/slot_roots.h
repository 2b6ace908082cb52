// SlotRoots: the host's slot directories as the engine reaches them.
//
// Each slot's directory is opened once and kept; Root() looks at the path
// again (one stat) and opens it anew when the path now names another
// directory than the one held (the slot directory was replaced, an older
// copy put back, a filesystem mounted over it), so no work keeps writing
// into a directory that is no longer the slot. A descriptor handed out
// stays valid for as long as its holder keeps it, even after a reopen.
//
// Thread-safe.
#ifndef SLOTKEEPER_REPLICATOR_SYNC_SLOT_ROOTS_H_
#define SLOTKEEPER_REPLICATOR_SYNC_SLOT_ROOTS_H_

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "replicator/sync/paths.h"

namespace slotkeeper::sync {

class SlotRoots {
 public:
  // `paths`: slot name -> absolute directory. Opens each (a failure is
  // logged; Root tries again).
  explicit SlotRoots(std::map<std::string, std::string> paths);

  // The slot's directory now. NOT_FOUND for a slot this host does not have
  // or whose directory cannot be opened.
  absl::StatusOr<std::shared_ptr<const Fd>> Root(const std::string& slot);
  const std::map<std::string, std::string>& paths() const { return paths_; }
  std::vector<std::string> names() const;

 private:
  const std::map<std::string, std::string> paths_;
  absl::Mutex mu_;
  std::map<std::string, std::shared_ptr<const Fd>> roots_ ABSL_GUARDED_BY(mu_);
};

}  // namespace slotkeeper::sync

#endif  // SLOTKEEPER_REPLICATOR_SYNC_SLOT_ROOTS_H_
