#include "replicator/sync/scrub_runner.h"

#include <utility>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "base/log.h"
#include "replicator/sync/slot_layout.h"

namespace slotkeeper::sync {
namespace {

// The newest corrupt files a slot's record keeps.
constexpr int kRecentCorrupt = 20;
// How often the thread looks for a pass that is due (real time).
constexpr absl::Duration kIdlePoll = absl::Milliseconds(200);
// A pass that failed (the slot unreadable) is tried again this much later.
constexpr absl::Duration kRetryAfter = absl::Minutes(1);

}  // namespace

ScrubRunner::ScrubRunner(ScrubRunnerDeps deps, ScrubRunnerOptions options)
    : deps_(std::move(deps)),
      options_(options),
      bucket_(options.bytes_per_second, std::max<uint64_t>(options.bytes_per_second / 4, 1 << 20),
              deps_.clock) {}

ScrubRunner::~ScrubRunner() { Stop(); }

void ScrubRunner::Start() {
  if (!options_.enabled || thread_.joinable()) return;
  stop_ = false;
  thread_ = std::thread([this] { Loop(); });
}

void ScrubRunner::Stop() {
  {
    absl::MutexLock lock(&mu_);
    stop_ = true;
    for (auto& [slot, pass] : passes_) pass->cancelled = true;
  }
  if (thread_.joinable()) thread_.join();
}

void ScrubRunner::CancelPass(const std::string& slot) {
  absl::MutexLock lock(&mu_);
  auto it = passes_.find(slot);
  if (it != passes_.end()) it->second->cancelled = true;
}

bool ScrubRunner::Due(const std::string& slot) {
  {
    absl::MutexLock lock(&mu_);
    auto failed = retry_after_.find(slot);
    if (failed != retry_after_.end() && deps_.clock->Monotonic() < failed->second) return false;
  }
  const int64_t last = deps_.records->Get(slot).scrub_last_full_pass_ms();
  return last == 0 ||
         deps_.clock->NowMs() - last >= absl::ToInt64Milliseconds(options_.pass_interval);
}

void ScrubRunner::Loop() {
  while (!stop_) {
    bool ran = false;
    for (const ScrubTarget& target : deps_.targets()) {
      if (stop_) return;
      if (!Due(target.slot)) continue;
      ran = true;
      if (absl::Status s = RunPass(target); !s.ok() && !absl::IsCancelled(s)) {
        LogWarning("sync", absl::StrCat("scrub of slot ", target.slot, ": ", s.message(),
                                        "; trying again in ", absl::FormatDuration(kRetryAfter)));
        absl::MutexLock lock(&mu_);
        retry_after_[target.slot] = deps_.clock->Monotonic() + kRetryAfter;
      }
    }
    if (!ran) absl::SleepFor(kIdlePoll);  // real time: only how soon a due pass is seen
  }
}

absl::Status ScrubRunner::RunPass(const ScrubTarget& target) {
  auto pass = std::make_shared<Pass>();
  absl::StatusOr<uint64_t> total = SlotUserBytes(target.root->get());
  pass->bytes_total = total.ok() ? *total : 0;
  {
    absl::MutexLock lock(&mu_);
    pass->cancelled = stop_.load();
    passes_[target.slot] = pass;
  }
  std::unique_ptr<v1::ReplicaPeer::Stub> stub;
  std::unique_ptr<PeerClient> master;
  if (target.replica && !target.master_address.empty()) {
    stub = v1::ReplicaPeer::NewStub(deps_.channel_to(target.master_address));
    master = std::make_unique<PeerClient>(stub.get(), target.master_slot, target.master_address,
                                          deps_.peer, &pass->cancelled);
  }
  ScrubContext ctx;
  ctx.slot_root = target.root->get();
  ctx.slot = target.slot;
  ctx.cache = deps_.cache;
  ctx.replica = target.replica;
  ctx.master = master.get();
  ctx.checkpoints = deps_.checkpoints;
  if (absl::StatusOr<SlotIdentity> id = ReadSlotIdentity(ctx.slot_root); id.ok()) {
    ctx.identity = id->ToString();
  }
  ctx.bucket = &bucket_;
  ctx.stop = &pass->cancelled;
  ctx.bytes_verified = &pass->bytes_verified;
  ctx.on_finding = [&](const ScrubFinding& f) { NoteFinding(target, f); };
  absl::StatusOr<ScrubPassResult> result = ScrubSlot(ctx);
  if (!result.ok()) return result.status();
  const int64_t now = deps_.clock->NowMs();
  LogInfo("sync", absl::StrCat("scrub of slot ", target.slot, ": ", result->files, " files, ",
                               result->bytes, " bytes read, ", result->findings, " bad"));
  return deps_.records->Update(target.slot,
                               [&](SlotRecord* r) { r->set_scrub_last_full_pass_ms(now); });
}

void ScrubRunner::NoteFinding(const ScrubTarget& target, const ScrubFinding& f) {
  const std::string where = absl::StrCat(f.user, "/", f.path);
  LogError("sync",
           absl::StrCat("scrub: slot ", target.slot, ": ", where,
                        f.missing ? " is missing (the master holds it)" : " is corrupt on disk",
                        f.against_master && !f.missing ? " (differs from the master's copy)" : "",
                        ": expected ", absl::BytesToHexString(f.expected), ", read ",
                        f.missing         ? "nothing (no such file)"
                        : f.found.empty() ? "nothing (read error)"
                                          : absl::BytesToHexString(f.found),
                        target.replica ? "; fetching it again from the master"
                                       : "; not repaired on a master"));
  (void)deps_.records->Update(target.slot, [&](SlotRecord* r) {
    r->set_scrub_corrupt_found(r->scrub_corrupt_found() + 1);
    r->add_scrub_recent_corrupt(where);
    while (r->scrub_recent_corrupt_size() > kRecentCorrupt) {
      r->mutable_scrub_recent_corrupt()->erase(r->mutable_scrub_recent_corrupt()->begin());
    }
  });
  if (target.replica && deps_.on_corrupt) deps_.on_corrupt(target.slot, f);
}

void ScrubRunner::NoteRepaired(const std::string& slot, uint64_t files) {
  if (files == 0) return;
  (void)deps_.records->Update(
      slot, [&](SlotRecord* r) { r->set_scrub_repaired(r->scrub_repaired() + files); });
}

v1::ScrubStatus ScrubRunner::Status(const std::string& slot) {
  v1::ScrubStatus status;
  const SlotRecord record = deps_.records->Get(slot);
  status.set_last_full_pass_ms(record.scrub_last_full_pass_ms());
  status.set_corrupt_found(record.scrub_corrupt_found());
  status.set_repaired(record.scrub_repaired());
  for (const std::string& c : record.scrub_recent_corrupt()) status.add_recent_corrupt(c);
  absl::MutexLock lock(&mu_);
  auto it = passes_.find(slot);
  if (it != passes_.end()) {
    status.set_bytes_verified(it->second->bytes_verified);
    status.set_bytes_total(it->second->bytes_total);
  }
  return status;
}

}  // namespace slotkeeper::sync
