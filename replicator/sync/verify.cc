#include "replicator/sync/verify.h"

#include <set>

#include "absl/strings/str_cat.h"
#include "base/grpc_util.h"
#include "replicator/sync/slot_layout.h"
#include "replicator/sync/user_sync.h"

namespace slotkeeper::sync {

absl::StatusOr<VerifyReport> VerifyAgainstSource(v1::ReplicaPeer::StubInterface* stub,
                                                 const std::string& source_slot,
                                                 const std::string& only_user, int local_root,
                                                 const std::string& local_scope, HashCache* cache) {
  v1::ListUsersRequest request;
  request.set_slot(source_slot);
  v1::ListUsersResponse listed;
  grpc::ClientContext call;
  absl::Status s = FromGrpcStatus(stub->ListUsers(&call, request, &listed));
  if (!s.ok()) return absl::Status(s.code(), absl::StrCat("ListUsers: ", s.message()));
  VerifyReport report;
  std::set<std::string> source_users;
  for (const v1::UserSummary& u : listed.users()) {
    if (!only_user.empty() && u.user() != only_user) continue;
    source_users.insert(u.user());
    absl::StatusOr<Manifest> master = FetchManifest(stub, source_slot, u.user(), nullptr);
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
