#include "tools/slotroute/router.h"

#include <map>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace slotkeeper::slotroute {
namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;

// The coordinator's LookupUser, scripted: a location per user, or an error
// for every call.
class FakeLocator : public UserLocator {
 public:
  absl::StatusOr<v1::UserLocation> Locate(const std::string& user) override {
    ++calls;
    if (!down.ok()) return down;
    auto it = users.find(user);
    if (it == users.end()) return absl::NotFoundError("no user " + user);
    return it->second;
  }
  void Put(const std::string& user, const std::string& store, uint64_t epoch,
           const std::string& address, bool usable = true) {
    v1::UserLocation& l = users[user];
    l.set_user(user);
    l.set_store(store);
    l.set_master_epoch(epoch);
    l.mutable_master()->set_service_address(address);
    l.mutable_master()->set_usable(usable);
  }
  std::map<std::string, v1::UserLocation> users;
  absl::Status down;
  int calls = 0;
};

class RouterTest : public ::testing::Test {
 protected:
  RouteTable table_;
  FakeLocator locator_;
  FakeClock clock_;
  Router router_{&table_, &locator_, &clock_, {1, absl::Seconds(10)}};
};

TEST_F(RouterTest, AMissAsksTheCoordinatorAHitDoesNot) {
  locator_.Put("alice", "st1", 2, "127.0.0.1:14300");
  EXPECT_EQ(router_.Answer("shared/passdb/imap/alice"),
            "O{\"host\":\"127.0.0.1\",\"nopassword\":\"y\",\"port\":\"14300\",\"proxy\":\"y\"}\n");
  EXPECT_THAT(router_.Answer("shared/passdb/lmtp/alice"), HasSubstr("\"port\":\"14301\""));
  EXPECT_EQ(locator_.calls, 1);
}

TEST_F(RouterTest, UnknownUsersAndMalformedKeysAreNotFound) {
  EXPECT_EQ(router_.Answer("shared/passdb/imap/nobody"), "N\n");
  EXPECT_EQ(router_.Answer("shared/passdb/imap/../etc"), "N\n");
  EXPECT_EQ(router_.Answer("shared/passdb/smtp/alice"), "N\n");
  EXPECT_EQ(locator_.calls, 1);  // only the well-formed one was asked about
}

TEST_F(RouterTest, NoUsableMasterIsATemporaryFailureAskedAgainEachTime) {
  locator_.Put("alice", "st1", 2, "127.0.0.1:14300", /*usable=*/false);
  EXPECT_THAT(router_.Answer("shared/passdb/lmtp/alice"), StartsWith("Fstore st1 has no usable"));
  EXPECT_THAT(router_.Answer("shared/passdb/lmtp/alice"), StartsWith("F"));
  EXPECT_EQ(locator_.calls, 2);
  // The failover ends: the new master is routed to at once.
  locator_.Put("alice", "st1", 3, "127.0.0.1:14402");
  EXPECT_THAT(router_.Answer("shared/passdb/lmtp/alice"), HasSubstr("\"port\":\"14403\""));
}

TEST_F(RouterTest, APromotionFromTheWatchIsUsedWithoutAsking) {
  locator_.Put("alice", "st1", 2, "127.0.0.1:14300");
  router_.Answer("shared/passdb/imap/alice");
  v1::RoutingChange c;
  c.set_store("st1");
  c.set_master_epoch(3);
  c.mutable_new_master()->set_service_address("127.0.0.1:14402");
  c.mutable_new_master()->set_usable(true);
  ASSERT_TRUE(table_.Apply(c, clock_.Monotonic()).ok());
  EXPECT_THAT(router_.Answer("shared/passdb/imap/alice"), HasSubstr("\"port\":\"14402\""));
  EXPECT_EQ(locator_.calls, 1);
}

TEST_F(RouterTest, OldRoutesAreConfirmedAndKeptWhileTheCoordinatorIsAway) {
  locator_.Put("alice", "st1", 2, "127.0.0.1:14300");
  router_.Answer("shared/passdb/imap/alice");
  clock_.Advance(absl::Seconds(11));
  locator_.down = absl::UnavailableError("connection refused");
  // Stale and unconfirmable: still served, mail goes on.
  EXPECT_THAT(router_.Answer("shared/passdb/imap/alice"), HasSubstr("\"port\":\"14300\""));
  EXPECT_EQ(locator_.calls, 2);
  // A user never seen cannot be routed: a temporary failure, not a refusal.
  EXPECT_THAT(router_.Answer("shared/passdb/imap/bob"), StartsWith("Fcannot locate bob"));
  // A watch stream reopened: routes are unconfirmed, asked about again.
  locator_.down = absl::OkStatus();
  locator_.Put("alice", "st1", 3, "127.0.0.1:14402");
  table_.MarkAllUnconfirmed();
  EXPECT_THAT(router_.Answer("shared/passdb/imap/alice"), HasSubstr("\"port\":\"14402\""));
}

TEST_F(RouterTest, AHostileAnswerIsATemporaryFailure) {
  locator_.Put("alice", "st1", 2, "127.0.0.1:14300");
  locator_.users["alice"].set_store("st 1");
  EXPECT_THAT(router_.Answer("shared/passdb/imap/alice"), StartsWith("Fbad routing answer"));
  EXPECT_FALSE(table_.Find("alice").has_value());
}

}  // namespace
}  // namespace slotkeeper::slotroute
