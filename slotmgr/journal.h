// Journal: the coordinator's event journal and routing feed, in memory.
//
// Owns the event sequence counter, the window of the most recent events
// (what watches read without going to disk), and the routing changes since
// the process started (what WatchRouting streams). Events are durable
// through the Txn that carries them (StateStore, `event/<seq>`); the journal
// only sees them once that commit succeeded (Publish). Routing changes are
// not persisted: a watcher that reconnects to a restarted coordinator asks
// LookupUser again.
//
// Thread-compatible: the coordinator calls every method under its mutex.
// The Await* methods take that mutex as an argument, wait on it, and must
// be called with it held. The Clock is not owned and must outlive the
// journal.
#ifndef SLOTKEEPER_SLOTMGR_JOURNAL_H_
#define SLOTKEEPER_SLOTMGR_JOURNAL_H_

#include <cstddef>
#include <cstdint>
#include <deque>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "base/clock.h"
#include "proto/automation.pb.h"
#include "proto/model.pb.h"
#include "slotmgr/txn.h"

namespace slotkeeper::slotmgr {

// An event with its kind (one of proto/event_kinds.h), severity, text and
// subject; the journal numbers and stamps it (Record). The subject fields may
// be empty.
v1::Event MakeEvent(const char* kind, v1::EventSeverity severity, std::string text,
                    const std::string& host = "", const std::string& slot = "",
                    const std::string& store = "", const std::string& task = "",
                    const std::string& unit = "");

class Journal {
 public:
  // How many published events stay in memory for watches.
  static constexpr size_t kRecentEvents = 10000;

  explicit Journal(Clock* clock) : clock_(clock) {}

  // The sequence number of the next event (from the persisted counter, 1 for
  // a new cluster).
  uint64_t next_seq() const { return next_seq_; }
  void set_next_seq(uint64_t seq) { next_seq_ = seq == 0 ? 1 : seq; }

  // Adds `event` (see MakeEvent) to `txn`, numbered now and stamped with the
  // clock's time.
  void Record(Txn& txn, v1::Event event);
  // Record(txn, MakeEvent(...)).
  void Record(Txn& txn, const char* kind, v1::EventSeverity severity, std::string text,
              const std::string& host = "", const std::string& slot = "",
              const std::string& store = "", const std::string& task = "",
              const std::string& unit = "") {
    Record(txn, MakeEvent(kind, severity, std::move(text), host, slot, store, task, unit));
  }

  // After `txn` was committed: logs its events and keeps them in the recent
  // window, and appends its routing changes. Moves them out of `txn`.
  void Publish(Txn& txn);

  // Events with seq > after_seq, at most `limit`, from the recent window;
  // nullopt when the window no longer holds every event after `after_seq`
  // (the caller reads the store).
  std::optional<std::vector<v1::Event>> RecentAfter(uint64_t after_seq, size_t limit) const;
  // The newest event's seq (0 for none).
  uint64_t LastSeq() const { return next_seq_ - 1; }
  // Blocks (on `mu`, held) until an event after `after_seq` is published or
  // `timeout` passes (real time: a wake-up, not a decision). True if one is.
  bool AwaitEventAfter(absl::Mutex& mu, uint64_t after_seq, absl::Duration timeout) const
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu);

  // Routing changes numbered from 1 in this process; `*next` is where to
  // continue.
  std::vector<v1::RoutingChange> RoutingAfter(uint64_t after, uint64_t* next) const;
  uint64_t RoutingCursor() const { return routing_.size(); }
  // Blocks (on `mu`, held) until a routing change after `after` or `timeout`.
  bool AwaitRoutingAfter(absl::Mutex& mu, uint64_t after, absl::Duration timeout) const
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu);

 private:
  bool HasEventAfter(uint64_t after_seq) const;

  Clock* const clock_;
  uint64_t next_seq_ = 1;
  std::deque<v1::Event> recent_;
  std::vector<v1::RoutingChange> routing_;
};

}  // namespace slotkeeper::slotmgr

#endif  // SLOTKEEPER_SLOTMGR_JOURNAL_H_
