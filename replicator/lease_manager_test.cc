#include "replicator/lease_manager.h"

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace slotkeeper::replicator {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

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

TEST_F(LeaseManagerTest, RenewalNeverStartsServingAnAdoptedMaster) {
  // After a restart the coordinator's assignment names the slot master, but
  // its mail server is not running: only a promote (with its hook) starts it.
  leases_.AdoptWithoutLease("s01", "st1", 4);
  EXPECT_TRUE(leases_.IsMaster("s01"));
  EXPECT_FALSE(leases_.IsServing("s01"));
  EXPECT_TRUE(leases_.Held().empty());
  EXPECT_TRUE(leases_.TakeExpired().empty());
  leases_.NoteReportSent(1);
  std::vector<absl::Status> r = leases_.Renew(Renewal(1, "s01", "st1", 4, 5'000));
  EXPECT_EQ(r[0].code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(std::string(r[0].message()), HasSubstr("needs a promote"));
  EXPECT_TRUE(leases_.Held().empty());
  ASSERT_TRUE(leases_.Promote("s01", "st1", 4, 5'000).ok());
  EXPECT_TRUE(leases_.IsServing("s01"));
}

v1::CopyPeer Peer(const std::string& host, const std::string& slot) {
  v1::CopyPeer p;
  p.mutable_slot()->set_host(host);
  p.mutable_slot()->set_slot(slot);
  p.set_peer_address(host + ":7401");
  return p;
}

TEST_F(LeaseManagerTest, FailsafeGrantsKeepTheSlotServingPastTheCoordinatorLease) {
  leases_.NoteReportSent(1);
  ASSERT_TRUE(leases_.Promote("s01", "st1", 2, 10'000, {Peer("imap2", "s01")}).ok());
  ASSERT_EQ(leases_.FailsafeCandidates().size(), 1u);
  EXPECT_EQ(leases_.FailsafeCandidates()[0].witnesses.size(), 1u);
  clock_.Advance(absl::Seconds(6));
  const absl::Duration asked = clock_.Monotonic();
  clock_.Advance(absl::Milliseconds(200));  // the grants take a moment
  ASSERT_TRUE(leases_.ExtendFailsafe("s01", "st1", 2, asked, absl::Seconds(10)).ok());
  clock_.Advance(absl::Seconds(5));  // 11.2 s: the coordinator lease is over
  std::vector<v1::Lease> held = leases_.Held();
  ASSERT_EQ(held.size(), 1u);
  EXPECT_TRUE(held[0].failsafe());
  EXPECT_EQ(held[0].duration_ms(), 4'800);  // 6 + 10 - 11.2
  EXPECT_EQ(held[0].witnesses(0), "imap2/s01");
  EXPECT_TRUE(leases_.TakeExpired().empty());
  clock_.Advance(absl::Milliseconds(4'800));
  EXPECT_EQ(leases_.TakeExpired().size(), 1u);
  // Grants that arrive after the lease ran out do not revive it.
  EXPECT_EQ(leases_.ExtendFailsafe("s01", "st1", 2, asked, absl::Seconds(60)).code(),
            absl::StatusCode::kFailedPrecondition);
}

TEST_F(LeaseManagerTest, CoordinatorRenewalAfterFailsafeClearsTheFlagAndRenewalsCarryWitnesses) {
  leases_.NoteReportSent(1);
  ASSERT_TRUE(leases_.Promote("s01", "st1", 2, 10'000).ok());
  EXPECT_TRUE(leases_.FailsafeCandidates().empty());  // no witnesses known yet
  clock_.Advance(absl::Seconds(5));
  ASSERT_TRUE(leases_.ExtendFailsafe("s01", "st1", 2, clock_.Monotonic(), absl::Seconds(10)).ok());
  clock_.Advance(absl::Seconds(6));  // 11 s: failsafe only
  EXPECT_TRUE(leases_.Held()[0].failsafe());
  leases_.NoteReportSent(2);
  v1::LeaseRenewal r = Renewal(2, "s01", "st1", 2, 10'000);
  v1::StoreCopies* copies = r.add_copies();
  copies->set_store("st1");
  *copies->add_copies() = Peer("imap3", "s04");
  ASSERT_TRUE(leases_.Renew(r)[0].ok());
  EXPECT_FALSE(leases_.Held()[0].failsafe());
  ASSERT_EQ(leases_.FailsafeCandidates().size(), 1u);
  EXPECT_EQ(leases_.FailsafeCandidates()[0].witnesses[0].slot().host(), "imap3");
}

// Records what an observer is told, as the fence's lease file would.
class RecordingObserver : public LeaseObserver {
 public:
  void LeaseChanged(const std::string& slot, const std::string& store, uint64_t epoch,
                    std::optional<absl::Duration> until) override {
    lines.push_back(absl::StrCat(slot, " ", store, "@", epoch, " ",
                                 until ? absl::FormatDuration(*until) : "stopped"));
  }
  std::vector<std::string> lines;
};

TEST(LeaseObserverTest, SeesEveryDeadlineChangeInOrder) {
  FakeClock clock;
  RecordingObserver observer;
  LeaseManager leases(&clock, &observer);
  leases.NoteReportSent(1);
  ASSERT_TRUE(leases.Promote("s01", "st1", 2, 10'000).ok());
  clock.Advance(absl::Seconds(4));
  leases.NoteReportSent(2);
  ASSERT_TRUE(leases.Renew(Renewal(2, "s01", "st1", 2, 10'000))[0].ok());
  ASSERT_TRUE(leases.Renew(Renewal(1, "s01", "st1", 2, 10'000))[0].ok());  // no change
  clock.Advance(absl::Seconds(10));
  EXPECT_EQ(leases.TakeExpired().size(), 1u);
  ASSERT_TRUE(leases.Promote("s02", "st2", 1, 10'000).ok());
  ASSERT_TRUE(leases.Demote("s02", 1).ok());
  EXPECT_THAT(observer.lines, ElementsAre("s01 st1@2 10s", "s01 st1@2 14s", "s01 st1@2 stopped",
                                          "s02 st2@1 14s",  // from report 2, sent at 4 s
                                          "s02 st2@1 stopped"));
}

}  // namespace
}  // namespace slotkeeper::replicator
