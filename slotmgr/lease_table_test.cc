#include "slotmgr/lease_table.h"

#include <string>

#include "gtest/gtest.h"
#include "slotmgr/testing/slot_ref.h"

namespace slotkeeper::slotmgr {
namespace {

using testing::Ref;

// A store with copies on imap1/s01 (master), imap2/s01 and imap3/s01.
v1::StoreInfo Store() {
  v1::StoreInfo st;
  st.set_name("st1");
  for (const char* host : {"imap1", "imap2", "imap3"}) {
    *st.add_copies()->mutable_slot() = Ref(host, "s01");
  }
  st.mutable_copies(0)->set_role(v1::SLOT_MASTER);
  return st;
}

TEST(LeaseTableTest, GrantBoundsTheLeaseUntilItRunsOut) {
  LeaseTable leases;
  EXPECT_EQ(leases.ValidUntil(Ref("imap1", "s01")), 0);
  EXPECT_FALSE(leases.MayBeValid(Store(), 1000));
  leases.Grant("imap1/s01", 21'000);
  EXPECT_EQ(leases.ValidUntil(Ref("imap1", "s01")), 21'000);
  EXPECT_TRUE(leases.MayBeValid(Store(), 20'999));
  EXPECT_FALSE(leases.MayBeValid(Store(), 21'000)) << "valid strictly before the bound";
  leases.Grant("imap1/s01", 10'000);  // a renewal replaces the bound
  EXPECT_EQ(leases.ValidUntil(Ref("imap1", "s01")), 10'000);
}

TEST(LeaseTableTest, AnyCopyOfTheStoreMayHoldALease) {
  LeaseTable leases;
  // A former master whose unit was declared lost while its agent still ran.
  leases.Grant("imap3/s01", 5000);
  EXPECT_TRUE(leases.MayBeValid(Store(), 4000));
  leases.Grant("imap9/s01", 50'000);  // not a copy of st1
  EXPECT_FALSE(leases.MayBeValid(Store(), 6000));
}

TEST(LeaseTableTest, AnAcknowledgedGrantOnlyExtendsAndADemotionReleases) {
  LeaseTable leases;
  leases.Grant("imap2/s01", 30'000);
  leases.Extend(Ref("imap2", "s01"), 25'000);
  EXPECT_EQ(leases.ValidUntil(Ref("imap2", "s01")), 30'000);
  leases.Extend(Ref("imap2", "s01"), 35'000);
  EXPECT_EQ(leases.ValidUntil(Ref("imap2", "s01")), 35'000);
  leases.Release(Ref("imap2", "s01"));
  EXPECT_EQ(leases.ValidUntil(Ref("imap2", "s01")), 0);
  EXPECT_FALSE(leases.MayBeValid(Store(), 0));
}

TEST(LeaseTableTest, ARestartedCoordinatorTakesEveryMasterAsLeasedForAFullLease) {
  LeaseTable leases;
  leases.RestartedWithMaster(Ref("imap1", "s01"), 100'000, 20'000);
  EXPECT_TRUE(leases.MayBeValid(Store(), 119'999));
  EXPECT_FALSE(leases.MayBeValid(Store(), 120'000));
}

}  // namespace
}  // namespace slotkeeper::slotmgr
