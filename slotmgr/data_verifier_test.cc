#include "slotmgr/data_verifier.h"

#include <map>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace slotkeeper::slotmgr {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

// Agents by peer address: user -> digest, or no answer.
class FakePeers final : public PeerLister {
 public:
  absl::StatusOr<v1::ListUsersResponse> ListUsers(const std::string& peer_address,
                                                  const v1::ListUsersRequest& request) override {
    requests.push_back(request);
    auto it = users.find(peer_address);
    if (it == users.end()) return absl::UnavailableError("connection refused");
    v1::ListUsersResponse resp;
    for (const auto& [user, digest] : it->second) {
      v1::UserSummary* u = resp.add_users();
      u->set_user(user);
      u->set_digest(digest);
    }
    return resp;
  }

  std::map<std::string, std::map<std::string, std::string>> users;
  std::vector<v1::ListUsersRequest> requests;
};

CopyToVerify Copy(const std::string& store, const std::string& host, bool master) {
  CopyToVerify c;
  c.store = store;
  c.slot.set_host(host);
  c.slot.set_slot("s01");
  c.peer_address = host + ":7400";
  c.master = master;
  return c;
}

std::vector<std::string> Problems(const v1::ConsistencyReport& r) {
  std::vector<std::string> out;
  for (const auto& p : r.problems()) {
    out.push_back(p.severity() + " " + p.host() + " " + p.user() + ": " + p.text());
  }
  return out;
}

TEST(DataVerifierTest, IdenticalCopiesVerify) {
  FakePeers peers;
  peers.users["imap1:7400"] = {{"alice", "d1"}, {"bob", "d2"}};
  peers.users["imap2:7400"] = {{"alice", "d1"}, {"bob", "d2"}};
  v1::ConsistencyReport report;
  VerifyData({Copy("st1", "imap1", true), Copy("st1", "imap2", false)}, peers, &report);
  EXPECT_TRUE(report.data_verified());
  EXPECT_EQ(report.users_verified(), 2u);
  EXPECT_THAT(report.problems(), IsEmpty());
  ASSERT_EQ(peers.requests.size(), 2u);
  EXPECT_EQ(peers.requests[0].store(), "st1");
  EXPECT_EQ(peers.requests[0].slot(), "s01");
  EXPECT_TRUE(peers.requests[0].include_digests());
}

TEST(DataVerifierTest, CopiesAreComparedWithTheMaster) {
  FakePeers peers;
  peers.users["imap2:7400"] = {{"alice", "d1"}, {"bob", "d2"}, {"carol", "d3"}};
  peers.users["imap1:7400"] = {{"alice", "d1"}, {"bob", std::string("\x01\x02", 2)}};
  peers.users["imap3:7400"] = {{"alice", "d1"}, {"bob", "d2"}};
  v1::ConsistencyReport report;
  // The master is listed second: it is the reference all the same.
  VerifyData({Copy("st1", "imap1", false), Copy("st1", "imap2", true), Copy("st1", "imap3", false)},
             peers, &report);
  EXPECT_TRUE(report.data_verified());
  EXPECT_EQ(report.users_verified(), 3u);
  EXPECT_THAT(Problems(report),
              ElementsAre("error imap1 bob: content digest 0102 differs from imap2/s01's 6432",
                          "error imap1 carol: user missing here but present in imap2/s01",
                          "error imap3 carol: user missing here but present in imap2/s01"));
}

TEST(DataVerifierTest, ASilentMasterLeavesTheFirstAnswerAsReference) {
  FakePeers peers;
  peers.users["imap2:7400"] = {{"alice", "d1"}};
  peers.users["imap3:7400"] = {{"alice", "d1"}, {"dave", "d4"}};
  v1::ConsistencyReport report;
  VerifyData({Copy("st1", "imap1", true), Copy("st1", "imap2", false), Copy("st1", "imap3", false)},
             peers, &report);
  EXPECT_FALSE(report.data_verified());
  EXPECT_EQ(report.users_verified(), 1u);
  EXPECT_THAT(Problems(report),
              ElementsAre("error imap1 : cannot verify: agent at imap1:7400 did not list users: "
                          "connection refused",
                          "warning imap3 dave: user present here but not in imap2/s01"));
  EXPECT_EQ(report.problems(1).store(), "st1");
  EXPECT_EQ(report.problems(1).slot(), "s01");
}

TEST(DataVerifierTest, StoresAreVerifiedSeparately) {
  FakePeers peers;
  peers.users["imap1:7400"] = {{"alice", "d1"}};
  peers.users["imap2:7400"] = {{"bob", "d2"}};
  v1::ConsistencyReport report;
  VerifyData({Copy("st1", "imap1", true), Copy("st2", "imap2", true)}, peers, &report);
  EXPECT_TRUE(report.data_verified());
  EXPECT_EQ(report.users_verified(), 2u);
  EXPECT_THAT(report.problems(), IsEmpty());
}

}  // namespace
}  // namespace slotkeeper::slotmgr
