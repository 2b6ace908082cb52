#include "tools/slotroute/coordinator_link.h"

#include <algorithm>
#include <chrono>

#include "absl/strings/str_cat.h"
#include "base/grpc_util.h"
#include "base/log.h"

namespace slotkeeper::slotroute {

absl::StatusOr<v1::UserLocation> GrpcUserLocator::Locate(const std::string& user) {
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() +
                   std::chrono::milliseconds(absl::ToInt64Milliseconds(deadline_)));
  v1::LookupUserRequest req;
  req.set_user(user);
  v1::UserLocation out;
  grpc::Status st = stub_->LookupUser(&ctx, req, &out);
  if (!st.ok()) return FromGrpcStatus(st);
  return out;
}

RoutingFollower::RoutingFollower(v1::Automation::StubInterface* stub, RouteTable* table,
                                 Clock* clock, absl::Duration max_backoff)
    : stub_(stub), table_(table), clock_(clock), max_backoff_(max_backoff) {}

RoutingFollower::~RoutingFollower() { Stop(); }

void RoutingFollower::Start() {
  thread_ = std::thread([this] { Run(); });
}

void RoutingFollower::Stop() {
  stopping_ = true;
  {
    absl::MutexLock lock(&mu_);
    if (current_ != nullptr) current_->TryCancel();
  }
  if (thread_.joinable()) thread_.join();
}

void RoutingFollower::Run() {
  absl::Duration backoff = absl::Milliseconds(100);
  while (!stopping_) {
    if (FollowOnce()) backoff = absl::Milliseconds(100);
    if (stopping_) break;
    clock_->SleepFor(backoff);
    backoff = std::min(backoff * 2, max_backoff_);
  }
}

bool RoutingFollower::FollowOnce() {
  grpc::ClientContext ctx;
  // The stream waits for the coordinator instead of failing while the
  // channel reconnects: this thread, blocked in the call, is what drives the
  // channel's connection attempts (slotroute runs no gRPC server, and a
  // fail-fast call returns at once while the channel is in
  // TRANSIENT_FAILURE, so nothing else would read the socket; a TLS
  // handshake then only moves on gRPC's backup poll, every 5 s, and never
  // finishes within the channel's 2 s connect deadline).
  ctx.set_wait_for_ready(true);
  {
    absl::MutexLock lock(&mu_);
    if (stopping_) return false;
    current_ = &ctx;
  }
  std::unique_ptr<grpc::ClientReaderInterface<v1::RoutingChange>> reader =
      stub_->WatchRouting(&ctx, v1::WatchRoutingRequest());
  // Whatever changed while no stream was open is unknown: confirm it again.
  table_->MarkAllUnconfirmed();
  ++streams_opened_;
  bool delivered = false;
  v1::RoutingChange change;
  while (reader->Read(&change)) {
    delivered = true;
    if (absl::Status st = table_->Apply(change, clock_->Monotonic()); !st.ok()) {
      LogWarning("slotroute", absl::StrCat("routing change refused: ", st.message()));
      continue;
    }
    LogInfo("slotroute", absl::StrCat("store ", change.store(), ": master ",
                                      change.new_master().service_address(), " (epoch ",
                                      change.master_epoch(), ")"));
  }
  // Nothing follows the routing until the next stream opens: every route
  // must be confirmed again before it is trusted as fresh.
  table_->MarkAllUnconfirmed();
  grpc::Status st = reader->Finish();
  {
    absl::MutexLock lock(&mu_);
    current_ = nullptr;
  }
  // Once per outage, not once per retry.
  const bool first_failure = delivered || failures_in_row_ == 0;
  failures_in_row_ = delivered ? 0 : failures_in_row_ + 1;
  if (!stopping_ && first_failure) {
    LogWarning("slotroute", absl::StrCat("routing watch ended: ", st.error_message(), " (code ",
                                         static_cast<int>(st.error_code()), "); reconnecting"));
  }
  return delivered;
}

}  // namespace slotkeeper::slotroute
