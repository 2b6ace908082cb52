#include "replicator/sync/replica_status.h"

#include <algorithm>

#include "absl/strings/str_cat.h"

namespace slotkeeper::sync {

ReplicaVerdict JudgeReplica(const CatchUpRecord& record, absl::Duration now,
                            absl::Duration stale_after) {
  ReplicaVerdict v;
  const absl::Duration since = record.caught_up_at.value_or(record.assigned_at);
  const int64_t age_ms = std::max<int64_t>(0, absl::ToInt64Milliseconds(now - since));
  if (record.identity_changed) {
    v.why_not =
        "the slot's identity changed (emptied, replaced or mounted over): full sync and "
        "verification pending";
  } else if (!record.caught_up_at) {
    v.why_not = "no catch-up has completed since the agent started";
  } else if (record.verification_failed) {
    v.why_not = "a verification found differences";
  } else if (!record.last_cycle_ok) {
    v.why_not = "the last catch-up did not complete";
  } else if (now - *record.caught_up_at > stale_after) {
    v.why_not = absl::StrCat("no catch-up has completed for ",
                             absl::FormatDuration(now - *record.caught_up_at));
  } else {
    v.in_sync = true;
    v.lag_ms = record.listed_lag_ms;
    return v;
  }
  if (!record.last_error.empty()) absl::StrAppend(&v.why_not, ": ", record.last_error);
  v.lag_ms = std::max(record.listed_lag_ms, age_ms);
  return v;
}

}  // namespace slotkeeper::sync
