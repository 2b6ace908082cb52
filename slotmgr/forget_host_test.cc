// Forgetting a host: refused while it may be serving or holds what is
// needed; then its record, lost copies and queued commands go.
#include "slotmgr/forget_host.h"

#include <string>

#include "gtest/gtest.h"
#include "proto/model_util.h"
#include "slotmgr/testing/coordinator_fixture.h"

namespace slotkeeper::slotmgr {
namespace {

using testing::CoordinatorFixture;
using testing::MakeInventory;

class ForgetHostTest : public CoordinatorFixture {
 protected:
  absl::StatusOr<v1::ForgetHostResponse> Forget(const std::string& host, bool dry_run = false) {
    v1::ForgetHostRequest req;
    req.set_host(host);
    req.set_dry_run(dry_run);
    req.set_reason("decommissioned");
    return coord_->Mutate<v1::ForgetHostResponse>(
        [&](Mutation& m) { return ForgetHost(m, req, "carol"); });
  }

  // Every host but `silent` reports for `seconds` seconds.
  void Silence(const std::string& silent, int seconds) {
    std::vector<std::string> others;
    const v1::ListHostsResponse hosts = coord_->queries().ListHosts();
    for (const auto& h : hosts.hosts()) {
      if (h.name() != silent) others.push_back(h.name());
    }
    for (int i = 0; i < seconds; ++i) {
      clock_.Advance(absl::Seconds(1));
      Heartbeat(others);
    }
  }
};

TEST_F(ForgetHostTest, RefusesAHostThatIsUpOrHoldsACopyAndSaysWhatToDo) {
  RegisterThree();
  CreateHealthyStore();
  RegisterHost(MakeInventory("imap4"));
  absl::Status up = Forget("imap4").status();
  EXPECT_EQ(up.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(up.message().find("is up"), std::string::npos) << up;
  EXPECT_EQ(Forget("imap9").status().code(), absl::StatusCode::kNotFound);
  Silence("imap3", 40);
  ASSERT_EQ(coord_->queries().GetHost("imap3")->state(), v1::HOST_DOWN);
  absl::Status replica = Forget("imap3").status();
  EXPECT_EQ(replica.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(replica.message().find("replica copy of store st1"), std::string::npos) << replica;
  EXPECT_NE(replica.message().find("slotctl mark-lost imap3"), std::string::npos) << replica;
  EXPECT_TRUE(coord_->queries().GetHost("imap3").ok()) << "nothing changed";
}

TEST_F(ForgetHostTest, ForgetsADownHostWithOnlyLostCopiesDurably) {
  RegisterThree();
  CreateHealthyStore();
  RegisterHost(MakeInventory("imap4"));
  ASSERT_TRUE(MarkLost("imap3").ok());
  CompleteRunningTasks();  // imap4 replaces imap3's copy
  Silence("imap3", 40);
  ASSERT_EQ(coord_->queries().GetHost("imap3")->state(), v1::HOST_DOWN);
  absl::StatusOr<v1::ForgetHostResponse> plan = Forget("imap3", /*dry_run=*/true);
  ASSERT_TRUE(plan.ok()) << plan.status();
  EXPECT_FALSE(plan->done());
  EXPECT_TRUE(coord_->queries().GetHost("imap3").ok()) << "a dry run changes nothing";
  absl::StatusOr<v1::ForgetHostResponse> done = Forget("imap3");
  ASSERT_TRUE(done.ok()) << done.status();
  EXPECT_TRUE(done->done());
  EXPECT_EQ(done->state(), v1::HOST_DOWN);
  EXPECT_EQ(coord_->queries().GetHost("imap3").status().code(), absl::StatusCode::kNotFound);
  ASSERT_EQ(EventsOfKind("host.forgotten").size(), 1u);
  EXPECT_EQ(EventsOfKind("host.forgotten")[0].actor(), "carol");
  const absl::StatusOr<v1::StoreInfo> st1 = coord_->queries().GetStore("st1");
  ASSERT_TRUE(st1.ok());
  for (const v1::Copy& c : st1->copies()) {
    EXPECT_NE(c.slot().host(), "imap3");
  }
  Restart();
  EXPECT_EQ(coord_->queries().GetHost("imap3").status().code(), absl::StatusCode::kNotFound)
      << "the record is deleted, not only forgotten in memory";
}

TEST_F(ForgetHostTest, TakesANameTheRulesRefuseWhenItIsOnRecord) {
  RegisterThree();
  // A record written before names were checked.
  HostRecord odd;
  odd.mutable_info()->set_name("imap 1");
  odd.mutable_info()->set_state(v1::HOST_DOWN);
  ASSERT_TRUE(store_->PutRawForTest("host/imap 1", odd.SerializeAsString()).ok());
  Restart();
  ASSERT_TRUE(coord_->queries().GetHost("imap 1").ok());
  absl::StatusOr<v1::ForgetHostResponse> done = Forget("imap 1");
  ASSERT_TRUE(done.ok()) << done.status();
  EXPECT_EQ(coord_->queries().GetHost("imap 1").status().code(), absl::StatusCode::kNotFound);
}

}  // namespace
}  // namespace slotkeeper::slotmgr
