#include "tools/slotfence/fence_policy.h"

#include "absl/strings/str_cat.h"
#include "replicator/lease_file.h"

namespace slotkeeper::fence {

Verdict Judge(const absl::StatusOr<std::string>& file, absl::Duration now,
              const Expectation& expect) {
  if (!file.ok()) {
    if (file.status().code() == absl::StatusCode::kNotFound) {
      return {false, "the lease file is gone: the slot no longer serves as master"};
    }
    return {false, absl::StrCat("cannot read the lease file: ", file.status().message())};
  }
  absl::StatusOr<replicator::LeaseFileContents> lease = replicator::ParseLeaseFile(*file);
  if (!lease.ok()) return {false, std::string(lease.status().message())};
  if (!expect.store.empty() && lease->store != expect.store) {
    return {false, absl::StrCat("the lease is for store ", lease->store, ", not ", expect.store)};
  }
  if (expect.epoch != 0 && lease->epoch != expect.epoch) {
    return {false, absl::StrCat("the lease is for epoch ", lease->epoch, ", not ", expect.epoch)};
  }
  if (lease->serving_until <= now) {
    return {false,
            absl::StrCat("the lease ran out ", absl::FormatDuration(now - lease->serving_until),
                         " ago without renewal")};
  }
  return {true, absl::StrCat("lease of ", lease->store, "@", lease->epoch, " valid for ",
                             absl::FormatDuration(lease->serving_until - now))};
}

}  // namespace slotkeeper::fence
