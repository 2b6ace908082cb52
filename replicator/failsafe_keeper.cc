#include "replicator/failsafe_keeper.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "base/grpc_util.h"
#include "base/log.h"
#include "proto/model_util.h"

namespace slotkeeper::replicator {

v1::Failsafe::Stub* GrpcFailsafeAsker::StubFor(const std::string& address) {
  absl::MutexLock lock(&mu_);
  std::unique_ptr<v1::Failsafe::Stub>& stub = stubs_[address];
  if (stub == nullptr) stub = v1::Failsafe::NewStub(MakeChannel(address));
  return stub.get();
}

std::vector<absl::StatusOr<v1::FailsafeLeaseResponse>> GrpcFailsafeAsker::Ask(
    const std::vector<Request>& requests, absl::Duration deadline) {
  std::vector<absl::StatusOr<v1::FailsafeLeaseResponse>> out(requests.size(),
                                                             absl::UnavailableError("not asked"));
  std::vector<std::thread> threads;
  const auto until = std::chrono::system_clock::now() + absl::ToChronoMilliseconds(deadline);
  for (size_t i = 0; i < requests.size(); ++i) {
    threads.emplace_back([&, i] {
      grpc::ClientContext context;
      context.set_deadline(until);
      v1::FailsafeLeaseResponse response;
      grpc::Status s =
          StubFor(requests[i].peer_address)->RequestLease(&context, requests[i].request, &response);
      out[i] = s.ok() ? absl::StatusOr<v1::FailsafeLeaseResponse>(response) : FromGrpcStatus(s);
    });
  }
  for (std::thread& t : threads) t.join();
  return out;
}

FailsafeKeeper::FailsafeKeeper(Clock* clock, LeaseManager* leases,
                               const CoordinatorContact* contact, FailsafeOptions options,
                               FailsafeAsker* asker, std::string host, CanServe can_serve,
                               std::function<void()> coordinator_reachable)
    : clock_(clock),
      leases_(leases),
      contact_(contact),
      options_(options),
      asker_(asker),
      host_(std::move(host)),
      can_serve_(std::move(can_serve)),
      coordinator_reachable_(std::move(coordinator_reachable)) {}

FailsafeKeeper::~FailsafeKeeper() { Stop(); }

void FailsafeKeeper::Start(absl::Duration interval) {
  thread_ = std::thread([this, interval] {
    while (true) {
      {
        absl::MutexLock lock(&mu_);
        if (mu_.AwaitWithTimeout(absl::Condition(&stopping_), interval)) return;
      }
      RunOnce();
    }
  });
}

void FailsafeKeeper::Stop() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
  }
  if (thread_.joinable()) thread_.join();
}

std::vector<std::string> FailsafeKeeper::RunOnce() {
  std::vector<std::string> extended;
  const absl::Duration silent = contact_->SilentFor();
  if (silent < options_.coordinator_silence) {
    absl::MutexLock lock(&mu_);
    for (auto& [slot, on] : on_failsafe_) {
      if (on) LogInfo("failsafe", absl::StrCat("slot ", slot, ": the coordinator renews it again"));
    }
    on_failsafe_.clear();
    return extended;
  }
  for (const FailsafeCandidate& c : leases_->FailsafeCandidates()) {
    const absl::Duration now = clock_->Monotonic();
    if (c.serving_until - now > c.lease_duration / 2) continue;  // not due yet
    if (!can_serve_(c.slot)) continue;  // let it fence: a failover is what it needs
    std::vector<FailsafeAsker::Request> requests;
    for (const v1::CopyPeer& w : c.witnesses) {
      FailsafeAsker::Request& r = requests.emplace_back();
      r.peer_address = w.peer_address();
      r.request.set_store(c.store);
      r.request.set_epoch(c.epoch);
      r.request.mutable_master()->set_host(host_);
      r.request.mutable_master()->set_slot(c.slot);
      r.request.set_copy_slot(w.slot().slot());
      r.request.set_duration_ms(absl::ToInt64Milliseconds(c.lease_duration));
    }
    const absl::Duration asked_at = clock_->Monotonic();
    // Answers must come while the lease still holds, and soon.
    const absl::Duration deadline =
        std::max(absl::Milliseconds(100), std::min(absl::Seconds(2), (c.serving_until - now) / 2));
    std::vector<absl::StatusOr<v1::FailsafeLeaseResponse>> answers =
        asker_->Ask(requests, deadline);
    std::vector<std::string> refusals;
    for (size_t i = 0; i < answers.size(); ++i) {
      const std::string who = model::SlotName(c.witnesses[i].slot());
      if (!answers[i].ok()) {
        refusals.push_back(absl::StrCat(who, ": ", answers[i].status().message()));
      } else if (!answers[i]->granted()) {
        refusals.push_back(absl::StrCat(who, ": ", answers[i]->refusal()));
        if (answers[i]->copy_hears_coordinator() && coordinator_reachable_) {
          coordinator_reachable_();
        }
      }
    }
    absl::MutexLock lock(&mu_);
    bool& on = on_failsafe_[c.slot];
    if (!refusals.empty()) {
      LogWarning("failsafe",
                 absl::StrCat(
                     "slot ", c.slot, " (", c.store, "@", c.epoch, "): coordinator silent for ",
                     absl::FormatDuration(silent), " and not every copy grants a failsafe lease (",
                     absl::StrJoin(refusals, "; "), "): it stops serving when its lease ends"));
      on = false;
      continue;
    }
    absl::Status s = leases_->ExtendFailsafe(c.slot, c.store, c.epoch, asked_at, c.lease_duration);
    if (!s.ok()) {
      LogWarning("failsafe", absl::StrCat("slot ", c.slot, ": ", s.message()));
      on = false;
      continue;
    }
    if (!on) {
      LogWarning("failsafe",
                 absl::StrCat("slot ", c.slot, " (", c.store, "@", c.epoch,
                              "): coordinator silent for ", absl::FormatDuration(silent),
                              "; serving on failsafe "
                              "grants of all ",
                              requests.size(), " other copies"));
    }
    on = true;
    extended.push_back(c.slot);
  }
  return extended;
}

}  // namespace slotkeeper::replicator
