// Test support for slotctl: a literal cluster in the middle of a drive-unit
// outage (imap4's unit du2 failed, its filesystem read-only), the journal of
// that outage, and a harness that runs slotctl against a FakeCluster with
// captured output.
#ifndef SLOTKEEPER_TOOLS_SLOTCTL_TEST_CLUSTER_H_
#define SLOTKEEPER_TOOLS_SLOTCTL_TEST_CLUSTER_H_

#include <string>
#include <vector>

#include "absl/time/time.h"
#include "base/clock.h"
#include "tools/slotctl/fake_cluster_client.h"
#include "tools/slotctl/slotctl.h"

namespace slotkeeper::slotctl {

// Four hosts; imap4/du2 failed 2h before `now_ms` (filesystem /srv/mail2
// read-only); store st1 healthy, st2 without master (replicas imap1/s02 in
// sync, imap3/s02 5 minutes behind), st3 degraded and re-replicating.
FakeCluster OutageCluster(int64_t now_ms);

// The journal of that outage, starting at `start_ms`, in seq order.
std::vector<v1::Event> DriveUnitOutageJournal(int64_t start_ms);

// True when `text` is one JSON object (parsed as google.protobuf.Struct).
bool IsJsonObject(const std::string& text);

struct RunResult {
  int code = -1;
  std::string out;
  std::string err;
};

// Runs slotctl against `cluster` with the clock at `clock`. Records what the
// client factory was given.
class Harness {
 public:
  explicit Harness(FakeCluster* cluster, Clock* clock) : cluster_(cluster), clock_(clock) {}

  RunResult Run(const std::vector<std::string>& args, const std::string& stdin_text = "");

  bool terminal = false;
  bool no_color = false;
  std::string server_from_env;
  std::string user = "alice";
  // What the last connection was made with; "" when none was made.
  std::string connected_server;
  absl::Duration connected_timeout;

 private:
  FakeCluster* cluster_;
  Clock* clock_;
};

}  // namespace slotkeeper::slotctl

#endif  // SLOTKEEPER_TOOLS_SLOTCTL_TEST_CLUSTER_H_
