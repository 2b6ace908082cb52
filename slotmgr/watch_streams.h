// The Automation API's watch streams (WatchEvents, WatchRouting) on gRPC's
// callback API: one thread serves every open stream.
//
// On the synchronous API each open watch held a server thread for its whole
// life, so a few hundred idle watchers (mail proxies following routing,
// dashboards following events) took a few hundred threads. Here a stream is
// a reactor: it writes one message at a time and, when it has nothing left
// to write, waits for the hub's one thread to wake it when the journal
// moves. At most kMaxStreams are open at once; more are refused with
// RESOURCE_EXHAUSTED.
//
// Thread-safe. The Queries must outlive the hub; Stop() ends every stream
// and must be called before the gRPC server shuts down.
#ifndef SLOTKEEPER_SLOTMGR_WATCH_STREAMS_H_
#define SLOTKEEPER_SLOTMGR_WATCH_STREAMS_H_

#include <grpcpp/grpcpp.h>

#include <atomic>
#include <cstddef>
#include <set>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "proto/automation.pb.h"
#include "proto/model.pb.h"
#include "slotmgr/queries.h"

namespace slotkeeper::slotmgr {

class WatchStreams {
 public:
  static constexpr size_t kMaxStreams = 1000;

  // One open stream, as the hub sees it.
  class Stream {
   public:
    virtual ~Stream() = default;
    // Writes what is new, unless a write is in flight or it has finished.
    virtual void Pump() = 0;
    virtual void End() = 0;
  };

  explicit WatchStreams(const Queries* queries);
  ~WatchStreams();  // Stop()

  // A stream of the events after request.after_seq (or from since_ms), then
  // of each new one. Unless `admitted` is not OK (the caller's role): then
  // the stream ends at once with it.
  grpc::ServerWriteReactor<v1::Event>* OpenEvents(grpc::CallbackServerContext* context,
                                                  const v1::WatchEventsRequest& request,
                                                  const absl::Status& admitted);
  // A stream of the routing changes from now on (or `admitted`'s refusal).
  grpc::ServerWriteReactor<v1::RoutingChange>* OpenRouting(grpc::CallbackServerContext* context,
                                                           const absl::Status& admitted);

  // Ends every open stream (OK) and stops the thread. Idempotent.
  void Stop();
  size_t open_streams();

  // For the streams: what they read, and their leaving (from OnDone).
  const Queries* queries() const { return queries_; }
  void Remove(Stream* stream);

 private:
  bool Add(Stream* stream);
  void Loop();

  const Queries* const queries_;
  absl::Mutex mu_;
  std::set<Stream*> streams_ ABSL_GUARDED_BY(mu_);
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::thread thread_;
};

}  // namespace slotkeeper::slotmgr

#endif  // SLOTKEEPER_SLOTMGR_WATCH_STREAMS_H_
