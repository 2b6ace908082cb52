// The pure parts of `mailgen --deliver`: when each delivery and flag change
// is due (an open-loop schedule), which user gets a message, the Maildir
// names it writes, and the delivery log's line format, which the
// replication-lag benchmark (tests/e2e/lag_bench) reads back.
//
// Nothing here reads a clock or touches the filesystem; deliver.h does.
#ifndef SLOTKEEPER_TOOLS_MAILGEN_DELIVERY_PLAN_H_
#define SLOTKEEPER_TOOLS_MAILGEN_DELIVERY_PLAN_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace slotkeeper::mailgen {

// Events at `rate` per second for `duration`: event i is due i / rate after
// the start (rounded to the nanosecond), and the stream holds every event
// due before `duration`. Due times come from the start, never from the
// previous event, so a slow write makes later events late instead of
// stretching the run. A rate <= 0 gives an empty stream.
class PacedStream {
 public:
  PacedStream(double rate, absl::Duration duration);
  uint64_t count() const { return count_; }
  absl::Duration Due(uint64_t i) const;

 private:
  double rate_;
  uint64_t count_ = 0;
};

// The run's events in the order they are due: deliveries at `rate`, flag
// changes at `flag_rate` (0: none), a delivery first when both are due at
// the same time.
struct DeliveryEvent {
  enum class Kind { kDeliver, kFlag };
  Kind kind;
  uint64_t index;  // within its own stream
  absl::Duration due;
};
class DeliveryTimeline {
 public:
  DeliveryTimeline(double rate, double flag_rate, absl::Duration duration);
  // The next event, false when the run is over.
  bool Next(DeliveryEvent* event);
  uint64_t deliveries() const { return deliveries_.count(); }

 private:
  PacedStream deliveries_;
  PacedStream flags_;
  uint64_t next_delivery_ = 0;
  uint64_t next_flag_ = 0;
};

// Picks a slot's users with the skew of mailgen's generated mailboxes: the
// user at sorted position i receives a share proportional to 1/(i+1)^0.8.
class UserPicker {
 public:
  explicit UserPicker(size_t users);
  // The user's position for `u` uniform in [0, 1).
  size_t Pick(double u) const;

 private:
  std::vector<double> cumulative_;  // normalised, last is 1
};

// A Maildir unique name the way an LDA makes one:
// "<secs>.M<usecs>P<pid>Q<seq>.<host>,S=<size>".
std::string MaildirUniqueName(int64_t unix_ns, int pid, uint64_t seq, absl::string_view host,
                              size_t size);

// The unique key of a Maildir file name: what precedes ":2," (the whole
// name when it has no info part). A flag change or a move between new/ and
// cur/ keeps the key.
absl::string_view MaildirKey(absl::string_view file_name);

// One line of the delivery log: "<unix ns> <slot dir> <path in the slot>",
// written when the rename into new/ returned. Slot directories and paths
// hold no whitespace (mailgen refuses such slots).
struct DeliveryRecord {
  int64_t unix_ns = 0;
  std::string slot;
  std::string path;  // "users/<user>/new/<unique name>"
};
std::string FormatDeliveryLine(const DeliveryRecord& record);  // with '\n'
// Parses a line (a trailing '\n' is allowed); the error names what is wrong.
absl::StatusOr<DeliveryRecord> ParseDeliveryLine(absl::string_view line);

// The values of every --slot on a command line ("--slot=A", "--slot A",
// "-slot ..."), each split at commas, empty parts dropped, in order.
// Abseil keeps only a flag's last value; several slots are allowed.
std::vector<std::string> SlotArguments(const std::vector<std::string>& argv);

// The nearest-rank percentile `p` (0 < p <= 1) of `sorted` (ascending);
// 0 when empty.
double NearestRank(const std::vector<double>& sorted, double p);

}  // namespace slotkeeper::mailgen

#endif  // SLOTKEEPER_TOOLS_MAILGEN_DELIVERY_PLAN_H_
