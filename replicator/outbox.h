// Outbox: what the agent has to tell the coordinator, gathered between the
// session's writes: command acks, task updates, whether the health changed
// (a report is then due at once), and the newest ping to echo.
//
// Nothing is queued while disconnected but acks (the oldest dropped past
// 1000: the coordinator re-sends a command whose ack it lost, and the
// agent acks the duplicate) and the newest update per task; a report's
// content is read from the newest state when it is written, not queued.
// The session's writer takes everything pending at once (Next), so that
// acks and updates go out in one burst before the report they may explain.
//
// Thread-safe. Next blocks its caller (the session's writer) until
// something is due or the outbox is closed; the other methods never block.
#ifndef SLOTKEEPER_REPLICATOR_OUTBOX_H_
#define SLOTKEEPER_REPLICATOR_OUTBOX_H_

#include <cstdint>
#include <deque>
#include <map>
#include <optional>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "base/clock.h"
#include "proto/agent.pb.h"
#include "replicator/reports.h"

namespace slotkeeper::replicator {

class Outbox {
 public:
  // Acks kept while they cannot be sent; older ones are dropped.
  static constexpr size_t kMaxPendingAcks = 1000;

  // What one write sends.
  struct Batch {
    std::deque<v1::CommandAck> acks;
    std::map<std::string, v1::TaskUpdate> tasks;  // the newest per task
    // Set when a report is due (the health changed or the heartbeat came):
    // its id and ping echo; the writer adds the rest.
    std::optional<ReportContext> report;
  };

  // `clock` (heartbeats, the ping echo's hold time) is not owned.
  explicit Outbox(Clock* clock) : clock_(clock) {}

  // The health state (or roles, or leases) changed: a report is due now.
  void NotifyChanged() ABSL_LOCKS_EXCLUDED(mu_);
  // An ack makes a report due with it: the command may have changed roles
  // or leases.
  void AddAck(v1::CommandAck ack) ABSL_LOCKS_EXCLUDED(mu_);
  // Replaces an unsent update of the same task.
  void AddTaskUpdate(const v1::TaskUpdate& update) ABSL_LOCKS_EXCLUDED(mu_);
  // The coordinator's ping, echoed (with how long it was held) in the next
  // reports.
  void NotePing(int64_t coordinator_time_ms) ABSL_LOCKS_EXCLUDED(mu_);

  // A session opened: Next hands out batches, the first with a report.
  void Open() ABSL_LOCKS_EXCLUDED(mu_);
  // The session ended: Next returns nullopt (at once, also to a writer
  // waiting in it) until the next Open. What is pending stays.
  void Close() ABSL_LOCKS_EXCLUDED(mu_);
  // Waits until something is pending or `heartbeat_at` (clock monotonic)
  // has come, and takes it; nullopt once closed.
  std::optional<Batch> Next(absl::Duration heartbeat_at) ABSL_LOCKS_EXCLUDED(mu_);

 private:
  Clock* const clock_;
  absl::Mutex mu_;
  bool open_ ABSL_GUARDED_BY(mu_) = false;
  bool changed_ ABSL_GUARDED_BY(mu_) = true;
  std::deque<v1::CommandAck> acks_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, v1::TaskUpdate> tasks_ ABSL_GUARDED_BY(mu_);
  int64_t ping_coordinator_ms_ ABSL_GUARDED_BY(mu_) = 0;
  absl::Duration ping_received_ ABSL_GUARDED_BY(mu_);  // clock monotonic
  uint64_t next_report_id_ ABSL_GUARDED_BY(mu_) = 1;
};

}  // namespace slotkeeper::replicator

#endif  // SLOTKEEPER_REPLICATOR_OUTBOX_H_
