#include "replicator/lease_manager.h"

#include "gtest/gtest.h"

namespace slotkeeper::replicator {
namespace {

v1::LeaseRenewal Renewal(uint64_t report_id, const std::string& slot, const std::string& store,
                         uint64_t epoch, int64_t duration_ms) {
  v1::LeaseRenewal r;
  r.set_report_id(report_id);
  v1::Lease* l = r.add_leases();
  l->set_slot(slot);
  l->set_store(store);
  l->set_epoch(epoch);
  l->set_duration_ms(duration_ms);
  return r;
}

class LeaseManagerTest : public ::testing::Test {
 protected:
  FakeClock clock_;
  LeaseManager leases_{&clock_};
};

TEST_F(LeaseManagerTest, LeaseExpiresWithoutRenewal) {
  leases_.NoteReportSent(1);
  ASSERT_TRUE(leases_.Promote("s01", "st1", 3, 10'000).ok());
  EXPECT_TRUE(leases_.IsMaster("s01"));
  ASSERT_EQ(leases_.Held().size(), 1u);
  EXPECT_EQ(leases_.Held()[0].duration_ms(), 10'000);
  EXPECT_EQ(leases_.NextExpiry(), absl::Seconds(10));
  clock_.Advance(absl::Milliseconds(9'999));
  EXPECT_TRUE(leases_.TakeExpired().empty());
  clock_.Advance(absl::Milliseconds(1));
  std::vector<v1::Lease> expired = leases_.TakeExpired();
  ASSERT_EQ(expired.size(), 1u);
  EXPECT_EQ(expired[0].slot(), "s01");
  EXPECT_EQ(expired[0].epoch(), 3u);
  EXPECT_FALSE(leases_.IsMaster("s01"));
  EXPECT_TRUE(leases_.Held().empty());
  EXPECT_TRUE(leases_.TakeExpired().empty());  // reported once
}

TEST_F(LeaseManagerTest, PromoteLeaseCountsFromTheLastReportSent) {
  leases_.NoteReportSent(1);
  clock_.Advance(absl::Seconds(3));  // the command arrives 3 s after the report
  ASSERT_TRUE(leases_.Promote("s01", "st1", 1, 10'000).ok());
  EXPECT_EQ(leases_.Held()[0].duration_ms(), 7'000);
}

TEST_F(LeaseManagerTest, RenewalCountsFromWhenTheReportWasSent) {
  ASSERT_TRUE(leases_.Promote("s01", "st1", 3, 10'000).ok());
  clock_.Advance(absl::Seconds(8));
  leases_.NoteReportSent(7);
  clock_.Advance(absl::Seconds(1));  // the renewal arrives 1 s later
  std::vector<absl::Status> r = leases_.Renew(Renewal(7, "s01", "st1", 3, 10'000));
  ASSERT_EQ(r.size(), 1u);
  EXPECT_TRUE(r[0].ok()) << r[0];
  EXPECT_EQ(leases_.Held()[0].duration_ms(), 9'000);  // 8 + 10 - 9
  clock_.Advance(absl::Seconds(8));
  EXPECT_TRUE(leases_.TakeExpired().empty());
  clock_.Advance(absl::Seconds(1));
  EXPECT_EQ(leases_.TakeExpired().size(), 1u);
}

TEST_F(LeaseManagerTest, RenewalForAnOldReportNeverShortensTheLease) {
  leases_.NoteReportSent(1);
  clock_.Advance(absl::Seconds(5));
  leases_.NoteReportSent(2);
  ASSERT_TRUE(leases_.Promote("s01", "st1", 1, 10'000).ok());  // until 15 s
  ASSERT_TRUE(leases_.Renew(Renewal(1, "s01", "st1", 1, 10'000))[0].ok());
  EXPECT_EQ(leases_.Held()[0].duration_ms(), 10'000);
}

TEST_F(LeaseManagerTest, RenewalForAnUnknownReportIsRefused) {
  leases_.NoteReportSent(1);
  ASSERT_TRUE(leases_.Promote("s01", "st1", 1, 10'000).ok());
  for (uint64_t id = 2; id < 1000; ++id) leases_.NoteReportSent(id);
  std::vector<absl::Status> r = leases_.Renew(Renewal(1, "s01", "st1", 1, 10'000));
  EXPECT_EQ(r[0].code(), absl::StatusCode::kNotFound);
}

TEST_F(LeaseManagerTest, EpochMismatchIsRefused) {
  leases_.NoteReportSent(1);
  ASSERT_TRUE(leases_.Promote("s01", "st1", 3, 10'000).ok());
  std::vector<absl::Status> r = leases_.Renew(Renewal(1, "s01", "st1", 2, 60'000));
  EXPECT_EQ(r[0].code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(leases_.Held()[0].duration_ms(), 10'000);
  EXPECT_EQ(leases_.Renew(Renewal(1, "s02", "st1", 3, 60'000))[0].code(),
            absl::StatusCode::kNotFound);
  EXPECT_EQ(leases_.Promote("s01", "st1", 2, 10'000).code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(leases_.Demote("s01", 2).code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_TRUE(leases_.Demote("s01", 3).ok());
  EXPECT_FALSE(leases_.IsMaster("s01"));
}

TEST_F(LeaseManagerTest, ExpiredLeaseIsNotRevivedByALateRenewal) {
  leases_.NoteReportSent(1);
  ASSERT_TRUE(leases_.Promote("s01", "st1", 1, 1'000).ok());
  clock_.Advance(absl::Seconds(2));
  leases_.NoteReportSent(2);
  EXPECT_EQ(leases_.Renew(Renewal(2, "s01", "st1", 1, 10'000))[0].code(),
            absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(leases_.TakeExpired().size(), 1u);
}

TEST_F(LeaseManagerTest, AdoptedMasterServesOnlyOnceRenewed) {
  leases_.AdoptWithoutLease("s01", "st1", 4);
  EXPECT_TRUE(leases_.IsMaster("s01"));
  EXPECT_TRUE(leases_.Held().empty());
  EXPECT_TRUE(leases_.TakeExpired().empty());
  leases_.NoteReportSent(1);
  ASSERT_TRUE(leases_.Renew(Renewal(1, "s01", "st1", 4, 5'000))[0].ok());
  EXPECT_EQ(leases_.Held().size(), 1u);
}

}  // namespace
}  // namespace slotkeeper::replicator
