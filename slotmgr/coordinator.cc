// Coordinator: construction, loading the persisted state, and the commit of
// every decision (Txn -> one StateBatch -> journal).
#include "slotmgr/coordinator.h"

#include <cstdlib>
#include <utility>

#include "absl/strings/str_cat.h"
#include "base/log.h"
#include "proto/event_kinds.h"
#include "slotmgr/automation_guard.h"
#include "slotmgr/failure_detector.h"
#include "slotmgr/health.h"
#include "slotmgr/view_builder.h"

namespace slotkeeper::slotmgr {

Coordinator::Coordinator(StateStore* store, Clock* clock, CoordinatorConfig config)
    : store_(store),
      clock_(clock),
      config_(config),
      journal_(clock),
      outbox_(clock, &journal_),
      masters_(&journal_, &config_),
      tasks_(&model_, &journal_, &outbox_, clock, &config_,
             [this]() ABSL_NO_THREAD_SAFETY_ANALYSIS { return ViewLocked(); }),
      queries_(&mu_, {&model_, &users_, &automation_, &journal_}, store, clock, &config_) {}

absl::StatusOr<std::unique_ptr<Coordinator>> Coordinator::Create(StateStore* store, Clock* clock,
                                                                 CoordinatorConfig config) {
  std::unique_ptr<Coordinator> c(new Coordinator(store, clock, config));
  absl::MutexLock lock(&c->mu_);
  absl::Status st = c->LoadLocked();
  if (!st.ok()) return st;
  return c;
}

absl::Status Coordinator::LoadLocked() {
  absl::StatusOr<StateSnapshot> snap = store_->Load();
  if (!snap.ok()) return snap.status();
  const int64_t now = clock_->NowMs();
  const int64_t mono = clock_->MonotonicMs();
  for (auto& h : snap->hosts) {
    last_heard_mono_ms_[h.info().name()] = mono;
    ApplyHardRule(h.mutable_info()->mutable_conditions());  // stored by an older build
    for (const auto& s : h.info().slots()) {
      if (s.role() == v1::SLOT_MASTER) leases_.RestartedWithMaster(s.ref(), mono, config_.lease_ms);
    }
    model_.hosts[h.info().name()] = std::move(h);
  }
  for (auto& s : snap->stores) model_.stores[s.info().name()] = std::move(s);
  for (auto& t : snap->tasks) model_.tasks[t.info().id()] = std::move(t);
  users_.Restore(std::move(snap->users));
  journal_.set_next_seq(snap->meta.next_event_seq());
  outbox_.Restore(std::move(snap->outbox), snap->meta.next_command_seq());
  tasks_.set_last_seq(snap->meta.next_task_seq());
  last_session_seq_ = snap->meta.next_session_seq();
  if (snap->automation) {
    automation_ = *snap->automation;
  } else {
    automation_.mutable_state()->set_mode(v1::AUTOMATION_RUNNING);
    automation_.mutable_state()->set_since_ms(now);
  }
  automation_.mutable_state()->set_failover_limit(config_.failover_rate_limit);
  Txn txn;
  journal_.Record(txn, event_kind::kCoordinatorStart, v1::INFO,
                  absl::StrCat("coordinator started with ", model_.hosts.size(), " hosts, ",
                               model_.stores.size(), " stores, ", model_.tasks.size(), " tasks, ",
                               outbox_.size(), " unacknowledged commands"));
  return CommitLocked(txn);
}

absl::Status Coordinator::CommitLocked(Txn& txn) {
  // Any change to hosts or stores may have moved copies: drop the index,
  // whether or not the write below succeeds.
  if (!txn.hosts.empty() || !txn.stores.empty() || !txn.erased_hosts.empty()) {
    slot_copies_.Invalidate();
  }
  StateBatch batch;
  for (const auto& h : txn.erased_hosts) {
    if (model_.hosts.count(h) == 0) batch.EraseHost(h);
  }
  for (const auto& h : txn.hosts) {
    auto it = model_.hosts.find(h);
    if (it != model_.hosts.end()) batch.PutHost(it->second);
  }
  for (const auto& s : txn.stores) {
    auto it = model_.stores.find(s);
    if (it != model_.stores.end()) batch.PutStore(it->second);
  }
  for (const auto& t : txn.tasks) {
    auto it = model_.tasks.find(t);
    if (it != model_.tasks.end()) batch.PutTask(it->second);
  }
  for (const auto& u : txn.users) {
    const std::string* store = users_.StoreOf(u);
    batch.PutUser(u, store != nullptr ? *store : "");
  }
  for (const auto& c : txn.commands) batch.PutCommand(c);
  for (const auto& id : txn.erased_commands) batch.EraseCommand(id);
  for (const auto& e : txn.events) batch.AppendEvent(e);
  if (txn.automation) batch.PutAutomation(automation_);
  if (txn.meta || !txn.events.empty() || !txn.commands.empty() || !txn.tasks.empty()) {
    MetaRecord meta;
    meta.set_next_event_seq(journal_.next_seq());
    meta.set_next_command_seq(outbox_.last_seq());
    meta.set_next_task_seq(tasks_.last_seq());
    meta.set_next_session_seq(last_session_seq_);
    batch.PutMeta(meta);
  }
  if (batch.empty()) return absl::OkStatus();
  absl::Status st = store_->Commit(batch);
  if (!st.ok()) {
    // The in-memory model is now ahead of the disk, and acting on it could
    // command what was never recorded. Like a database whose fsync failed,
    // stop: a restart resumes from what is durable.
    LogError("coordinator", absl::StrCat("durable state write failed: ", st.ToString()));
    if (config_.exit_on_commit_failure) {
      LogError("coordinator", "exiting so that a restart resumes from the state on disk");
      std::abort();
    }
    return st;
  }
  journal_.Publish(txn);
  txn = Txn();
  return absl::OkStatus();
}

FailoverEnv Coordinator::FailoverEnvLocked() {
  return FailoverEnv{model_,
                     outbox_,
                     leases_,
                     masters_,
                     journal_,
                     automation_,
                     notices_,
                     config_,
                     clock_,
                     [this]() ABSL_NO_THREAD_SAFETY_ANALYSIS { return ViewLocked(); },
                     [this](Txn& txn) ABSL_NO_THREAD_SAFETY_ANALYSIS { RecomputeLocked(txn); },
                     AutomationRunning(automation_)};
}

std::optional<ClusterView> Coordinator::ViewLocked() {
  absl::StatusOr<ClusterView> view = BuildView(model_, last_heard_mono_ms_);
  if (!view.ok()) {
    LogError("coordinator",
             absl::StrCat("model inconsistent, no decision taken: ", view.status().ToString()));
    return std::nullopt;
  }
  return std::move(*view);
}

void Coordinator::RecomputeLocked(Txn& txn) {
  HealthChanges changes = DeriveHealth(model_, leases_, last_heard_mono_ms_, NowLocked(), config_);
  if (!changes.view_status.ok()) {
    LogError("coordinator", absl::StrCat("model inconsistent, no decision taken: ",
                                         changes.view_status.ToString()));
  }
  txn.hosts.insert(changes.hosts.begin(), changes.hosts.end());
  txn.stores.insert(changes.stores.begin(), changes.stores.end());
  for (v1::Event& e : changes.events) journal_.Record(txn, std::move(e));
}

}  // namespace slotkeeper::slotmgr
