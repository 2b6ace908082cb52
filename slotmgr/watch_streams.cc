#include "slotmgr/watch_streams.h"

#include <deque>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "base/grpc_util.h"

namespace slotkeeper::slotmgr {
namespace {

// How long the hub's thread sleeps between looks when nothing happens (a
// routing change without an event is noticed within this).
constexpr absl::Duration kIdleWake = absl::Milliseconds(200);
// Events read from the journal at once for one stream.
constexpr size_t kBatch = 64;

template <typename T>
class Refused final : public grpc::ServerWriteReactor<T> {
 public:
  explicit Refused(grpc::Status status) { this->Finish(std::move(status)); }
  void OnDone() override { delete this; }
};

}  // namespace

// The writing side shared by both kinds of stream: a buffer of what is to
// be written, one write in flight at most, Finish deferred until it ends.
// `Fetch` (under mu_) refills the buffer from the journal.
template <typename T>
class WatchStream : public grpc::ServerWriteReactor<T>, public WatchStreams::Stream {
 public:
  explicit WatchStream(WatchStreams* hub) : hub_(hub) {}

  void Pump() override {
    absl::Status failed;
    {
      absl::MutexLock lock(&mu_);
      if (writing_ || finished_) return;
      if (buffer_.empty()) failed = Fetch(buffer_);
      if (failed.ok()) {
        if (buffer_.empty()) return;
        current_ = std::move(buffer_.front());
        buffer_.pop_front();
        writing_ = true;
      } else {
        finished_ = true;
      }
    }
    if (!failed.ok()) {
      this->Finish(ToGrpcStatus(failed));
      return;
    }
    this->StartWrite(&current_);  // current_ is untouched until OnWriteDone
  }

  void End() override {
    {
      absl::MutexLock lock(&mu_);
      if (finished_) return;
      finished_ = true;
      if (writing_) {
        finish_after_write_ = true;
        return;
      }
    }
    this->Finish(grpc::Status::OK);
  }

  void OnWriteDone(bool ok) override {
    bool finish = false;
    {
      absl::MutexLock lock(&mu_);
      writing_ = false;
      if (finish_after_write_) {
        finish = true;
      } else if (!ok) {  // the client went away
        finished_ = true;
        finish = true;
      } else {
        Written(current_);
      }
    }
    if (finish) {
      this->Finish(grpc::Status::OK);
      return;
    }
    Pump();
  }

  void OnCancel() override { End(); }
  void OnDone() override {
    hub_->Remove(this);
    delete this;
  }

 protected:
  virtual absl::Status Fetch(std::deque<T>& buffer) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) = 0;
  virtual void Written(const T& message) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {}

  WatchStreams* const hub_;
  absl::Mutex mu_;

 private:
  std::deque<T> buffer_ ABSL_GUARDED_BY(mu_);
  T current_;
  bool writing_ ABSL_GUARDED_BY(mu_) = false;
  bool finished_ ABSL_GUARDED_BY(mu_) = false;
  bool finish_after_write_ ABSL_GUARDED_BY(mu_) = false;
};

class EventStream final : public WatchStream<v1::Event> {
 public:
  EventStream(WatchStreams* hub, uint64_t after_seq)
      : WatchStream<v1::Event>(hub), cursor_(after_seq) {}

 protected:
  absl::Status Fetch(std::deque<v1::Event>& buffer) override {
    absl::StatusOr<std::vector<v1::Event>> events = hub_->queries()->EventsAfter(cursor_, kBatch);
    if (!events.ok()) return events.status();
    for (v1::Event& e : *events) buffer.push_back(std::move(e));
    // The cursor moves as events are fetched: a stream never sends one twice.
    if (!buffer.empty()) cursor_ = buffer.back().seq();
    return absl::OkStatus();
  }

 private:
  uint64_t cursor_ ABSL_GUARDED_BY(mu_);
};

class RoutingStream final : public WatchStream<v1::RoutingChange> {
 public:
  RoutingStream(WatchStreams* hub, uint64_t cursor)
      : WatchStream<v1::RoutingChange>(hub), cursor_(cursor) {}

 protected:
  absl::Status Fetch(std::deque<v1::RoutingChange>& buffer) override {
    for (v1::RoutingChange& c : hub_->queries()->RoutingAfter(cursor_, &cursor_)) {
      buffer.push_back(std::move(c));
    }
    return absl::OkStatus();
  }

 private:
  uint64_t cursor_ ABSL_GUARDED_BY(mu_);
};

WatchStreams::WatchStreams(const Queries* queries) : queries_(queries) {
  thread_ = std::thread([this] { Loop(); });
}

WatchStreams::~WatchStreams() { Stop(); }

grpc::ServerWriteReactor<v1::Event>* WatchStreams::OpenEvents(
    grpc::CallbackServerContext* /*context*/, const v1::WatchEventsRequest& request,
    const absl::Status& admitted) {
  if (!admitted.ok()) return new Refused<v1::Event>(ToGrpcStatus(admitted));
  uint64_t cursor = request.after_seq();
  if (request.since_ms() > 0 && request.after_seq() == 0) {
    // Start at the first event at or after since_ms; after the newest when
    // there is none.
    v1::ListEventsRequest q;
    q.set_since_ms(request.since_ms());
    q.set_limit(1);
    absl::StatusOr<v1::ListEventsResponse> first = queries_->ListEvents(q);
    if (!first.ok()) return new Refused<v1::Event>(ToGrpcStatus(first.status()));
    cursor = first->events().empty() ? queries_->LastEventSeq() : first->events(0).seq() - 1;
  }
  auto* stream = new EventStream(this, cursor);
  if (!Add(stream)) {
    delete stream;
    return new Refused<v1::Event>(grpc::Status(
        grpc::StatusCode::RESOURCE_EXHAUSTED,
        absl::StrCat("too many watch streams open (", kMaxStreams, "); try again later")));
  }
  stream->Pump();
  return stream;
}

grpc::ServerWriteReactor<v1::RoutingChange>* WatchStreams::OpenRouting(
    grpc::CallbackServerContext* /*context*/, const absl::Status& admitted) {
  if (!admitted.ok()) return new Refused<v1::RoutingChange>(ToGrpcStatus(admitted));
  auto* stream = new RoutingStream(this, queries_->RoutingCursor());
  if (!Add(stream)) {
    delete stream;
    return new Refused<v1::RoutingChange>(grpc::Status(
        grpc::StatusCode::RESOURCE_EXHAUSTED,
        absl::StrCat("too many watch streams open (", kMaxStreams, "); try again later")));
  }
  return stream;
}

bool WatchStreams::Add(Stream* stream) {
  absl::MutexLock lock(&mu_);
  if (stopping_ || streams_.size() >= kMaxStreams) return false;
  streams_.insert(stream);
  return true;
}

void WatchStreams::Remove(Stream* stream) {
  absl::MutexLock lock(&mu_);
  streams_.erase(stream);
}

size_t WatchStreams::open_streams() {
  absl::MutexLock lock(&mu_);
  return streams_.size();
}

void WatchStreams::Stop() {
  {
    absl::MutexLock lock(&mu_);
    if (!stopping_) {
      stopping_ = true;
      for (Stream* s : streams_) s->End();
    }
  }
  if (thread_.joinable()) thread_.join();
}

void WatchStreams::Loop() {
  uint64_t seen_events = queries_->LastEventSeq();
  uint64_t seen_routing = queries_->RoutingCursor();
  while (true) {
    {
      absl::MutexLock lock(&mu_);
      if (stopping_) return;
    }
    queries_->WaitForEventAfter(seen_events, kIdleWake);
    const uint64_t events = queries_->LastEventSeq();
    const uint64_t routing = queries_->RoutingCursor();
    if (events == seen_events && routing == seen_routing) continue;
    seen_events = events;
    seen_routing = routing;
    absl::MutexLock lock(&mu_);
    for (Stream* s : streams_) s->Pump();
  }
}

}  // namespace slotkeeper::slotmgr
