// `mailgen --deliver`: a steady stream of new mail into existing users of
// one or more slots, written the way an LDA writes it, for load tests and
// the replication-lag benchmark (tests/e2e/lag_bench).
//
// Each message is written to the user's tmp/ under a unique Maildir name,
// fsynced, renamed into new/, and new/ is fsynced. Deliveries follow an
// open-loop schedule (delivery_plan.h): a slow disk shows up as lateness,
// which is reported, not as a lower rate. With a flag rate, messages this
// run delivered and still in new/ are moved to cur/ with ":2,S" the way an
// IMAP server does when a client has seen them. The slots take turns; the
// user, the size and the content come from the seed (same seed, same
// sequence; the names carry the real delivery time, as an LDA's do).
//
// The log (FormatDeliveryLine) gets one line per message once its rename
// into new/ has returned.
#ifndef SLOTKEEPER_TOOLS_MAILGEN_DELIVER_H_
#define SLOTKEEPER_TOOLS_MAILGEN_DELIVER_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/time.h"

namespace slotkeeper::mailgen {

struct DeliverOptions {
  std::vector<std::string> slots;  // slot directories, each with users/
  double rate = 0;                 // messages per second, all slots together
  absl::Duration duration;
  uint64_t seed = 1;
  double flag_rate = 0;  // new/ -> cur/ renames per second
  std::string log_path;
};

// Checks the numbers, and that every slot is a directory whose users/ holds
// at least one Maildir user (cur/, new/, tmp/) and whose path has no
// whitespace (the log is space-separated). The error names the flag.
absl::Status ValidateDeliverOptions(const DeliverOptions& options);

// Runs the deliveries; prints a summary (counts, bytes, lateness) to stdout.
// Stops at the first write error, which it returns (the log holds every
// message delivered until then).
absl::Status Deliver(const DeliverOptions& options);

}  // namespace slotkeeper::mailgen

#endif  // SLOTKEEPER_TOOLS_MAILGEN_DELIVER_H_
