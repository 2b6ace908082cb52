// slotroute's two conversations with the coordinator's Automation API:
// LookupUser on a miss (GrpcUserLocator) and the WatchRouting stream
// (RoutingFollower), both over one channel with the process's transport
// security (base/tls.h). Thin: every answer goes to the RouteTable, which
// validates it.
#ifndef SLOTKEEPER_TOOLS_SLOTROUTE_COORDINATOR_LINK_H_
#define SLOTKEEPER_TOOLS_SLOTROUTE_COORDINATOR_LINK_H_

#include <grpcpp/grpcpp.h>

#include <atomic>
#include <memory>
#include <string>
#include <thread>

#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "base/clock.h"
#include "proto/automation.grpc.pb.h"
#include "tools/slotroute/route_table.h"
#include "tools/slotroute/router.h"

namespace slotkeeper::slotroute {

// LookupUser with a deadline. Thread-safe.
class GrpcUserLocator : public UserLocator {
 public:
  GrpcUserLocator(v1::Automation::StubInterface* stub, absl::Duration deadline)
      : stub_(stub), deadline_(deadline) {}
  absl::StatusOr<v1::UserLocation> Locate(const std::string& user) override;

 private:
  v1::Automation::StubInterface* const stub_;  // not owned
  const absl::Duration deadline_;
};

// Follows WatchRouting on a thread of its own until Stop(): every change goes
// into the table. The stream carries changes "from now on", so each time a
// stream ends and each time one opens (the first time, and after the
// coordinator restarted or the link broke) the table forgets its masters:
// what was missed meanwhile is looked up again on the next request.
//
// The stream is opened wait-for-ready: while the coordinator is away the
// call waits, and its thread keeps driving the channel's reconnection (in a
// process without a gRPC server of its own, a thread waiting on a call is
// what reads the channel's sockets; fail-fast calls in TRANSIENT_FAILURE
// return at once and leave a TLS handshake to gRPC's 5 s backup poll, past
// the channel's 2 s connect deadline). A stream that ends, or that the
// coordinator refuses, is opened again after a backoff (100 ms doubling to
// `max_backoff`; back to 100 ms after a stream that delivered).
class RoutingFollower {
 public:
  // `stub`, `table` and `clock` are not owned and must outlive this.
  RoutingFollower(v1::Automation::StubInterface* stub, RouteTable* table, Clock* clock,
                  absl::Duration max_backoff = absl::Seconds(2));
  ~RoutingFollower();  // Stop()

  void Start();
  // Cancels the stream and joins the thread. Idempotent.
  void Stop();
  // Streams opened so far (for logs and tests).
  int streams_opened() const { return streams_opened_.load(); }

 private:
  void Run();
  // One stream, until it ends. True when it delivered anything or ended
  // after being up (the backoff then starts over).
  bool FollowOnce();

  v1::Automation::StubInterface* const stub_;
  RouteTable* const table_;
  Clock* const clock_;
  const absl::Duration max_backoff_;
  std::atomic<bool> stopping_{false};
  std::atomic<int> streams_opened_{0};
  int failures_in_row_ = 0;  // the thread's own
  absl::Mutex mu_;
  grpc::ClientContext* current_ ABSL_GUARDED_BY(mu_) = nullptr;
  std::thread thread_;
};

}  // namespace slotkeeper::slotroute

#endif  // SLOTKEEPER_TOOLS_SLOTROUTE_COORDINATOR_LINK_H_
