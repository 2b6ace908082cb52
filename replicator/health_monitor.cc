#include "replicator/health_monitor.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "base/log.h"
#include "replicator/write_probe.h"

namespace slotkeeper::replicator {

HealthMonitor::HealthMonitor(const AgentConfig* config, Clock* clock,
                             std::function<void()> on_change)
    : config_(config), clock_(clock), on_change_(std::move(on_change)) {}

HealthMonitor::~HealthMonitor() { Stop(); }

absl::Status HealthMonitor::Start() {
  const ProbeConfig& p = config_->probes();
  std::vector<std::string> mount_points;  // every filesystem
  std::vector<std::string> mounted;       // those that must be in the mount table
  std::vector<std::string> directories;   // directory_only stand-ins
  for (const FilesystemConfig& f : config_->filesystems()) {
    mount_points.push_back(f.mount_point());
    (f.directory_only() ? directories : mounted).push_back(f.mount_point());
  }
  std::weak_ptr<Waker> weak = waker_;
  auto wake = [weak] {
    if (std::shared_ptr<Waker> w = weak.lock()) {
      absl::MutexLock lock(&w->mu);
      w->woken = true;
    }
  };

  fast_probes_.push_back(std::make_unique<MountTableProbe>(
      mounted, FileMountInfoReader(p.mountinfo_path()), directories));
  fast_probes_.push_back(std::make_unique<WriteProbe>(
      mount_points, RealWriteAttempt, clock_, absl::Milliseconds(p.write_interval_ms()),
      absl::Milliseconds(p.write_deadline_ms()), wake));
  fast_probes_.push_back(std::make_unique<DriveUnitProbe>(
      std::vector<UnitConfig>(config_->units().begin(), config_->units().end()), p.sysfs_root()));
  capacity_ = std::make_unique<CapacityProbe>(mount_points, RealStatFs, p.low_space_fraction(),
                                              p.low_inodes_fraction());

  mount_watcher_ = std::make_unique<MountWatcher>(p.mountinfo_path(), wake);
  if (absl::Status s = mount_watcher_->Start(); !s.ok()) {
    LogWarning("agent",
               absl::StrCat("mount watcher not running (periodic re-read only): ", s.message()));
    mount_watcher_.reset();
  }
  if (p.kmsg_path() != "-") {
    kernel_ = std::make_unique<KernelLogProbe>(
        std::vector<UnitConfig>(config_->units().begin(), config_->units().end()),
        std::vector<FilesystemConfig>(config_->filesystems().begin(), config_->filesystems().end()),
        clock_, absl::Milliseconds(p.kernel_clear_after_ms()));
    KernelLogProbe* kernel = kernel_.get();
    kmsg_reader_ = std::make_unique<KmsgReader>(p.kmsg_path(), [kernel, wake](absl::string_view m) {
      if (kernel->AddRecord(m)) wake();
    });
    if (absl::Status s = kmsg_reader_->Start(); !s.ok()) {
      LogWarning("agent", absl::StrCat("kernel-log probe disabled: ", s.message()));
      kmsg_reader_.reset();
      kernel_.reset();
    }
  }
  fast_thread_ = std::thread([this] { FastLoop(); });
  slow_thread_ = std::thread([this] { SlowLoop(); });
  return absl::OkStatus();
}

void HealthMonitor::Stop() {
  {
    absl::MutexLock lock(&waker_->mu);
    waker_->stopping = true;
  }
  {
    absl::MutexLock lock(&slow_mu_);
    slow_stopping_ = true;
  }
  if (mount_watcher_) mount_watcher_->Stop();
  if (kmsg_reader_) kmsg_reader_->Stop();
  if (fast_thread_.joinable()) fast_thread_.join();
  if (slow_thread_.joinable()) slow_thread_.join();
}

void HealthMonitor::Wake() {
  absl::MutexLock lock(&waker_->mu);
  waker_->woken = true;
}

void HealthMonitor::FastLoop() {
  const ProbeConfig& p = config_->probes();
  const absl::Duration period = absl::Milliseconds(
      std::min({p.mount_reread_ms(), p.write_interval_ms(), p.unit_interval_ms()}));
  // Also wake for a write attempt's deadline, which a hung attempt never
  // signals by itself.
  const absl::Duration round = std::min(period, absl::Milliseconds(p.write_deadline_ms()) / 4);
  while (true) {
    FastRound();
    Waker& w = *waker_;
    absl::MutexLock lock(&w.mu);
    // The runtime loop waits in real time; the probes' decisions use clock_.
    w.mu.AwaitWithTimeout(
        absl::Condition(
            +[](Waker* x) ABSL_EXCLUSIVE_LOCKS_REQUIRED(x->mu) { return x->woken || x->stopping; },
            &w),
        round);
    if (w.stopping) return;
    w.woken = false;
  }
}

void HealthMonitor::FastRound() {
  const absl::Time now = clock_->Now();
  std::vector<Condition> all;
  for (const std::unique_ptr<Probe>& probe : fast_probes_) {
    for (Condition& c : probe->Check(now)) all.push_back(std::move(c));
  }
  {
    absl::MutexLock lock(&mu_);
    all.insert(all.end(), slow_conditions_.begin(), slow_conditions_.end());
  }
  if (kernel_) {
    kernel_->ObserveOtherEvidence(all);
    for (Condition& c : kernel_->Check(now)) all.push_back(std::move(c));
  }
  const std::vector<Condition> before = tracker_.Current();
  if (!tracker_.Update(all, clock_->NowMs())) {
    absl::MutexLock lock(&mu_);
    conditions_ = tracker_.Current();  // refreshed reasons
    return;
  }
  const std::vector<Condition> after = tracker_.Current();
  auto key = [](const Condition& c) {
    return std::make_tuple(c.type(), c.subject_kind(), c.subject());
  };
  for (const Condition& c : after) {
    if (std::none_of(before.begin(), before.end(),
                     [&](const Condition& b) { return key(b) == key(c); })) {
      LogWarning("agent", absl::StrCat("condition raised: ", v1::ConditionType_Name(c.type()),
                                       " on ", c.subject(), ": ", c.reason()));
    }
  }
  for (const Condition& c : before) {
    if (std::none_of(after.begin(), after.end(),
                     [&](const Condition& a) { return key(a) == key(c); })) {
      LogInfo("agent", absl::StrCat("condition cleared: ", v1::ConditionType_Name(c.type()), " on ",
                                    c.subject()));
    }
  }
  {
    absl::MutexLock lock(&mu_);
    conditions_ = after;
  }
  if (on_change_) on_change_();
}

void HealthMonitor::SlowLoop() {
  const ProbeConfig& p = config_->probes();
  absl::Duration next_capacity = absl::ZeroDuration();
  absl::Duration next_scan = absl::ZeroDuration();
  while (true) {
    const absl::Duration now = clock_->Monotonic();
    if (now >= next_capacity) {
      std::vector<Condition> c = capacity_->Check(clock_->Now());
      bool changed;
      {
        absl::MutexLock lock(&mu_);
        changed = c.size() != slow_conditions_.size();
        for (size_t i = 0; !changed && i < c.size(); ++i) {
          changed = c[i].type() != slow_conditions_[i].type() ||
                    c[i].subject() != slow_conditions_[i].subject();
        }
        slow_conditions_ = std::move(c);
      }
      if (changed) Wake();
      next_capacity = now + absl::Milliseconds(p.capacity_interval_ms());
    }
    if (now >= next_scan) {
      std::vector<v1::SlotContents> contents;
      std::vector<v1::SlotUsage> usage;
      for (const SlotConfig& s : config_->slots()) {
        v1::SlotContents c = ScanSlot(s);
        v1::SlotUsage& u = usage.emplace_back();
        u.set_slot(s.name());
        u.set_used_bytes(c.used_bytes());
        u.set_user_count(c.users_size());
        contents.push_back(std::move(c));
      }
      absl::MutexLock lock(&mu_);
      bool same = contents.size() == contents_.size();
      for (size_t i = 0; same && i < contents.size(); ++i) {
        // used_bytes moves all the time; contents change with store/users.
        same = contents[i].store() == contents_[i].store() &&
               std::equal(contents[i].users().begin(), contents[i].users().end(),
                          contents_[i].users().begin(), contents_[i].users().end());
      }
      if (!same) ++contents_version_;
      contents_ = std::move(contents);
      slot_usage_ = std::move(usage);
      next_scan = now + absl::Milliseconds(p.slot_usage_interval_ms());
    }
    absl::MutexLock lock(&slow_mu_);
    const absl::Duration wait =
        std::max(absl::Milliseconds(10), std::min(next_capacity, next_scan) - clock_->Monotonic());
    slow_mu_.AwaitWithTimeout(absl::Condition(&slow_stopping_), wait);
    if (slow_stopping_) return;
  }
}

HealthSnapshot HealthMonitor::Snapshot() const {
  HealthSnapshot s;
  s.filesystems = capacity_ ? capacity_->Usage() : std::vector<v1::FilesystemUsage>{};
  absl::MutexLock lock(&mu_);
  s.conditions = conditions_;
  s.slots = slot_usage_;
  s.contents = contents_;
  s.contents_version = contents_version_;
  return s;
}

}  // namespace slotkeeper::replicator
