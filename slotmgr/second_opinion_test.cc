// The second opinion: reading a unit's slots through a fake peer channel,
// and the worker applying what it found to the coordinator.
#include "slotmgr/second_opinion.h"

#include <map>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "slotmgr/testing/coordinator_fixture.h"

namespace slotkeeper::slotmgr {
namespace {

using testing::FsCondition;
using ::testing::HasSubstr;
using testing::MakeInventory;

// Slots by "ADDRESS|SLOT" answer with `users` users; others fail.
class FakePeers final : public PeerLister {
 public:
  absl::StatusOr<v1::ListUsersResponse> ListUsers(const std::string& address,
                                                  const v1::ListUsersRequest& request) override {
    ++calls;
    EXPECT_TRUE(request.include_digests()) << "every file is looked at";
    EXPECT_FALSE(request.store().empty()) << "the store marker is read";
    auto it = users.find(address + "|" + request.slot());
    if (it == users.end()) return absl::UnavailableError("EIO");
    v1::ListUsersResponse resp;
    for (int i = 0; i < it->second; ++i) resp.add_users()->set_user("u" + std::to_string(i));
    return resp;
  }
  std::map<std::string, int> users;
  int calls = 0;
};

TEST(AskSecondOpinionTest, ReadableWhenEverySlotAnswers) {
  FakePeers peers;
  peers.users["imap4:7400|s01"] = 3;
  peers.users["imap4:7400|s02"] = 2;
  OpinionRequest r{"imap4", "du1", "imap4:7400", {{"s01", "st1"}, {"s02", "st2"}}};
  SecondOpinion o = AskSecondOpinion(peers, r);
  EXPECT_TRUE(o.readable);
  EXPECT_THAT(o.detail, HasSubstr("2 slot(s) with 5 user(s)"));
  peers.users.erase("imap4:7400|s02");
  o = AskSecondOpinion(peers, r);
  EXPECT_FALSE(o.readable);
  EXPECT_THAT(o.detail, HasSubstr("slot s02 (st2): EIO"));
  o = AskSecondOpinion(peers, {"imap4", "du2", "imap4:7400", {}});
  EXPECT_FALSE(o.readable);
  EXPECT_THAT(o.detail, HasSubstr("no copy on it"));
}

class SecondOpinionWorkerTest : public testing::CoordinatorFixture {};

TEST_F(SecondOpinionWorkerTest, AppliesWhatItReads) {
  config_.replace_after_ms = 60'000;
  config_.final_pull_deadline_ms = 0;
  Restart();
  RegisterThree();
  RegisterHost(MakeInventory("imap4"));
  CreateHealthyStore();
  FakePeers peers;
  peers.users["imap3:7400|s01"] = 4;  // read-only, readable
  SecondOpinionWorker worker(coord_.get(), &peers);
  EXPECT_EQ(worker.RunOnce(true), 0) << "nothing due";
  for (int i = 0; i < 62; ++i) {
    clock_.Advance(absl::Seconds(1));
    ASSERT_TRUE(Report("imap3", {FsCondition(v1::READ_ONLY, "/srv/du1")}).ok());
    Heartbeat({"imap1", "imap2", "imap4"});
  }
  ASSERT_EQ(EventsOfKind("unit.second_opinion").size(), 1u);
  EXPECT_EQ(worker.RunOnce(false), 1) << "found from the journal";
  EXPECT_EQ(EventsOfKind("unit.held").size(), 1u);
  EXPECT_EQ(worker.RunOnce(true), 0) << "answered: not asked again";
  EXPECT_EQ(peers.calls, 1);
}

}  // namespace
}  // namespace slotkeeper::slotmgr
