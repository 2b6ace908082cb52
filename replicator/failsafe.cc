#include "replicator/failsafe.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "base/grpc_util.h"
#include "base/log.h"
#include "base/peer_identity.h"
#include "proto/model_util.h"

namespace slotkeeper::replicator {

CoordinatorContact::CoordinatorContact(Clock* clock) : clock_(clock), last_(clock->Monotonic()) {}

void CoordinatorContact::Heard() {
  absl::MutexLock lock(&mu_);
  last_ = clock_->Monotonic();
}

absl::Duration CoordinatorContact::SilentFor() const {
  absl::MutexLock lock(&mu_);
  return clock_->Monotonic() - last_;
}

FailsafePromises::FailsafePromises(Clock* clock, const CoordinatorContact* contact,
                                   FailsafeOptions options, RoleLookup roles)
    : clock_(clock), contact_(contact), options_(options), roles_(std::move(roles)) {}

v1::FailsafeLeaseResponse FailsafePromises::Decide(const v1::FailsafeLeaseRequest& request) {
  v1::FailsafeLeaseResponse out;
  auto refuse = [&](std::string why) {
    out.set_granted(false);
    out.set_refusal(std::move(why));
    return out;
  };
  const std::string master = model::SlotName(request.master());
  if (request.store().empty() || request.copy_slot().empty() || request.master().host().empty() ||
      request.epoch() == 0 || request.duration_ms() <= 0) {
    return refuse("a failsafe request needs store, epoch, master, copy_slot and a duration");
  }
  const absl::Duration duration = absl::Milliseconds(request.duration_ms());
  if (duration > options_.max_lease) {
    return refuse(absl::StrCat("duration ", absl::FormatDuration(duration), " is beyond ",
                               absl::FormatDuration(options_.max_lease)));
  }
  std::optional<SlotRoleRecord> role = roles_(request.copy_slot());
  if (!role || role->store() != request.store() || role->role() != "replica") {
    return refuse(absl::StrCat("slot ", request.copy_slot(), " is not a replica of ",
                               request.store(), " here"));
  }
  if (role->epoch() > request.epoch()) {
    return refuse(absl::StrCat("store ", request.store(), " has a newer master epoch here (",
                               role->epoch(), " > ", request.epoch(), ")"));
  }
  const absl::Duration silent = contact_->SilentFor();
  if (silent < options_.coordinator_silence) {
    out.set_copy_hears_coordinator(true);
    return refuse(absl::StrCat("this agent heard the coordinator ", absl::FormatDuration(silent),
                               " ago: the master must renew through it"));
  }
  const absl::Duration now = clock_->Monotonic();
  const absl::Duration until = now + duration + options_.margin;
  {
    absl::MutexLock lock(&mu_);
    Promise& p = promises_[request.store()];
    const bool fresh = p.until <= now || p.epoch != request.epoch();
    p.local_slot = request.copy_slot();
    p.master = request.master();
    p.epoch = request.epoch();
    p.until = std::max(p.until, until);
    if (fresh) {
      LogWarning(
          "failsafe",
          absl::StrCat("coordinator silent for ", absl::FormatDuration(silent), ": granting ",
                       master, " a failsafe lease for ", request.store(), "@", request.epoch(),
                       "; slot ", request.copy_slot(), " will not be promoted while it lasts"));
    }
  }
  out.set_granted(true);
  out.set_promised_ms(absl::ToInt64Milliseconds(until - now));
  return out;
}

std::optional<v1::FailsafePromise> FailsafePromises::ToProto(const std::string& store,
                                                             const Promise& p,
                                                             absl::Duration now) const {
  if (p.until <= now) return std::nullopt;
  v1::FailsafePromise out;
  out.set_store(store);
  out.set_local_slot(p.local_slot);
  *out.mutable_master() = p.master;
  out.set_epoch(p.epoch);
  out.set_remaining_ms(absl::ToInt64Milliseconds(p.until - now));
  return out;
}

std::optional<v1::FailsafePromise> FailsafePromises::Binding(const std::string& store) const {
  absl::MutexLock lock(&mu_);
  auto it = promises_.find(store);
  if (it == promises_.end()) return std::nullopt;
  return ToProto(store, it->second, clock_->Monotonic());
}

std::vector<v1::FailsafePromise> FailsafePromises::All() const {
  absl::MutexLock lock(&mu_);
  const absl::Duration now = clock_->Monotonic();
  std::vector<v1::FailsafePromise> out;
  for (const auto& [store, p] : promises_) {
    if (std::optional<v1::FailsafePromise> proto = ToProto(store, p, now)) out.push_back(*proto);
  }
  return out;
}

absl::Status CheckFailsafeCaller(const std::string& identity,
                                 const v1::FailsafeLeaseRequest& request, bool anonymous_allowed) {
  if (identity.empty() ? anonymous_allowed : identity == request.master().host()) {
    return absl::OkStatus();
  }
  return absl::PermissionDeniedError(absl::StrCat(
      "a failsafe lease for the master of ", request.store(), " on host '", request.master().host(),
      "' may be asked only by that host; the caller is ", DisplayIdentity(identity)));
}

grpc::Status FailsafeService::RequestLease(grpc::ServerContext* context,
                                           const v1::FailsafeLeaseRequest* request,
                                           v1::FailsafeLeaseResponse* response) {
  if (absl::Status s = CheckFailsafeCaller(PeerIdentity(*context), *request, anonymous_allowed_);
      !s.ok()) {
    return ToGrpcStatus(s);
  }
  *response = promises_->Decide(*request);
  return grpc::Status::OK;
}

}  // namespace slotkeeper::replicator
