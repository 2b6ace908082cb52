#include "tools/slotroute/route_table.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace slotkeeper::slotroute {
namespace {

using ::testing::HasSubstr;

v1::UserLocation Location(const std::string& user, const std::string& store, uint64_t epoch,
                          const std::string& address, bool usable = true) {
  v1::UserLocation l;
  l.set_user(user);
  l.set_store(store);
  l.set_master_epoch(epoch);
  l.mutable_master()->set_service_address(address);
  l.mutable_master()->set_usable(usable);
  return l;
}

v1::RoutingChange Change(const std::string& store, uint64_t epoch, const std::string& address) {
  v1::RoutingChange c;
  c.set_store(store);
  c.set_master_epoch(epoch);
  c.mutable_new_master()->set_service_address(address);
  c.mutable_new_master()->set_usable(true);
  return c;
}

TEST(RouteTableTest, LearnsUsersAndFollowsPromotions) {
  RouteTable t;
  EXPECT_FALSE(t.Find("alice").has_value());
  ASSERT_TRUE(t.Learn(Location("alice", "st1", 2, "127.0.0.1:14300"), absl::Seconds(1)).ok());
  ASSERT_TRUE(t.Learn(Location("bob", "st1", 2, "127.0.0.1:14300"), absl::Seconds(1)).ok());
  EXPECT_EQ(t.Find("alice")->address, "127.0.0.1:14300");
  ASSERT_TRUE(t.Apply(Change("st1", 3, "127.0.0.1:14402"), absl::Seconds(2)).ok());
  EXPECT_EQ(t.Find("alice")->address, "127.0.0.1:14402");
  EXPECT_EQ(t.Find("bob")->epoch, 3u);
  EXPECT_EQ(t.Find("bob")->learned_at, absl::Seconds(2));
}

TEST(RouteTableTest, AnOlderEpochNeverUndoesANewerOne) {
  RouteTable t;
  ASSERT_TRUE(t.Learn(Location("alice", "st1", 2, "127.0.0.1:14300"), absl::Seconds(1)).ok());
  ASSERT_TRUE(t.Apply(Change("st1", 3, "127.0.0.1:14402"), absl::Seconds(2)).ok());
  // A LookupUser answered before the promotion, arriving after it.
  ASSERT_TRUE(t.Learn(Location("alice", "st1", 2, "127.0.0.1:14300"), absl::Seconds(3)).ok());
  EXPECT_EQ(t.Find("alice")->address, "127.0.0.1:14402");
  // The same epoch refreshes (usable may have changed).
  ASSERT_TRUE(
      t.Learn(Location("alice", "st1", 3, "127.0.0.1:14402", false), absl::Seconds(4)).ok());
  EXPECT_FALSE(t.Find("alice")->usable);
}

TEST(RouteTableTest, RefusesHostileAnswers) {
  RouteTable t;
  EXPECT_FALSE(t.Learn(Location("a/b", "st1", 1, "127.0.0.1:1"), absl::ZeroDuration()).ok());
  EXPECT_FALSE(t.Learn(Location("alice", "", 1, "127.0.0.1:1"), absl::ZeroDuration()).ok());
  EXPECT_FALSE(t.Learn(Location("alice", "st1", 1, "nowhere"), absl::ZeroDuration()).ok());
  EXPECT_FALSE(t.Learn(Location("alice", "st1", 1, "127.0.0.1:99999"), absl::ZeroDuration()).ok());
  EXPECT_FALSE(t.Apply(Change("st 1", 1, "127.0.0.1:1"), absl::ZeroDuration()).ok());
  EXPECT_FALSE(t.Find("alice").has_value());
  ASSERT_TRUE(t.Learn(Location("alice", "st1", 1, "127.0.0.1:1"), absl::ZeroDuration()).ok());
  EXPECT_THAT(t.Learn(Location("alice", "st2", 1, "127.0.0.1:2"), absl::ZeroDuration()).message(),
              HasSubstr("never change stores"));
  EXPECT_EQ(t.Find("alice")->store, "st1");
}

TEST(RouteTableTest, NoMasterIsNotUsable) {
  RouteTable t;
  ASSERT_TRUE(t.Learn(Location("alice", "st1", 1, ""), absl::ZeroDuration()).ok());
  EXPECT_FALSE(t.Find("alice")->usable);
}

TEST(RouteTableTest, MarkAllUnconfirmedKeepsTheRoutes) {
  RouteTable t;
  ASSERT_TRUE(t.Learn(Location("alice", "st1", 1, "127.0.0.1:1"), absl::Seconds(5)).ok());
  t.MarkAllUnconfirmed();
  ASSERT_TRUE(t.Find("alice").has_value());
  EXPECT_EQ(t.Find("alice")->learned_at, -absl::InfiniteDuration());
}

TEST(ProxyFieldsTest, ImapOnTheServicePortLmtpAfterIt) {
  MasterRoute r{"st1", 3, "127.0.0.1:14300", true, absl::ZeroDuration()};
  auto imap = ProxyFields(r, "imap", 1);
  ASSERT_TRUE(imap.ok()) << imap.status();
  EXPECT_EQ(imap->at("host"), "127.0.0.1");
  EXPECT_EQ(imap->at("port"), "14300");
  EXPECT_EQ(imap->at("proxy"), "y");
  EXPECT_EQ(imap->at("nopassword"), "y");
  EXPECT_EQ(ProxyFields(r, "lmtp", 1)->at("port"), "14301");
  EXPECT_EQ(ProxyFields(r, "lmtp", 1000)->at("port"), "15300");
}

TEST(ProxyFieldsTest, NoUsableMasterIsATemporaryFailure) {
  MasterRoute r{"st1", 3, "127.0.0.1:14300", false, absl::ZeroDuration()};
  EXPECT_TRUE(absl::IsUnavailable(ProxyFields(r, "imap", 1).status()));
  r.usable = true;
  r.address = "127.0.0.1:65535";
  EXPECT_TRUE(absl::IsInvalidArgument(ProxyFields(r, "lmtp", 1).status()));
}

}  // namespace
}  // namespace slotkeeper::slotroute
