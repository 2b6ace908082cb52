#include "replicator/sync/peer_authorizer.h"

#include "absl/strings/str_cat.h"

namespace slotkeeper::sync {

PeerAuthorizer::PeerAuthorizer(bool anonymous_allowed, std::set<std::string> always_allowed)
    : anonymous_allowed_(anonymous_allowed), always_allowed_(std::move(always_allowed)) {}

void PeerAuthorizer::Update(const v1::PeerGrants& grants) {
  std::map<std::string, std::set<std::string>> readers;
  for (const v1::SlotGrant& g : grants.slots()) {
    readers[g.slot()].insert(g.hosts().begin(), g.hosts().end());
  }
  absl::MutexLock lock(&mu_);
  readers_ = std::move(readers);
}

absl::Status PeerAuthorizer::Check(const std::string& identity, const std::string& slot) const {
  if (identity.empty()) {
    if (anonymous_allowed_) return absl::OkStatus();
    return absl::PermissionDeniedError(
        absl::StrCat("slot ", slot, ": an anonymous caller may not read it"));
  }
  if (always_allowed_.count(identity) > 0) return absl::OkStatus();
  absl::MutexLock lock(&mu_);
  auto it = readers_.find(slot);
  if (it != readers_.end() && it->second.count(identity) > 0) return absl::OkStatus();
  return absl::PermissionDeniedError(
      absl::StrCat("slot ", slot, ": ", identity,
                   " may not read it (only hosts holding or receiving a copy of its store)"));
}

}  // namespace slotkeeper::sync
