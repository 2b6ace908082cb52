// Shared pieces of the control-plane fault tests: hooks that log
// what they do and run a stand-in mail server under slotfence, the short
// timings these tests use, the cluster and the served store most of them
// start from, the steps they share around a failover, and readers for the
// logs they leave.
//
// HookRecorder::Install writes into <root>/hooks:
//   hook.sh HOST    the pre_promote, promote and demote hook of HOST's agent.
//                   Each run appends `<unix time, ns> <action> <host> <store>
//                   <slot> <epoch>` to hooks-HOST.log. promote starts
//                   `slotfence --lease_file=$SLOTKEEPER_LEASE_FILE -- standin.sh`
//                   in a session of its own (its pid in fence-HOST-SLOT.pid);
//                   demote stops that fence (SIGTERM). pre_promote vetoes
//                   (exit 1) when veto-HOST exists or when it is the first to
//                   take veto-first, and sleeps past the hook timeout when
//                   hang-HOST exists or when it is the first to take
//                   hang-first.
//   standin.sh      the stand-in mail server: appends `<unix time, ns>
//                   start|stop <host> <slot> <store> <epoch> <pid>` to
//                   server-HOST-SLOT.log when it starts and when it is
//                   stopped (SIGTERM), and otherwise idles.
// and sets each host's `hooks { ... }` in the cluster options. Every fence
// started is listed in fences.pids; the destructor kills those still running
// (by pid, after checking that the pid is still a slotfence).
#ifndef SLOTKEEPER_TESTS_E2E_CONTROL_PLANE_H_
#define SLOTKEEPER_TESTS_E2E_CONTROL_PLANE_H_

#include <sys/types.h>

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "tests/e2e/cluster.h"
#include "tests/e2e/store_checks.h"

namespace slotkeeper::testing {

// Short timings for the control-plane tests: a 4 s lease renewed every
// 500 ms, hosts SUSPECT after 3 s and DOWN after 6 s of silence, failover
// graces of 2 s (hard evidence) and 3 s (silence), copies replaced only by
// hand (replace_after 10 min).
std::vector<std::string> ShortCoordinatorFlags();
inline constexpr absl::Duration kLease = absl::Seconds(4);
// Appended to every agent's config: failsafe after 1.5 s of coordinator
// silence.
inline constexpr char kFailsafeConfig[] = "failsafe { coordinator_silence_ms: 1500 }";

// Options of a control-plane fault test: its root $TEST_TMPDIR/<name>,
// progress lines on stderr, ShortCoordinatorFlags and kFailsafeConfig.
ClusterOptions ControlPlaneOptions(const std::string& name);

// Options of a fault test that cuts a re-replication short: its root
// $TEST_TMPDIR/<name>, progress lines on stderr, copies slowed to 2.5 MB/s
// per agent (replicatord --sync_bandwidth_bytes_per_second) so that a fault
// lands while they run, and a coordinator that detects quickly (500 ms
// heartbeats, a 4 s lease), fails over 3 s after hard evidence (60 s after
// silence) and replaces no copy by itself (replace_after 10 min).
ClusterOptions SlowCopyOptions(const std::string& name);

// Creates the cluster of `options` and starts its coordinator and every
// agent. With `need_loop_mounts`, a cluster whose units are plain
// directories is an error, found before any process starts.
absl::StatusOr<std::unique_ptr<Cluster>> StartCluster(const ClusterOptions& options,
                                                      bool need_loop_mounts = false);

// The mail each store starts with: the test's own small default, or what
// SLOTKEEPER_FAULT_USERS and SLOTKEEPER_FAULT_MESSAGES (per store) say, so
// that tools/bench_control_plane.sh measures the same faults on the demo's
// sizes; then the slots are sized like the demo's too (`options`). A value
// that is not a positive number is ignored.
struct MailScale {
  int users = 0;
  int messages = 0;
};
MailScale ScaleFromEnv(MailScale test_default, ClusterOptions& options);

// One line of a hook log.
struct HookRun {
  absl::Time time;
  std::string action;  // pre_promote, promote, demote
  std::string host;
  std::string store;
  std::string slot;
  uint64_t epoch = 0;
};

// One line of a stand-in server's log.
struct ServerEvent {
  absl::Time time;
  bool start = false;  // else stop
  std::string host;
  std::string slot;
  std::string store;
  uint64_t epoch = 0;
  pid_t pid = 0;
};

class HookRecorder {
 public:
  // Writes the scripts into <options.root>/hooks and sets every host's hooks
  // in `options` (host_config_extra) with a timeout of `hook_timeout`.
  static absl::StatusOr<std::unique_ptr<HookRecorder>> Install(ClusterOptions& options,
                                                               absl::Duration hook_timeout);
  ~HookRecorder();

  const std::string& dir() const { return dir_; }

  // Creates or removes a control file: "veto-imap2", "veto-first",
  // "hang-imap3", "hang-first".
  void SetFlag(const std::string& name, bool on);

  // Every hook run of `host` (all hosts when empty), oldest first.
  std::vector<HookRun> Runs(const std::string& host = "") const;
  // Runs of `action` (any host when `host` is empty) at or after `since`.
  std::vector<HookRun> RunsSince(absl::Time since, const std::string& action,
                                 const std::string& host = "") const;
  // The stand-in server log of HOST/SLOT, oldest first.
  std::vector<ServerEvent> ServerEvents(const std::string& host, const std::string& slot) const;
  // The stand-in of HOST/SLOT that started last, when it is still running.
  std::optional<ServerEvent> RunningServer(const std::string& host, const std::string& slot) const;
  // Waits until a stand-in of HOST/SLOT runs; returns its start line.
  absl::StatusOr<ServerEvent> WaitForServer(const std::string& host, const std::string& slot,
                                            absl::Duration timeout) const;
  // Waits until the stand-in `pid` of HOST/SLOT logged its stop; returns it.
  absl::StatusOr<ServerEvent> WaitForServerStop(const std::string& host, const std::string& slot,
                                                pid_t pid, absl::Duration timeout) const;

 private:
  explicit HookRecorder(std::string dir) : dir_(std::move(dir)) {}
  std::string dir_;
};

// A cluster and the hooks that record it. The cluster is declared last so
// that it is destroyed first: its agents are gone before the recorder stops
// the fences still running.
struct HookedCluster {
  std::unique_ptr<HookRecorder> hooks;
  std::unique_ptr<Cluster> cluster;
};
// Installs the hooks (HookRecorder::Install, which updates `options`),
// then creates the cluster and starts it (StartCluster).
absl::StatusOr<HookedCluster> StartHookedCluster(ClusterOptions& options,
                                                 absl::Duration hook_timeout);

// Where most control-plane tests inject their fault: st1 created with its
// master on imap1/du1s1, the master's stand-in server running, and more mail
// delivered to the master and held by every copy (DeliverAndReplicate).
struct ServedStore {
  std::map<std::string, SlotContent> reference;  // as created (Cluster::CreateStores)
  v1::StoreInfo before;                          // st1 as the coordinator showed it
  ServerEvent server;                            // the master's stand-in, as it started
  SlotContent acknowledged;                      // the master's mail, on every copy
};
// Creates st1 with the mail of `scale`, then waits up to 10 s for the
// master's stand-in server (started by its promote hook), and returns once
// the master has served a whole lease (it then knows its witnesses).
absl::StatusOr<ServedStore> CreateServedStore(Cluster& cluster, const HookRecorder& hooks,
                                              MailScale scale);

// Mail delivered to the master HOST/SLOT of `store` (mailgen --mutate, seed
// 100: new messages and flag changes), then held by every copy within 30 s.
// Returns the master's content: the mail the store has acknowledged.
absl::StatusOr<SlotContent> DeliverAndReplicate(Cluster& cluster, const std::string& store,
                                                const std::string& master);

// Mail delivered to HOST/SLOT (a new master) as a mail server would: two
// rounds of mailgen --mutate (new messages and flag changes, no deletions)
// with the seeds `first_seed` and `first_seed` + 1.
absl::Status DeliverMailTo(Cluster& cluster, const std::string& host_slot, uint64_t first_seed);

// WaitForNewMaster, then up to 10 s more for the new master's stand-in
// server; returns the store.
absl::StatusOr<v1::StoreInfo> WaitForNewServingMaster(Cluster& cluster, const HookRecorder& hooks,
                                                      const std::string& store, uint64_t epoch,
                                                      const std::string& old_master,
                                                      absl::Duration timeout);

// Waits up to 30 s until HOST/SLOT is a usable replica of `store` (an old
// master back after its fault), then up to 60 s until every copy holds the
// master's mail (WaitForCopiesToMatchMaster); returns the master's content.
absl::StatusOr<SlotContent> WaitForRejoinedReplica(Cluster& cluster, const std::string& store,
                                                   const std::string& host_slot);

// True while `pid` is a live process (not a zombie).
bool ProcessAlive(pid_t pid);

// One line of an agent's log whose text contains a needle.
struct LogLine {
  absl::Time time;
  std::string text;
};
// Lines of every replicatord log of `host` (all its runs) containing
// `needle`, oldest first.
std::vector<LogLine> AgentLogLines(const Cluster& cluster, const std::string& host,
                                   const std::string& needle);

// The path of a master's lease file, and its deadline converted to the wall
// clock (read now: CLOCK_MONOTONIC and CLOCK_REALTIME sampled together).
std::string LeaseFileOf(const Cluster& cluster, const std::string& host, const std::string& slot);
absl::StatusOr<absl::Time> LeaseDeadline(const std::string& lease_file);

// A shell loop delivering mail into `slot` (mailgen --mutate: new messages
// and flag changes, no deletions) until `stop_file` exists.
std::vector<std::string> DeliveryLoop(const std::string& slot, const std::string& stop_file,
                                      int first_seed, const std::string& new_pct,
                                      const std::string& pause);

// A DeliveryLoop process into HOST/SLOT; Stop() ends it and checks that it
// exited cleanly.
class Delivery {
 public:
  absl::Status Start(Cluster& cluster, const std::string& root, const std::string& host,
                     const std::string& slot, int first_seed, const std::string& new_pct = "1",
                     const std::string& pause = "0.3");
  absl::Status Stop();
  ~Delivery();

 private:
  Process process_;
  std::string stop_file_;
};

}  // namespace slotkeeper::testing

#endif  // SLOTKEEPER_TESTS_E2E_CONTROL_PLANE_H_
