// CallQueue: one gRPC call's own completion queue, so that every wait on
// the call ends: when its operation completes, when a time limit passes, or
// soon after a cancellation flag is set (looked at every kCancelPoll); in
// the last two cases the call is cancelled first. One operation is in
// flight at a time. Used by every call a replica makes to a source
// (peer_client.h) and by the change feed's stream (change_follower.h).
#ifndef SLOTKEEPER_REPLICATOR_SYNC_CALL_QUEUE_H_
#define SLOTKEEPER_REPLICATOR_SYNC_CALL_QUEUE_H_

#include <grpc/support/time.h>
#include <grpcpp/grpcpp.h>

#include <algorithm>
#include <atomic>

#include "absl/time/time.h"

namespace slotkeeper::sync {

class CallQueue {
 public:
  enum class Wait { kDone, kTimedOut, kCancelled };

  // `call` (not owned) must outlive the queue; the flags may be null.
  CallQueue(grpc::ClientContext* call, const std::atomic<bool>* a, const std::atomic<bool>* b)
      : call_(call), a_(a), b_(b) {}
  ~CallQueue() {
    cq_.Shutdown();
    void* tag;
    bool ok;
    while (cq_.Next(&tag, &ok)) {
    }
  }
  CallQueue(const CallQueue&) = delete;
  CallQueue& operator=(const CallQueue&) = delete;

  grpc::CompletionQueue* cq() { return &cq_; }

  // Waits for the operation in flight; `*ok` is its result. kTimedOut after
  // `limit` (InfiniteDuration: none), kCancelled once a flag is set: then
  // the call was cancelled and the operation has completed too.
  Wait Await(absl::Duration limit, bool* ok) {
    absl::Duration waited = absl::ZeroDuration();
    for (;;) {
      const bool cancelled = Cancelled();
      if (cancelled || waited >= limit) {
        AwaitAfterCancel(ok);
        return cancelled ? Wait::kCancelled : Wait::kTimedOut;
      }
      const absl::Duration slice = std::min(kCancelPoll, limit - waited);
      void* tag;
      switch (cq_.AsyncNext(&tag, ok, FromNow(slice))) {
        case grpc::CompletionQueue::GOT_EVENT:
          return Wait::kDone;
        case grpc::CompletionQueue::SHUTDOWN:
          *ok = false;
          return Wait::kDone;
        case grpc::CompletionQueue::TIMEOUT:
          waited += slice;
          break;
      }
    }
  }

  // Cancels the call (no operation in flight: the caller still finishes it).
  void CancelCall() { call_->TryCancel(); }

  // Cancels the call and waits for the operation in flight (which then
  // completes at once).
  void AwaitAfterCancel(bool* ok) {
    call_->TryCancel();
    void* tag;
    if (!cq_.Next(&tag, ok)) *ok = false;
  }

  // A relative gRPC time (no clock read here; gRPC adds its own "now").
  static gpr_timespec FromNow(absl::Duration d) {
    return gpr_time_from_nanos(absl::ToInt64Nanoseconds(d), GPR_TIMESPAN);
  }

 private:
  static constexpr absl::Duration kCancelPoll = absl::Milliseconds(100);

  bool Cancelled() const { return (a_ != nullptr && a_->load()) || (b_ != nullptr && b_->load()); }

  grpc::ClientContext* const call_;
  const std::atomic<bool>* const a_;
  const std::atomic<bool>* const b_;
  grpc::CompletionQueue cq_;
};

}  // namespace slotkeeper::sync

#endif  // SLOTKEEPER_REPLICATOR_SYNC_CALL_QUEUE_H_
