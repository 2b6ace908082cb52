// Runs the health probes and keeps the host's current health state.
//
// Two threads: the *fast* loop runs the mount-table, write and drive-unit
// probes and the kernel-log probe every round (a round also starts at once on
// Wake(), which the mount watcher, the kernel-log reader and finished write
// attempts call), merges every finding in a ConditionTracker and calls
// `on_change` when a condition appears or clears. The *slow* loop runs the
// capacity probe (statvfs can block on a sick filesystem) and the slot scan
// (walks trees), so neither can delay detection.
//
// Start() and Stop() from one thread; Wake() and Snapshot() are thread-safe.
#ifndef SLOTKEEPER_REPLICATOR_HEALTH_MONITOR_H_
#define SLOTKEEPER_REPLICATOR_HEALTH_MONITOR_H_

#include <functional>
#include <memory>
#include <thread>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "base/clock.h"
#include "proto/agent.pb.h"
#include "replicator/config.pb.h"
#include "replicator/host_probes.h"
#include "replicator/kernel_log_probe.h"
#include "replicator/mount_probe.h"
#include "replicator/probe.h"

namespace slotkeeper::replicator {

struct HealthSnapshot {
  std::vector<Condition> conditions;
  std::vector<v1::FilesystemUsage> filesystems;
  std::vector<v1::SlotUsage> slots;
  std::vector<v1::SlotContents> contents;
  uint64_t contents_version = 0;  // increases when `contents` changed
};

class HealthMonitor {
 public:
  // `config` and `clock` are not owned and must outlive the monitor.
  // `on_change` is called from the fast loop's thread after a condition
  // change (it must not block).
  HealthMonitor(const AgentConfig* config, Clock* clock, std::function<void()> on_change);
  ~HealthMonitor();

  // Adds a probe to the fast loop beside the real ones (before Start).
  void AddProbe(std::unique_ptr<Probe> probe) { fast_probes_.push_back(std::move(probe)); }
  // Builds the real probes from the config and starts the threads. Probes
  // that cannot start (an unreadable /dev/kmsg) are logged and left out.
  absl::Status Start();
  void Stop();

  void Wake();
  HealthSnapshot Snapshot() const;

 private:
  // Shared with callbacks that may outlive the monitor (detached write
  // attempts), so a late Wake() is harmless.
  struct Waker {
    absl::Mutex mu;
    bool woken ABSL_GUARDED_BY(mu) = false;
    bool stopping ABSL_GUARDED_BY(mu) = false;
  };

  void FastLoop();
  void SlowLoop();
  void FastRound();

  const AgentConfig* const config_;
  Clock* const clock_;
  std::function<void()> on_change_;
  std::shared_ptr<Waker> waker_ = std::make_shared<Waker>();

  // Owned by the fast loop after Start().
  std::vector<std::unique_ptr<Probe>> fast_probes_;
  std::unique_ptr<KernelLogProbe> kernel_;
  ConditionTracker tracker_;
  std::unique_ptr<CapacityProbe> capacity_;
  std::unique_ptr<MountWatcher> mount_watcher_;
  std::unique_ptr<KmsgReader> kmsg_reader_;
  std::thread fast_thread_;
  std::thread slow_thread_;
  absl::Mutex slow_mu_;  // only for the slow loop's interruptible sleep
  bool slow_stopping_ ABSL_GUARDED_BY(slow_mu_) = false;

  mutable absl::Mutex mu_;
  std::vector<Condition> conditions_ ABSL_GUARDED_BY(mu_);
  std::vector<Condition> slow_conditions_ ABSL_GUARDED_BY(mu_);
  std::vector<v1::SlotUsage> slot_usage_ ABSL_GUARDED_BY(mu_);
  std::vector<v1::SlotContents> contents_ ABSL_GUARDED_BY(mu_);
  uint64_t contents_version_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace slotkeeper::replicator

#endif  // SLOTKEEPER_REPLICATOR_HEALTH_MONITOR_H_
