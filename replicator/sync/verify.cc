#include "replicator/sync/verify.h"

#include <set>

#include "absl/strings/str_cat.h"
#include "replicator/sync/slot_layout.h"

namespace slotkeeper::sync {

absl::StatusOr<VerifyReport> VerifyAgainstSource(const PeerClient& source,
                                                 const std::string& only_user, int local_root,
                                                 const std::string& local_scope, HashCache* cache) {
  absl::StatusOr<v1::ListUsersResponse> listed = source.ListUsers(/*store=*/"");
  if (!listed.ok()) return listed.status();
  VerifyReport report;
  std::set<std::string> source_users;
  for (const v1::UserSummary& u : listed->users()) {
    if (!only_user.empty() && u.user() != only_user) continue;
    source_users.insert(u.user());
    absl::StatusOr<Manifest> master = source.GetManifest(u.user(), nullptr);
    if (!master.ok()) return master.status();
    absl::StatusOr<Manifest> replica = ScanUser(local_root, local_scope, u.user(), cache, nullptr);
    if (!replica.ok()) return replica.status();
    report.users_checked++;
    for (const ManifestEntry& e : *master) report.files_checked += e.directory() ? 0 : 1;
    for (Difference& d : CompareManifests(*master, *replica)) {
      d.path = absl::StrCat(u.user(), "/", d.path);
      report.differences.push_back(std::move(d));
    }
  }
  if (only_user.empty()) {
    absl::StatusOr<std::vector<std::string>> local_users = ListSlotUsers(local_root);
    if (!local_users.ok()) return local_users.status();
    for (const std::string& u : *local_users) {
      if (!source_users.count(u)) {
        report.differences.push_back({Difference::kExtraOnReplica, u + "/"});
      }
    }
  }
  return report;
}

}  // namespace slotkeeper::sync
