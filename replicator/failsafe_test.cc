#include "replicator/failsafe.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "replicator/failsafe_keeper.h"

namespace slotkeeper::replicator {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

SlotRoleRecord Role(const std::string& store, const std::string& role, uint64_t epoch) {
  SlotRoleRecord r;
  r.set_store(store);
  r.set_role(role);
  r.set_epoch(epoch);
  return r;
}

v1::FailsafeLeaseRequest Request(const std::string& copy_slot, uint64_t epoch,
                                 int64_t duration_ms = 10'000) {
  v1::FailsafeLeaseRequest r;
  r.set_store("st1");
  r.set_epoch(epoch);
  r.mutable_master()->set_host("imap1");
  r.mutable_master()->set_slot("s01");
  r.set_copy_slot(copy_slot);
  r.set_duration_ms(duration_ms);
  return r;
}

class FailsafePromisesTest : public ::testing::Test {
 protected:
  FakeClock clock_;
  CoordinatorContact contact_{&clock_};
  FailsafePromises promises_{&clock_, &contact_, FailsafeOptions(),
                             [](const std::string& slot) -> std::optional<SlotRoleRecord> {
                               if (slot == "s02") return Role("st1", "replica", 3);
                               if (slot == "s03") return Role("st1", "master", 3);
                               if (slot == "s04") return Role("st9", "replica", 3);
                               return std::nullopt;
                             }};
};

TEST_F(FailsafePromisesTest, GrantsOnlyWhenThisAgentCannotHearTheCoordinatorEither) {
  contact_.Heard();
  clock_.Advance(absl::Seconds(2));
  v1::FailsafeLeaseResponse r = promises_.Decide(Request("s02", 3));
  EXPECT_FALSE(r.granted());
  EXPECT_THAT(r.refusal(), HasSubstr("heard the coordinator 2s ago"));
  EXPECT_TRUE(r.copy_hears_coordinator());
  EXPECT_FALSE(promises_.Binding("st1"));

  clock_.Advance(absl::Seconds(1));  // 3 s of silence
  r = promises_.Decide(Request("s02", 3));
  EXPECT_TRUE(r.granted()) << r.refusal();
  EXPECT_EQ(r.promised_ms(), 11'000);  // the lease plus the margin
  std::optional<v1::FailsafePromise> p = promises_.Binding("st1");
  ASSERT_TRUE(p);
  EXPECT_EQ(p->local_slot(), "s02");
  EXPECT_EQ(p->master().host(), "imap1");
  EXPECT_EQ(p->remaining_ms(), 11'000);
  EXPECT_EQ(promises_.All().size(), 1u);

  clock_.Advance(absl::Seconds(11));
  EXPECT_FALSE(promises_.Binding("st1"));
  EXPECT_THAT(promises_.All(), IsEmpty());
}

TEST_F(FailsafePromisesTest, RefusesWhatIsNotAReplicaOfTheStoreOrIsStale) {
  clock_.Advance(absl::Seconds(10));
  EXPECT_THAT(promises_.Decide(Request("s03", 3)).refusal(), HasSubstr("not a replica"));
  EXPECT_THAT(promises_.Decide(Request("s04", 3)).refusal(), HasSubstr("not a replica of st1"));
  EXPECT_THAT(promises_.Decide(Request("s09", 3)).refusal(), HasSubstr("not a replica"));
  // The replica knows of epoch 3: a master at epoch 2 has been replaced.
  EXPECT_THAT(promises_.Decide(Request("s02", 2)).refusal(), HasSubstr("newer master epoch"));
  EXPECT_THAT(promises_.Decide(Request("s02", 3, 3'600'000)).refusal(), HasSubstr("beyond"));
  EXPECT_THAT(promises_.Decide(Request("", 3)).refusal(), HasSubstr("needs"));
  EXPECT_FALSE(promises_.Binding("st1"));
  EXPECT_TRUE(promises_.Decide(Request("s02", 4)).granted());  // a newer master is fine
}

TEST_F(FailsafePromisesTest, RepeatedGrantsExtendButNeverShortenThePromise) {
  clock_.Advance(absl::Seconds(10));
  ASSERT_TRUE(promises_.Decide(Request("s02", 3, 20'000)).granted());
  clock_.Advance(absl::Seconds(1));
  ASSERT_TRUE(promises_.Decide(Request("s02", 3, 5'000)).granted());
  EXPECT_EQ(promises_.Binding("st1")->remaining_ms(), 20'000);
}

TEST(CheckFailsafeCallerTest, OnlyTheMastersOwnHostMayAskWithTls) {
  v1::FailsafeLeaseRequest r;
  r.set_store("st1");
  r.mutable_master()->set_host("imap1");
  r.mutable_master()->set_slot("s01");
  EXPECT_TRUE(CheckFailsafeCaller("imap1", r, /*anonymous_allowed=*/false).ok());
  const absl::Status other = CheckFailsafeCaller("imap2", r, false);
  EXPECT_EQ(other.code(), absl::StatusCode::kPermissionDenied);
  EXPECT_THAT(other.message(), HasSubstr("host 'imap1'"));
  EXPECT_THAT(other.message(), HasSubstr("imap2"));
  EXPECT_EQ(CheckFailsafeCaller("operator", r, false).code(), absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(CheckFailsafeCaller("", r, false).code(), absl::StatusCode::kPermissionDenied);
  // Plaintext on loopback: nobody has an identity.
  EXPECT_TRUE(CheckFailsafeCaller("", r, /*anonymous_allowed=*/true).ok());
  // A certificate still names its host when anonymous callers are allowed.
  EXPECT_EQ(CheckFailsafeCaller("imap2", r, true).code(), absl::StatusCode::kPermissionDenied);
}

// Answers every request from a table of peers; records what was asked.
class FakeAsker : public FailsafeAsker {
 public:
  std::vector<absl::StatusOr<v1::FailsafeLeaseResponse>> Ask(const std::vector<Request>& requests,
                                                             absl::Duration) override {
    std::vector<absl::StatusOr<v1::FailsafeLeaseResponse>> out;
    for (const Request& r : requests) {
      asked.push_back(r.peer_address + " " + r.request.copy_slot());
      if (unreachable.count(r.peer_address)) {
        out.push_back(absl::DeadlineExceededError("no answer"));
        continue;
      }
      v1::FailsafeLeaseResponse resp;
      resp.set_granted(!refusing.count(r.peer_address));
      if (!resp.granted()) {
        resp.set_refusal("hears the coordinator");
        resp.set_copy_hears_coordinator(true);
      }
      out.push_back(resp);
    }
    return out;
  }
  std::vector<std::string> asked;
  std::set<std::string> refusing, unreachable;
};

v1::CopyPeer Peer(const std::string& host, const std::string& slot) {
  v1::CopyPeer p;
  p.mutable_slot()->set_host(host);
  p.mutable_slot()->set_slot(slot);
  p.set_peer_address(host + ":1");
  return p;
}

class FailsafeKeeperTest : public ::testing::Test {
 protected:
  void SetUp() override {
    leases_.NoteReportSent(1);
    ASSERT_TRUE(
        leases_.Promote("s01", "st1", 3, 10'000, {Peer("imap2", "s02"), Peer("imap3", "s05")})
            .ok());
  }
  FakeClock clock_;
  LeaseManager leases_{&clock_};
  CoordinatorContact contact_{&clock_};
  FakeAsker asker_;
  bool can_serve_ = true;
  int reconnects_ = 0;
  FailsafeKeeper keeper_{&clock_,
                         &leases_,
                         &contact_,
                         FailsafeOptions(),
                         &asker_,
                         "imap1",
                         [this](const std::string&) { return can_serve_; },
                         [this] { ++reconnects_; }};
};

TEST_F(FailsafeKeeperTest, AsksEveryCopyWhenTheCoordinatorIsSilentAndExtendsOnAllGrants) {
  clock_.Advance(absl::Seconds(4));  // silent, but the lease has 6 s left: not due
  EXPECT_THAT(keeper_.RunOnce(), IsEmpty());
  EXPECT_THAT(asker_.asked, IsEmpty());
  clock_.Advance(absl::Seconds(2));  // 4 s left: due
  EXPECT_THAT(keeper_.RunOnce(), ElementsAre("s01"));
  EXPECT_THAT(asker_.asked, ElementsAre("imap2:1 s02", "imap3:1 s05"));
  clock_.Advance(absl::Seconds(9));  // 15 s: past the coordinator lease
  ASSERT_EQ(leases_.Held().size(), 1u);
  EXPECT_TRUE(leases_.Held()[0].failsafe());
  EXPECT_EQ(leases_.Held()[0].duration_ms(), 1'000);  // 6 + 10 - 15
}

TEST_F(FailsafeKeeperTest, OneRefusalOrSilenceAndTheLeaseRunsOut) {
  clock_.Advance(absl::Seconds(6));
  asker_.refusing.insert("imap3:1");
  EXPECT_THAT(keeper_.RunOnce(), IsEmpty());
  EXPECT_EQ(reconnects_, 1) << "a copy hears the coordinator: reconnect to it now";
  asker_.refusing.clear();
  asker_.unreachable.insert("imap2:1");
  EXPECT_THAT(keeper_.RunOnce(), IsEmpty());
  clock_.Advance(absl::Seconds(4));
  EXPECT_EQ(leases_.TakeExpired().size(), 1u);
}

TEST_F(FailsafeKeeperTest, NeverAsksWhileTheCoordinatorIsHeardOrForASlotThatCannotServe) {
  clock_.Advance(absl::Seconds(6));
  contact_.Heard();
  EXPECT_THAT(keeper_.RunOnce(), IsEmpty());
  clock_.Advance(absl::Seconds(3));
  can_serve_ = false;  // a hard condition on its slot: let it fence
  EXPECT_THAT(keeper_.RunOnce(), IsEmpty());
  EXPECT_THAT(asker_.asked, IsEmpty());
}

}  // namespace
}  // namespace slotkeeper::replicator
