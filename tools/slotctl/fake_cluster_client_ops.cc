// FakeClusterClient: the journal reads and the calls that take hosts and
// tasks in hand (events pages and streams, drain plans, host forget, task
// cancel and retry), as slotmgr answers them.
#include <algorithm>

#include "absl/strings/str_cat.h"
#include "tools/slotctl/fake_cluster_client.h"

namespace slotkeeper::slotctl {
namespace {

bool EventMatches(const v1::Event& e, const v1::ListEventsRequest& r) {
  if (r.since_ms() != 0 && e.time_ms() < r.since_ms()) return false;
  if (r.until_ms() != 0 && e.time_ms() > r.until_ms()) return false;
  if (e.seq() <= r.after_seq() || (r.before_seq() != 0 && e.seq() >= r.before_seq())) return false;
  if (!r.store().empty() && e.store() != r.store()) return false;
  if (!r.host().empty() && e.host() != r.host()) return false;
  return r.kind().empty() || e.kind() == r.kind() || e.kind().rfind(r.kind() + ".", 0) == 0;
}

bool Finished(v1::TaskState s) {
  return s == v1::TASK_DONE || s == v1::TASK_FAILED || s == v1::TASK_CANCELLED;
}

}  // namespace

absl::StatusOr<v1::ListEventsResponse> FakeClusterClient::ListEvents(
    const v1::ListEventsRequest& request) {
  if (absl::Status s = Enter("ListEvents"); !s.ok()) return s;
  c_->last_list_events = request;
  std::vector<const v1::Event*> matches;
  for (const v1::Event& e : c_->events) {
    if (EventMatches(e, request)) matches.push_back(&e);
  }
  if (request.newest_first()) std::reverse(matches.begin(), matches.end());
  const size_t limit = request.limit() == 0 ? 1000 : request.limit();
  v1::ListEventsResponse resp;
  for (const v1::Event* e : matches) {
    if (static_cast<size_t>(resp.events_size()) < limit) {
      *resp.add_events() = *e;
    } else {
      resp.set_remaining(resp.remaining() + 1);
    }
  }
  return resp;
}

absl::Status FakeClusterClient::WatchEvents(const v1::WatchEventsRequest& request,
                                            const StreamCallback<v1::Event>& on_event) {
  if (absl::Status s = Enter("WatchEvents"); !s.ok()) return s;
  c_->last_watch_events = request;
  const size_t call = c_->watch_requests.size();
  c_->watch_requests.push_back(request);
  FakeCluster::WatchStream script;
  if (call < c_->watch_script.size()) {
    script = c_->watch_script[call];
  } else {
    script.ending = absl::UnimplementedError("the fake cluster has no more event streams");
  }
  int sent = 0;
  for (const v1::Event& e : c_->events) {
    if (script.events >= 0 && sent >= script.events) break;
    if (e.time_ms() < request.since_ms()) continue;
    if (!script.from_start && e.seq() <= request.after_seq()) continue;
    ++sent;
    if (!on_event(e)) return absl::OkStatus();
  }
  return script.ending;
}

absl::StatusOr<v1::DrainResponse> FakeClusterClient::Drain(const v1::DrainRequest& request) {
  if (absl::Status s = Enter(request.dry_run() ? "Drain dry-run" : "Drain"); !s.ok()) return s;
  c_->last_drain = request;
  v1::HostInfo* h = c_->FindHost(request.host());
  if (h == nullptr) return absl::NotFoundError(absl::StrCat("no host named ", request.host()));
  v1::DrainResponse resp;
  std::vector<v1::DrainCopy> others;
  for (const v1::SlotInfo& s : h->slots()) {
    if (s.store().empty() || s.role() == v1::SLOT_SPARE) continue;
    v1::DrainCopy c;
    c.set_store(s.store());
    *c.mutable_slot() = s.ref();
    c.set_role(s.role());
    c.set_bytes(s.used_bytes());
    const v1::StoreInfo* store = c_->FindStore(s.store());
    if (store != nullptr) c.set_users(store->user_count());
    if (s.role() != v1::SLOT_MASTER) {
      others.push_back(c);
      continue;
    }
    for (int i = 0; store != nullptr && i < store->copies_size(); ++i) {
      const v1::Copy& copy = store->copies(i);
      if (copy.role() == v1::SLOT_REPLICA && copy.usable() && copy.in_sync() &&
          c.to().host().empty()) {
        *c.mutable_to() = copy.slot();
      }
    }
    if (c.to().host().empty()) {
      c.set_refused("no usable replica in sync");
    } else {
      resp.set_masters_to_move(resp.masters_to_move() + 1);
    }
    *resp.add_copies() = c;
  }
  for (const v1::DrainCopy& c : others) *resp.add_copies() = c;
  if (!request.dry_run()) {
    h->set_draining(true);
    h->set_drain_reason(request.reason());
    resp.set_done(true);
  }
  return resp;
}

absl::StatusOr<v1::ForgetHostResponse> FakeClusterClient::ForgetHost(
    const v1::ForgetHostRequest& request) {
  if (absl::Status s = Enter(request.dry_run() ? "ForgetHost dry-run" : "ForgetHost"); !s.ok()) {
    return s;
  }
  c_->last_forget_host = request;
  auto it = std::find_if(c_->hosts.begin(), c_->hosts.end(),
                         [&](const v1::HostInfo& h) { return h.name() == request.host(); });
  if (it == c_->hosts.end()) {
    return absl::NotFoundError(absl::StrCat("no host '", request.host(), "'"));
  }
  if (it->state() != v1::HOST_DOWN) {
    return absl::FailedPreconditionError(
        absl::StrCat("host \"", request.host(), "\" is not down: stop its agent first"));
  }
  v1::ForgetHostResponse resp;
  resp.set_host(it->name());
  resp.set_state(it->state());
  resp.set_slots(it->slots_size());
  for (const v1::SlotInfo& s : it->slots()) {
    if (s.store().empty()) continue;
    if (s.role() != v1::SLOT_LOST) {
      return absl::FailedPreconditionError(
          absl::StrCat("host \"", request.host(), "\" still holds a copy of store ", s.store()));
    }
    *resp.add_lost_copies_dropped() = s.ref();
  }
  if (!request.dry_run()) {
    c_->hosts.erase(it);
    resp.set_done(true);
  }
  return resp;
}

absl::StatusOr<v1::TaskInfo> FakeClusterClient::CancelTask(const v1::CancelTaskRequest& request) {
  if (absl::Status s = Enter("CancelTask"); !s.ok()) return s;
  c_->last_cancel_task = request;
  for (v1::TaskInfo& t : c_->tasks) {
    if (t.id() != request.task()) continue;
    if (Finished(t.state())) {
      return absl::FailedPreconditionError(
          absl::StrCat("task ", t.id(), " is finished already: nothing to cancel"));
    }
    t.set_state(v1::TASK_CANCELLED);
    t.set_note(absl::StrCat("cancelled: by tester", request.reason().empty() ? "" : ": ",
                            request.reason()));
    return t;
  }
  return absl::NotFoundError(absl::StrCat("no task '", request.task(), "'"));
}

absl::StatusOr<v1::TaskInfo> FakeClusterClient::RetryTask(const v1::RetryTaskRequest& request) {
  if (absl::Status s = Enter("RetryTask"); !s.ok()) return s;
  c_->last_retry_task = request;
  for (v1::TaskInfo& t : c_->tasks) {
    if (t.id() != request.task()) continue;
    if (t.state() == v1::TASK_BACKOFF) {
      t.set_state(v1::TASK_RUNNING);
      t.set_attempts(t.attempts() + 1);
      t.set_next_attempt_ms(0);
      t.set_note("");
      return t;
    }
    if (t.state() == v1::TASK_FAILED) {
      v1::TaskInfo fresh = t;
      fresh.set_id(absl::StrCat(t.id(), "-retry"));
      fresh.set_state(v1::TASK_RUNNING);
      fresh.set_attempts(1);
      c_->tasks.push_back(fresh);
      return fresh;
    }
    return absl::FailedPreconditionError(absl::StrCat("task ", t.id(), " cannot be retried"));
  }
  return absl::NotFoundError(absl::StrCat("no task '", request.task(), "'"));
}

}  // namespace slotkeeper::slotctl
