#include "replicator/sync/change_feed.h"

#include <algorithm>
#include <map>
#include <string>

#include "absl/strings/str_cat.h"
#include "base/status_macros.h"
#include "proto/model_util.h"
#include "replicator/sync/slot_layout.h"

namespace slotkeeper::sync {
namespace {

constexpr absl::Duration kCancelPoll = absl::Milliseconds(250);

absl::Duration HeartbeatOf(const v1::WatchChangesRequest& request) {
  return request.heartbeat_ms() == 0 ? kDefaultHeartbeat
                                     : absl::Milliseconds(request.heartbeat_ms());
}

absl::Status ValidateRequest(const v1::WatchChangesRequest& request) {
  if (request.store().empty()) {
    return absl::InvalidArgumentError("WatchChanges: the store is required");
  }
  SK_RETURN_IF_ERROR(model::ValidateName(model::NameKind::kStore, request.store()));
  const absl::Duration heartbeat = HeartbeatOf(request);
  if (heartbeat < kMinHeartbeat || heartbeat > kMaxHeartbeat) {
    return absl::InvalidArgumentError(absl::StrCat("WatchChanges: heartbeat_ms ",
                                                   request.heartbeat_ms(), " is outside ",
                                                   absl::ToInt64Milliseconds(kMinHeartbeat), " to ",
                                                   absl::ToInt64Milliseconds(kMaxHeartbeat)));
  }
  return absl::OkStatus();
}

absl::Status CheckStore(int root, const v1::WatchChangesRequest& request) {
  absl::StatusOr<std::string> store = ReadStoreMarker(root);
  if (!store.ok() || *store != request.store()) {
    return absl::FailedPreconditionError(
        absl::StrCat("slot ", request.slot(), " does not hold store \"", request.store(), "\""));
  }
  return absl::OkStatus();
}

// One feed's memory: the generation it last sent each user at.
class Feed {
 public:
  Feed(PeerCore* core, const v1::WatchChangesRequest& request, int root)
      : core_(core), request_(request), root_(root) {}

  // The notice of what changed since the previous one (every user in the
  // first); empty `users` when nothing did.
  absl::StatusOr<v1::ChangeNotice> Next() {
    SK_RETURN_IF_ERROR(CheckStore(root_, request_));
    SK_ASSIGN_OR_RETURN(auto gens, core_->tracker()->Refresh(root_, request_.slot()));
    v1::ChangeNotice notice;
    notice.set_instance_id(core_->instance_id());
    notice.set_source_time_ms(core_->clock()->NowMs());
    notice.set_complete(first_);
    for (const auto& [user, gen] : gens) {
      auto it = sent_.find(user);
      if (!first_ && it != sent_.end() && it->second == gen.generation) continue;
      v1::ChangedUser* u = notice.add_users();
      u->set_user(user);
      u->set_generation(gen.generation);
      // The first notice's users are owed what was pending at the source;
      // a later one's, the change that made their new generation.
      u->set_changed_ms(first_ ? gen.oldest_change_ms : gen.changed_ms);
      sent_[user] = gen.generation;
    }
    first_ = false;
    return notice;
  }

 private:
  PeerCore* const core_;
  const v1::WatchChangesRequest& request_;
  const int root_;
  bool first_ = true;
  std::map<std::string, uint64_t> sent_;
};

}  // namespace

absl::Status ServeChangeFeed(PeerCore* core, const v1::WatchChangesRequest& request,
                             const std::function<bool(const v1::ChangeNotice&)>& write,
                             const std::function<bool()>& cancelled) {
  SK_RETURN_IF_ERROR(ValidateRequest(request));
  SK_ASSIGN_OR_RETURN(const int root, core->SlotRoot(request.slot()));
  if (!core->tracker()->Watched(request.slot())) {
    return absl::FailedPreconditionError(
        absl::StrCat("slot ", request.slot(), " is not tracked by change events; poll instead"));
  }
  SK_RETURN_IF_ERROR(CheckStore(root, request));
  const absl::Duration heartbeat = HeartbeatOf(request);
  Clock* clock = core->clock();
  Feed feed(core, request, root);
  // The sequence is read before the listing: a change after it wakes the
  // next wait even when this listing already shows it (sent twice is
  // harmless; missed is not).
  uint64_t seq = core->tracker()->ChangeSeq(request.slot());
  SK_ASSIGN_OR_RETURN(v1::ChangeNotice notice, feed.Next());
  if (!write(notice)) return absl::OkStatus();
  absl::Duration last_sent = clock->Monotonic();
  for (;;) {
    const absl::Duration wait = std::min(
        kCancelPoll, std::max(absl::ZeroDuration(), last_sent + heartbeat - clock->Monotonic()));
    const uint64_t now_seq = core->tracker()->AwaitChange(request.slot(), seq, wait);
    if (cancelled && cancelled()) return absl::OkStatus();
    const bool changed = now_seq != seq;
    if (!changed && clock->Monotonic() < last_sent + heartbeat) continue;
    seq = now_seq;
    SK_ASSIGN_OR_RETURN(notice, feed.Next());
    if (!write(notice)) return absl::OkStatus();
    last_sent = clock->Monotonic();
  }
}

}  // namespace slotkeeper::sync
