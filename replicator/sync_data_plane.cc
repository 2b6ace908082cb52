#include "replicator/sync_data_plane.h"

#include <algorithm>
#include <map>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "replicator/sync/engine.h"

namespace slotkeeper::replicator {
namespace {

// Task progress is sent at most this often per task; the final update always.
constexpr int64_t kProgressIntervalMs = 500;
// Outcomes of finished tasks kept to answer a re-sent start.
constexpr size_t kOutcomesKept = 1000;

// The time a final pull may take: FinalPullCommand.deadline_ms is a
// duration (the coordinator's and the agent's clocks differ); 0 or less:
// the engine's default.
absl::Duration FinalPullBudget(int64_t deadline_ms) {
  return absl::Milliseconds(std::max<int64_t>(deadline_ms, 0));
}

class SyncDataPlane : public DataPlane {
 public:
  SyncDataPlane(std::unique_ptr<sync::SyncEngine> engine, Clock* clock)
      : engine_(std::move(engine)), clock_(clock) {}

  void RegisterServices(grpc::ServerBuilder& builder) override {
    engine_->RegisterService(&builder);
  }

  absl::Status Start(TaskUpdateSink* sink) override {
    absl::MutexLock lock(&mu_);
    sink_ = sink;
    return absl::OkStatus();
  }

  // Bounded: the engine cancels every call in flight and waits at most
  // its wind-down time for the threads.
  void Stop() override {
    {
      absl::MutexLock lock(&mu_);
      sink_ = nullptr;
    }
    engine_->Stop();  // not under mu_: finishing tasks report through OnDone
  }

  absl::Status AssignReplica(const v1::AssignReplicaCommand& c) override {
    return engine_->AssignReplica(c.slot(), c.store(), c.master_peer_address(), c.master_slot());
  }

  absl::Status StartTask(const v1::StartTaskCommand& c) override {
    const std::string id = c.task_id();
    {
      // A start re-sent for an attempt this process already finished (the
      // coordinator restarted and may have missed the outcome): report the
      // outcome again rather than run it a second time. Another attempt of
      // the same task runs.
      absl::MutexLock lock(&mu_);
      auto it = outcomes_.find({id, c.attempt()});
      if (it != outcomes_.end()) {
        if (sink_ != nullptr) sink_->SendTaskUpdate(it->second);
        return absl::OkStatus();
      }
    }
    absl::Status st = engine_->StartTask(
        id, c.kind(), c.store(), c.target_slot(), c.source_peer_address(), c.source_slot(),
        [this](const std::string& task_id, const v1::TaskProgress& progress) {
          OnProgress(task_id, progress);
        },
        [this, attempt = c.attempt()](const sync::TaskOutcome& outcome) {
          OnDone(outcome, attempt);
        });
    // A re-sent command for a task that is already running is applied.
    if (absl::IsAlreadyExists(st)) return absl::OkStatus();
    return st;
  }

  absl::Status CancelTask(const v1::CancelTaskCommand& c) override {
    absl::Status st = engine_->CancelTask(c.task_id());
    // Cancelling a task that is not running (finished, or never started
    // here) leaves it not running: done.
    if (absl::IsNotFound(st)) return absl::OkStatus();
    return st;
  }

  absl::Status ReleaseSlot(const v1::ReleaseSlotCommand& c) override {
    return engine_->ReleaseSlot(c.slot(), c.store());
  }

  // Waits for the pull (at most its deadline; FinalPullBudget).
  absl::Status FinalPull(const v1::FinalPullCommand& c) override {
    return engine_->FinalPull(c.store(), c.target_slot(), c.source_peer_address(), c.source_slot(),
                              FinalPullBudget(c.deadline_ms()));
  }

  absl::Status RestoreQuarantined(const v1::RestoreQuarantinedCommand& c) override {
    return engine_->safety()->RestoreQuarantined(c.target_slot(), c.source_peer_address(),
                                                 c.source_slot(), c.item_id());
  }

  // OK when every stranded message was placed or rightly left out (already
  // there, deleted since the failover); the counts are logged.
  absl::Status Reconcile(const v1::ReconcileCommand& c) override {
    absl::StatusOr<sync::ReconcileReport> report = engine_->safety()->Reconcile(
        c.store(), c.target_slot(), c.source_peer_address(), c.source_slot());
    if (!report.ok()) return report.status();
    if (report->failed > 0) return absl::UnavailableError(report->Summary());
    return absl::OkStatus();
  }

  absl::Status UnblockUser(const v1::UnblockUserCommand& c) override {
    return engine_->safety()->UnblockUser(c.slot(), c.user());
  }

  absl::Status PurgeQuarantine(const v1::PurgeQuarantineCommand& c) override {
    return engine_->safety()->PurgeQuarantine(c.slot(), c.older_than_ms(),
                                              {c.item_ids().begin(), c.item_ids().end()});
  }

  // Called with the control side's slot lock held (promotion, demotion,
  // fencing): signals and returns, never waits for a sync thread or a
  // source.
  void OnRoleChanged(const std::string& slot, const std::string& store, v1::SlotRole role,
                     uint64_t epoch) override {
    // A master serves and keeps its deletion log; it no longer pulls (its
    // catch-up loop and any task copying into it wind down on their own). A
    // demoted slot waits for the coordinator's AssignReplica naming its new
    // master, and then looks for stranded mail.
    engine_->OnRoleChanged(slot, role);
  }

  CatchUpFigures CatchUp() override {
    const sync::CatchUpTotals t = engine_->CatchUpFigures();
    return {t.cycles_ok,    t.cycles_failed, t.bytes_received,
            t.files_copied, t.seconds,       t.push_cycles};
  }

  std::vector<v1::ReplicationStatus> ReplicationStatus() override {
    std::vector<v1::ReplicationStatus> out;
    for (const sync::ReplicaState& r : engine_->ReplicationStatus()) {
      v1::ReplicationStatus s;
      s.set_slot(r.slot);
      s.set_store(r.store);
      s.set_role(r.role);
      s.set_lag_ms(r.lag_ms);
      s.set_last_synced_ms(r.last_success_ms);
      s.set_feed(r.feed);
      s.set_in_sync(r.in_sync);
      for (const std::string& u : r.blocked_users) s.add_blocked_users(u);
      if (r.role == v1::SLOT_REPLICA && !r.in_sync) s.set_last_error(r.last_error);
      *s.mutable_scrub() = r.scrub;
      s.set_quarantine_items(r.quarantine_items);
      s.set_quarantine_bytes(r.quarantine_bytes);
      s.set_stranded_messages(r.stranded_messages);
      s.set_identity_changed(r.identity_changed);
      out.push_back(std::move(s));
    }
    return out;
  }

 private:
  void OnProgress(const std::string& task_id, const v1::TaskProgress& progress) {
    const int64_t now = clock_->MonotonicMs();
    absl::MutexLock lock(&mu_);
    int64_t& last = last_progress_ms_[task_id];
    if (sink_ == nullptr || now - last < kProgressIntervalMs) return;
    last = now;
    v1::TaskUpdate update;
    update.set_task_id(task_id);
    update.set_state(v1::TASK_RUNNING);
    *update.mutable_progress() = progress;
    sink_->SendTaskUpdate(update);
  }

  void OnDone(const sync::TaskOutcome& outcome, uint32_t attempt) {
    v1::TaskUpdate update;
    update.set_task_id(outcome.task_id);
    update.set_state(outcome.state);
    *update.mutable_progress() = outcome.progress;
    update.set_error(outcome.error);
    update.set_verified(outcome.verified);
    for (const std::string& u : outcome.blocked_users) update.add_blocked_users(u);
    absl::MutexLock lock(&mu_);
    last_progress_ms_.erase(outcome.task_id);
    if (outcomes_.size() >= kOutcomesKept) outcomes_.clear();
    outcomes_[{outcome.task_id, attempt}] = update;
    if (sink_ != nullptr) sink_->SendTaskUpdate(update);
  }

  const std::unique_ptr<sync::SyncEngine> engine_;
  Clock* const clock_;
  absl::Mutex mu_;
  TaskUpdateSink* sink_ ABSL_GUARDED_BY(mu_) = nullptr;
  std::map<std::string, int64_t> last_progress_ms_ ABSL_GUARDED_BY(mu_);
  // Final updates of the task attempts this process finished, by task id and
  // attempt (bounded).
  std::map<std::pair<std::string, uint32_t>, v1::TaskUpdate> outcomes_ ABSL_GUARDED_BY(mu_);
};

// The agent's data-path settings (config.proto DataPathConfig, defaults
// filled by config.cc) as engine options.
void ApplyDataPathConfig(const DataPathConfig& d, sync::EngineOptions* options) {
  sync::OwnerOptions& owner = options->sync.user.owner;
  owner.mode = sync::OwnerOptions::Mode::kSource;
  if (d.has_mail_uid() && d.has_mail_gid()) {
    owner.mode = sync::OwnerOptions::Mode::kFixed;
    owner.uid = d.mail_uid();
    owner.gid = d.mail_gid();
  }
  options->scrub.enabled = !d.scrub_disabled();
  options->scrub.bytes_per_second = d.scrub_bytes_per_second();
  if (d.scrub_pass_interval_ms() > 0) {
    options->scrub.pass_interval = absl::Milliseconds(d.scrub_pass_interval_ms());
  }
  if (d.quarantine_keep_days() > 0) {
    options->maintenance.quarantine_keep_days = d.quarantine_keep_days();
  }
  if (d.quarantine_max_share() > 0) {
    options->maintenance.quarantine_max_share = d.quarantine_max_share();
  }
  sync::GuardOptions& guard = options->sync.user.guard;
  if (d.guard_max_removal_share() > 0) guard.max_removal_share = d.guard_max_removal_share();
  if (d.guard_min_removals() > 0) guard.min_removals_to_block = d.guard_min_removals();
  if (d.guard_window_ms() > 0) guard.window = absl::Milliseconds(d.guard_window_ms());
  if (d.catch_up_interval_ms() > 0) {
    options->catch_up_interval = absl::Milliseconds(d.catch_up_interval_ms());
    options->stale_after = std::max(absl::Seconds(30), options->catch_up_interval * 6);
  }
  options->push = d.replication_feed() != "poll";
  if (d.safety_net_interval_ms() > 0) {
    options->safety_net_interval = absl::Milliseconds(d.safety_net_interval_ms());
  }
}

}  // namespace

absl::StatusOr<std::unique_ptr<DataPlane>> MakeSyncDataPlane(const AgentConfig& config,
                                                             Clock* clock,
                                                             const SyncDataPlaneOptions& options) {
  std::map<std::string, std::string> slots;
  sync::EngineOptions engine_options;
  for (const SlotConfig& s : config.slots()) {
    slots[s.name()] = s.path();
    engine_options.maintenance.capacity_bytes[s.name()] = s.capacity_bytes();
  }
  engine_options.sync.bandwidth_bytes_per_second = options.bandwidth_bytes_per_second;
  engine_options.peer = options.peer;
  engine_options.wind_down_timeout = options.wind_down_timeout;
  engine_options.authorizer = options.authorizer;
  ApplyDataPathConfig(config.data_path(), &engine_options);
  auto engine = sync::SyncEngine::Create(absl::StrCat(config.data_dir(), "/sync"), std::move(slots),
                                         clock, sync::DefaultTargetFs(), engine_options);
  if (!engine.ok()) return engine.status();
  return std::unique_ptr<DataPlane>(new SyncDataPlane(std::move(*engine), clock));
}

}  // namespace slotkeeper::replicator
