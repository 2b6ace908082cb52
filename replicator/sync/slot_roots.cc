#include "replicator/sync/slot_roots.h"

#include <sys/stat.h>

#include <utility>

#include "absl/strings/str_cat.h"
#include "base/log.h"

namespace slotkeeper::sync {

SlotRoots::SlotRoots(std::map<std::string, std::string> paths) : paths_(std::move(paths)) {
  absl::MutexLock lock(&mu_);
  for (const auto& [name, path] : paths_) {
    absl::StatusOr<Fd> fd = OpenRootDir(path);
    if (fd.ok()) {
      roots_[name] = std::make_shared<const Fd>(*std::move(fd));
    } else {
      LogWarning("sync", absl::StrCat("slot ", name, ": ", fd.status().message()));
    }
  }
}

std::vector<std::string> SlotRoots::names() const {
  std::vector<std::string> out;
  for (const auto& [name, path] : paths_) out.push_back(name);
  return out;
}

absl::StatusOr<std::shared_ptr<const Fd>> SlotRoots::Root(const std::string& slot) {
  auto path = paths_.find(slot);
  if (path == paths_.end()) {
    return absl::NotFoundError(absl::StrCat("no usable slot named \"", slot, "\" on this host"));
  }
  struct stat now;
  if (stat(path->second.c_str(), &now) != 0 || !S_ISDIR(now.st_mode)) {
    return absl::NotFoundError(
        absl::StrCat("slot ", slot, ": directory ", path->second, " is missing"));
  }
  absl::MutexLock lock(&mu_);
  auto held = roots_.find(slot);
  if (held != roots_.end()) {
    struct stat st;
    if (fstat(held->second->get(), &st) == 0 && st.st_dev == now.st_dev &&
        st.st_ino == now.st_ino) {
      return held->second;
    }
  }
  absl::StatusOr<Fd> fd = OpenRootDir(path->second);
  if (!fd.ok()) {
    return absl::NotFoundError(
        absl::StrCat("no usable slot named \"", slot, "\" on this host: ", fd.status().message()));
  }
  if (held != roots_.end()) {
    LogWarning("sync", absl::StrCat("slot ", slot, ": ", path->second,
                                    " is another directory now; opened it again"));
  }
  std::shared_ptr<const Fd> root = std::make_shared<const Fd>(*std::move(fd));
  roots_[slot] = root;
  return root;
}

}  // namespace slotkeeper::sync
