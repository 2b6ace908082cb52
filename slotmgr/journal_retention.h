// How long the event journal is kept, and which events may go.
//
// The journal would otherwise grow for ever (every report of a condition,
// every audit line). Events go when they are older than max_age or beyond
// the newest max_events — but never an event of trouble still open: the
// floor is when the oldest open trouble began (a host not up, a drive unit
// not online, a store whose master is unusable, automation not running, a
// host paused, a task not finished), and nothing at or after it is pruned,
// so `slotctl incident` and `slotctl events` can always tell an open
// incident from its start. Pruning removes a prefix of the journal (oldest
// sequence numbers first) and stops at the first event it must keep, at
// most kMaxDeletePerPass per pass, so one pass is short. The floor gives
// way only beyond kHardMaxFactor times max_events: a trouble left open for
// good (a host down and never removed) must not grow the journal without
// bound.
#ifndef SLOTKEEPER_SLOTMGR_JOURNAL_RETENTION_H_
#define SLOTKEEPER_SLOTMGR_JOURNAL_RETENTION_H_

#include <cstdint>

#include "slotmgr/config.h"
#include "slotmgr/model.h"
#include "slotmgr/state.pb.h"
#include "slotmgr/state_store.h"

namespace slotkeeper::slotmgr {

inline constexpr size_t kMaxDeletePerPass = 10000;
inline constexpr uint64_t kHardMaxFactor = 10;

// When the oldest trouble still open began (wall ms); `now_ms` when none.
int64_t OpenTroubleSinceMs(const ClusterModel& model, const AutomationRecord& automation,
                           int64_t now_ms);

// What one pass may delete, given the newest event's seq and the floor.
EventPrune PlanPrune(const RetentionOptions& options, int64_t now_ms, uint64_t last_seq,
                     int64_t floor_ms);

}  // namespace slotkeeper::slotmgr

#endif  // SLOTKEEPER_SLOTMGR_JOURNAL_RETENTION_H_
