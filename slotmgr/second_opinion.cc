#include "slotmgr/second_opinion.h"

#include <set>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "base/log.h"
#include "proto/event_kinds.h"

namespace slotkeeper::slotmgr {

SecondOpinion AskSecondOpinion(PeerLister& peers, const OpinionRequest& request) {
  SecondOpinion out{request.host, request.unit, false, ""};
  if (request.slots.empty()) {
    out.detail = "no copy on it to read";
    return out;
  }
  size_t users = 0;
  for (const auto& [slot, store] : request.slots) {
    v1::ListUsersRequest req;
    req.set_slot(slot);
    req.set_store(store);
    req.set_include_digests(true);
    absl::StatusOr<v1::ListUsersResponse> listed = peers.ListUsers(request.peer_address, req);
    if (!listed.ok()) {
      out.detail = absl::StrCat("slot ", slot, " (", store, "): ", listed.status().message());
      return out;
    }
    users += listed->users_size();
  }
  out.readable = true;
  out.detail = absl::StrCat(request.slots.size(), " slot(s) with ", users,
                            " user(s) listed with their content digests over the peer channel");
  return out;
}

void SecondOpinionWorker::Start() {
  if (thread_.joinable()) return;
  cursor_ = core_->queries().LastEventSeq();
  thread_ = std::thread([this] { Loop(); });
}

void SecondOpinionWorker::Stop() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
  }
  if (thread_.joinable()) thread_.join();
}

int SecondOpinionWorker::RunOnce(bool full_look) {
  std::set<std::string> hosts;
  absl::StatusOr<std::vector<v1::Event>> events = core_->queries().EventsAfter(cursor_, 1000);
  if (events.ok()) {
    for (const v1::Event& e : *events) {
      cursor_ = e.seq();
      if (e.kind() == event_kind::kUnitSecondOpinion) hosts.insert(e.host());
    }
  }
  std::vector<v1::HostInfo> look;
  if (full_look) {
    v1::ListHostsResponse all = core_->queries().ListHosts();
    for (v1::HostInfo& h : *all.mutable_hosts()) look.push_back(std::move(h));
  } else {
    for (const std::string& host : hosts) {
      if (absl::StatusOr<v1::HostInfo> h = core_->queries().GetHost(host); h.ok()) {
        look.push_back(*std::move(h));
      }
    }
  }
  int applied = 0;
  for (const v1::HostInfo& h : look) {
    for (const OpinionRequest& request : OpinionsWanted(h)) {
      const SecondOpinion opinion = AskSecondOpinion(*peers_, request);
      absl::StatusOr<bool> done = core_->Mutate<bool>(
          [&](Mutation& m) -> absl::StatusOr<bool> { return ApplySecondOpinion(m, opinion); });
      if (!done.ok()) {
        LogError("coordinator", absl::StrCat("second opinion on ", request.host, "/", request.unit,
                                             ": ", done.status().ToString()));
      } else {
        applied += *done;
      }
    }
  }
  return applied;
}

void SecondOpinionWorker::Loop() {
  // Real time: how often to look, not a decision (the decisions are the
  // coordinator's, on its clock).
  constexpr absl::Duration kPoll = absl::Milliseconds(250);
  constexpr int kFullLookEvery = 120;  // polls: every 30 s
  for (int round = 0;; ++round) {
    RunOnce(round % kFullLookEvery == 0);
    absl::MutexLock lock(&mu_);
    if (mu_.AwaitWithTimeout(absl::Condition(&stopping_), kPoll)) return;
  }
}

}  // namespace slotkeeper::slotmgr
