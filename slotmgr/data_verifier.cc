#include "slotmgr/data_verifier.h"

#include <chrono>
#include <map>
#include <utility>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "base/grpc_util.h"
#include "proto/model_util.h"
#include "proto/peer.grpc.pb.h"

namespace slotkeeper::slotmgr {
namespace {

class GrpcPeerLister final : public PeerLister {
 public:
  explicit GrpcPeerLister(absl::Duration deadline) : deadline_(deadline) {}

  absl::StatusOr<v1::ListUsersResponse> ListUsers(const std::string& peer_address,
                                                  const v1::ListUsersRequest& request) override {
    auto stub = v1::ReplicaPeer::NewStub(MakeChannel(peer_address));
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() +
                     std::chrono::milliseconds(absl::ToInt64Milliseconds(deadline_)));
    v1::ListUsersResponse resp;
    grpc::Status st = stub->ListUsers(&ctx, request, &resp);
    if (!st.ok()) return FromGrpcStatus(st);
    return resp;
  }

  absl::StatusOr<v1::ListQuarantineResponse> ListQuarantine(
      const std::string& peer_address, const v1::ListQuarantineRequest& request) override {
    auto stub = v1::ReplicaPeer::NewStub(MakeChannel(peer_address));
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + absl::ToChronoMilliseconds(deadline_));
    v1::ListQuarantineResponse resp;
    grpc::Status st = stub->ListQuarantine(&ctx, request, &resp);
    if (!st.ok()) return FromGrpcStatus(st);
    return resp;
  }

  absl::StatusOr<v1::ListStrandedResponse> ListStranded(
      const std::string& peer_address, const v1::ListStrandedRequest& request) override {
    auto stub = v1::ReplicaPeer::NewStub(MakeChannel(peer_address));
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + absl::ToChronoMilliseconds(deadline_));
    v1::ListStrandedResponse resp;
    grpc::Status st = stub->ListStranded(&ctx, request, &resp);
    if (!st.ok()) return FromGrpcStatus(st);
    return resp;
  }

 private:
  const absl::Duration deadline_;
};

void AddProblem(v1::ConsistencyReport* report, const std::string& severity,
                const CopyToVerify& copy, const std::string& user, const std::string& text) {
  v1::ConsistencyProblem* p = report->add_problems();
  p->set_severity(severity);
  p->set_store(copy.store);
  p->set_host(copy.slot.host());
  p->set_slot(copy.slot.slot());
  p->set_user(user);
  p->set_text(text);
}

// One store's copies: asks each for its digests, then compares them with
// the reference copy's. False if an agent did not answer.
bool VerifyStore(const std::string& store, const std::vector<CopyToVerify>& copies,
                 PeerLister& peers, v1::ConsistencyReport* report, bool deep) {
  bool all_answered = true;
  std::vector<std::map<std::string, std::string>> digests(copies.size());  // user -> digest
  std::vector<bool> answered(copies.size(), false);
  for (size_t i = 0; i < copies.size(); ++i) {
    const CopyToVerify& c = copies[i];
    v1::ListUsersRequest request;
    request.set_slot(c.slot.slot());
    request.set_store(store);
    request.set_include_digests(true);
    request.set_deep(deep);
    absl::StatusOr<v1::ListUsersResponse> listed = peers.ListUsers(c.peer_address, request);
    if (!listed.ok()) {
      all_answered = false;
      AddProblem(report, "error", c, "",
                 absl::StrCat("cannot verify: agent at ", c.peer_address,
                              " did not list users: ", listed.status().message()));
      continue;
    }
    answered[i] = true;
    for (const auto& u : listed->users()) digests[i][u.user()] = u.digest();
  }
  int ref = -1;
  for (size_t i = 0; i < copies.size(); ++i) {
    if (answered[i] && (ref < 0 || copies[i].master)) ref = static_cast<int>(i);
  }
  if (ref < 0) return all_answered;
  const std::string ref_name = model::SlotName(copies[ref].slot);
  for (const auto& [user, digest] : digests[ref]) {
    report->set_users_verified(report->users_verified() + 1);
    for (size_t i = 0; i < copies.size(); ++i) {
      if (static_cast<int>(i) == ref || !answered[i]) continue;
      auto it = digests[i].find(user);
      if (it == digests[i].end()) {
        AddProblem(report, "error", copies[i], user,
                   absl::StrCat("user missing here but present in ", ref_name));
      } else if (it->second != digest) {
        AddProblem(report, "error", copies[i], user,
                   absl::StrCat("content digest ", absl::BytesToHexString(it->second).substr(0, 16),
                                " differs from ", ref_name, "'s ",
                                absl::BytesToHexString(digest).substr(0, 16)));
      }
    }
  }
  for (size_t i = 0; i < copies.size(); ++i) {
    if (static_cast<int>(i) == ref || !answered[i]) continue;
    for (const auto& [user, digest] : digests[i]) {
      if (!digests[ref].count(user)) {
        AddProblem(report, "warning", copies[i], user,
                   absl::StrCat("user present here but not in ", ref_name));
      }
    }
  }
  return all_answered;
}

}  // namespace

std::unique_ptr<PeerLister> MakeGrpcPeerLister(absl::Duration deadline) {
  return std::make_unique<GrpcPeerLister>(deadline);
}

void VerifyData(const std::vector<CopyToVerify>& copies, PeerLister& peers,
                v1::ConsistencyReport* report, bool deep) {
  std::map<std::string, std::vector<CopyToVerify>> by_store;
  for (const CopyToVerify& c : copies) by_store[c.store].push_back(c);
  bool all_answered = true;
  for (const auto& [store, of_store] : by_store) {
    all_answered = VerifyStore(store, of_store, peers, report, deep) && all_answered;
  }
  report->set_data_verified(all_answered);
}

}  // namespace slotkeeper::slotmgr
