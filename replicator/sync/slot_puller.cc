#include "replicator/sync/slot_puller.h"

#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
#include "base/grpc_util.h"
#include "base/log.h"

namespace slotkeeper::sync {

std::shared_ptr<grpc::Channel> SlotPuller::ChannelTo(const std::string& address) {
  absl::MutexLock lock(&mu_);
  std::shared_ptr<grpc::Channel>& channel = channels_[address];
  if (channel == nullptr) channel = MakeChannel(address);
  return channel;
}

SlotPuller::Source SlotPuller::Connect(const std::string& address, const std::string& slot,
                                       const std::atomic<bool>* cancelled) {
  Source source;
  source.stub = v1::ReplicaPeer::NewStub(ChannelTo(address));
  source.client =
      std::make_unique<PeerClient>(source.stub.get(), slot, address, deps_.peer, cancelled);
  return source;
}

StoreSyncContext SlotPuller::Context(const PeerClient* source, const std::string& store,
                                     int target_root, const std::string& target_slot,
                                     SyncCounters* counters) const {
  StoreSyncContext ctx;
  ctx.source = source;
  ctx.store = store;
  ctx.target_root = target_root;
  ctx.target_slot = target_slot;
  ctx.options = deps_.sync;
  ctx.db = deps_.db;
  ctx.fs = deps_.fs;
  ctx.clock = deps_.clock;
  ctx.counters = counters;
  ctx.quarantine_index = deps_.quarantine;
  ctx.guards = deps_.guards;
  return ctx;
}

TaskOutcome SlotPuller::RunTask(const TaskSpec& spec, const ProgressCallback& on_progress,
                                const VerifiedCallback& on_verified, std::atomic<bool>* cancelled) {
  TaskOutcome outcome;
  outcome.task_id = spec.task_id;
  absl::StatusOr<std::shared_ptr<const Fd>> root = deps_.slots->Root(spec.target_slot);
  const Source source = Connect(spec.source_address, spec.source_slot, cancelled);
  auto fail = [&](const absl::Status& s) {
    outcome.state = absl::IsCancelled(s) ? v1::TASK_CANCELLED : v1::TASK_FAILED;
    outcome.error = std::string(s.message());
    return outcome;
  };
  if (!root.ok()) return fail(root.status());
  if (spec.kind != v1::TASK_VERIFY) {
    SyncCounters counters;
    StoreSyncContext ctx =
        Context(source.client.get(), spec.store, (*root)->get(), spec.target_slot, &counters);
    ctx.progress = [&](const v1::TaskProgress& p) {
      if (on_progress) on_progress(spec.task_id, p);
    };
    ctx.cancelled = cancelled;
    StoreSyncResult partial;
    absl::StatusOr<StoreSyncResult> r = SyncStore(ctx, &partial);
    outcome.progress = partial.progress;
    outcome.blocked_users = partial.blocked_users;
    if (!r.ok()) return fail(r.status());
  }
  const absl::Duration verify_started = deps_.clock->Monotonic();
  absl::StatusOr<VerifyReport> report =
      VerifyAgainstSource(*source.client, "", (*root)->get(), spec.target_slot, deps_.cache);
  if (!report.ok()) return fail(report.status());
  if (on_verified) on_verified(spec, verify_started, *report);
  if (!report->consistent()) {
    const Difference& d = report->differences.front();
    return fail(absl::DataLossError(absl::StrCat(report->differences.size(),
                                                 " difference(s) after sync; first: ", d.path, " ",
                                                 DifferenceKindName(d.kind))));
  }
  outcome.verified = true;
  outcome.state = v1::TASK_DONE;
  if (!outcome.blocked_users.empty()) {
    outcome.state = v1::TASK_FAILED;
    outcome.error =
        absl::StrCat(outcome.blocked_users.size(), " user(s) blocked by the mass-deletion guard");
  }
  return outcome;
}

absl::Status SlotPuller::FinalPull(const std::string& store, const std::string& target_slot,
                                   const Fd& root, const std::string& source_address,
                                   const std::string& source_slot, absl::Duration budget,
                                   std::atomic<bool>* cancelled) {
  const Source source = Connect(source_address, source_slot, cancelled);
  Clock* const clock = deps_.clock;
  // Cancels the pull at the budget (engine clock, looked at every 50 ms).
  absl::Notification done;
  const absl::Duration deadline = clock->Monotonic() + budget;
  std::thread timer([&] {
    while (!done.WaitForNotificationWithTimeout(absl::Milliseconds(50))) {
      if (clock->Monotonic() >= deadline) {
        *cancelled = true;
        return;
      }
    }
  });
  SyncCounters counters;
  StoreSyncContext ctx = Context(source.client.get(), store, root.get(), target_slot, &counters);
  ctx.cancelled = cancelled;
  StoreSyncResult partial;
  absl::StatusOr<StoreSyncResult> r = SyncStore(ctx, &partial);
  const bool timed_out = cancelled->load() && clock->Monotonic() >= deadline;
  done.Notify();
  timer.join();
  const v1::TaskProgress& p = partial.progress;
  const std::string& name = source.client->source_name();
  if (r.ok() && partial.blocked_users.empty()) {
    LogInfo("sync",
            absl::StrCat("final pull into ", target_slot, " from ", name, ": all ", p.users_total(),
                         " user(s) synced, ", counters.files_copied.load(), " file(s) copied"));
    return absl::OkStatus();
  }
  const std::string how_far = absl::StrCat(
      "final pull into ", target_slot, " from ", name, ": ", p.users_done(), " of ",
      p.users_total(), " user(s) synced, ", counters.files_copied.load(), " file(s) copied");
  if (timed_out) {
    return absl::DeadlineExceededError(
        absl::StrCat(how_far, " when its ", absl::FormatDuration(budget), " ran out"));
  }
  if (!r.ok()) {
    return absl::Status(r.status().code(), absl::StrCat(how_far, "; ", r.status().message()));
  }
  return absl::AbortedError(absl::StrCat(how_far, "; ", partial.blocked_users.size(),
                                         " user(s) blocked by the mass-deletion guard"));
}

}  // namespace slotkeeper::sync
