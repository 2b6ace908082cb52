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

// OutageCluster with what agents report about data safety (times on each
// agent's clock, i.e. shifted by its host's clock offset):
// - st1: replica imap1/s01 stopped syncing user bob (mass-deletion guard;
//   journaled 30m ago) and holds 3 quarantined files: alice's
//   cur/1700000001.M1P1.imap4:2,S (12 KiB, removed 20h ago) and two of bob's
//   with the same path (removed 5d ago, overwritten 4d ago); replica
//   imap2/s01's scrub finished a pass 2d ago, is 45% through the next and
//   found 2 corrupt files, one of them in its quarantine (alice, 2d ago).
// - st2: replica imap1/s02 holds 1 stranded message (dave) and 1 removed
//   file of dave's; imap3/s02 reports 1 stranded message but its agent
//   cannot be asked ("deadline exceeded").
// - st3: replica imap4/s03 (an old master) holds 2 stranded messages of
//   carol, kept in its quarantine; seeding imap1/s05's identity changed.
// - user bob lives in st1 like alice.
FakeCluster DataSafetyCluster(int64_t now_ms);

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
  // The pauses slotctl asked for (nothing sleeps in tests).
  std::vector<absl::Duration> slept;
  absl::Duration connected_timeout;

 private:
  FakeCluster* cluster_;
  Clock* clock_;
};

}  // namespace slotkeeper::slotctl

#endif  // SLOTKEEPER_TOOLS_SLOTCTL_TEST_CLUSTER_H_
