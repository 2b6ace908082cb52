#include "slotmgr/journal.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "base/log.h"

namespace slotkeeper::slotmgr {

v1::Event MakeEvent(const char* kind, v1::EventSeverity severity, std::string text,
                    const std::string& host, const std::string& slot, const std::string& store,
                    const std::string& task, const std::string& unit) {
  v1::Event e;
  e.set_kind(kind);
  e.set_severity(severity);
  e.set_host(host);
  e.set_slot(slot);
  e.set_store(store);
  e.set_task(task);
  e.set_unit(unit);
  e.set_text(std::move(text));
  return e;
}

void Journal::Record(Txn& txn, v1::Event event) {
  event.set_seq(next_seq_++);
  event.set_time_ms(clock_->NowMs());
  txn.events.push_back(std::move(event));
}

void Journal::Publish(Txn& txn) {
  for (v1::Event& e : txn.events) {
    LogInfo("coordinator", absl::StrCat("event ", e.seq(), " ", e.kind(), ": ", e.text()));
    recent_.push_back(std::move(e));
    if (recent_.size() > kRecentEvents) recent_.pop_front();
  }
  txn.events.clear();
  for (v1::RoutingChange& r : txn.routing) routing_.push_back(std::move(r));
  txn.routing.clear();
}

std::optional<std::vector<v1::Event>> Journal::RecentAfter(uint64_t after_seq, size_t limit) const {
  if (recent_.empty() || recent_.front().seq() > after_seq + 1) return std::nullopt;
  std::vector<v1::Event> out;
  for (const v1::Event& e : recent_) {
    if (e.seq() > after_seq && out.size() < limit) out.push_back(e);
  }
  return out;
}

bool Journal::HasEventAfter(uint64_t after_seq) const {
  return next_seq_ > after_seq + 1 && !recent_.empty() && recent_.back().seq() > after_seq;
}

bool Journal::AwaitEventAfter(absl::Mutex& mu, uint64_t after_seq, absl::Duration timeout) const {
  auto ready = [this, after_seq]() { return HasEventAfter(after_seq); };
  return mu.AwaitWithTimeout(absl::Condition(&ready), timeout);
}

std::vector<v1::RoutingChange> Journal::RoutingAfter(uint64_t after, uint64_t* next) const {
  std::vector<v1::RoutingChange> out;
  for (uint64_t i = after; i < routing_.size(); ++i) out.push_back(routing_[i]);
  *next = routing_.size();
  return out;
}

bool Journal::AwaitRoutingAfter(absl::Mutex& mu, uint64_t after, absl::Duration timeout) const {
  auto ready = [this, after]() { return routing_.size() > after; };
  return mu.AwaitWithTimeout(absl::Condition(&ready), timeout);
}

}  // namespace slotkeeper::slotmgr
