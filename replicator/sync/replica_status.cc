#include "replicator/sync/replica_status.h"

#include <algorithm>

#include "absl/strings/str_cat.h"

namespace slotkeeper::sync {

void RecordCycle(const CycleOutcome& outcome, CatchUpRecord* record) {
  CatchUpRecord& c = *record;
  const bool sync_ok = outcome.sync.ok();
  c.blocked_users = outcome.blocked_users;
  c.identity_changed = outcome.verify_pending;
  c.last_cycle_ok = sync_ok && outcome.blocked_users.empty() && outcome.verified.ok();
  c.listed_lag_ms = sync_ok ? outcome.lag_ms : std::max(c.listed_lag_ms, outcome.lag_ms);
  if (!sync_ok) {
    c.last_error = std::string(outcome.sync.message());
  } else if (!outcome.blocked_users.empty()) {
    c.last_error =
        absl::StrCat(outcome.blocked_users.size(), " user(s) blocked by the mass-deletion guard");
  } else if (!outcome.verified.ok()) {
    c.last_error = std::string(outcome.verified.message());
  } else {
    c.last_error.clear();
  }
  if (sync_ok) c.last_success_ms = outcome.finished_ms;
  // A cycle of pushed users proves nothing of the others: the feed's own
  // caught-up moment stands for those (JudgeReplica).
  if (c.last_cycle_ok && !outcome.verify_pending && outcome.full) c.caught_up_at = outcome.started;
}

void RecordVerification(const VerifyReport& report, absl::Duration started, CatchUpRecord* record) {
  CatchUpRecord& c = *record;
  if (report.consistent()) {
    // The copy equalled the master when the verification started.
    c.verification_failed = false;
    c.last_cycle_ok = true;
    c.last_error.clear();
    if (!c.caught_up_at || *c.caught_up_at < started) c.caught_up_at = started;
    return;
  }
  // A catch-up does not look at users at their checkpoint: only a
  // verification that finds no difference clears this.
  c.verification_failed = true;
  c.last_error = absl::StrCat("verification: ", report.differences.size(),
                              " difference(s); first: ", report.differences.front().path);
}

void RecordFinalPull(const FinalPullOutcome& outcome, const std::string& followed_slot,
                     CatchUpRecord* record) {
  if (!outcome.pull.ok() || outcome.source_slot != followed_slot || outcome.verify_pending) {
    return;
  }
  CatchUpRecord& c = *record;
  if (c.caught_up_at) return;  // the resumed loop has caught up on its own
  c.caught_up_at = outcome.started;
  c.last_cycle_ok = true;
  c.verification_failed = outcome.verification_failed;
  c.listed_lag_ms = 0;
  c.last_success_ms = outcome.finished_ms;
  c.last_error.clear();
}

ReplicaVerdict JudgeReplica(const CatchUpRecord& given, absl::Duration now,
                            absl::Duration stale_after) {
  ReplicaVerdict v;
  CatchUpRecord record = given;
  int64_t feed_lag_ms = 0;
  if (record.feed_live && record.feed_caught_up_to) {
    if (!record.caught_up_at || *record.caught_up_at < *record.feed_caught_up_to) {
      record.caught_up_at = record.feed_caught_up_to;
    }
    // The feed's figure replaces the one the last listing showed.
    record.listed_lag_ms = 0;
  }
  if (record.feed_live && record.feed_oldest_pending) {
    feed_lag_ms =
        std::max<int64_t>(0, absl::ToInt64Milliseconds(now - *record.feed_oldest_pending));
    record.listed_lag_ms = std::max(record.listed_lag_ms, feed_lag_ms);
  }
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
