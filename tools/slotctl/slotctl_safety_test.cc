// Data safety beyond the quarantine: `user unblock`, `store reconcile`,
// `ksck --verify-data --deep` and what `store STORE` says about each copy.
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tools/slotctl/test_cluster.h"

namespace slotkeeper::slotctl {
namespace {

using ::testing::Contains;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Not;

class SafetyTest : public ::testing::Test {
 protected:
  SafetyTest() : cluster_(DataSafetyCluster(clock_.NowMs())), harness_(&cluster_, &clock_) {}

  RunResult Run(const std::vector<std::string>& args, const std::string& in = "") {
    cluster_.calls.clear();
    return harness_.Run(args, in);
  }

  void ExpectUsageError(const std::vector<std::string>& args, const std::string& message) {
    RunResult r = Run(args);
    EXPECT_EQ(r.code, 2) << message << "\n" << r.out << r.err;
    EXPECT_THAT(r.err + r.out, HasSubstr(message));  // --json: on stdout
    EXPECT_THAT(cluster_.calls, IsEmpty()) << message;
  }

  FakeClock clock_;
  FakeCluster cluster_;
  Harness harness_;
};

// ---- store STORE --------------------------------------------------------------

TEST_F(SafetyTest, StoreSaysWhatEachCopyReports) {
  RunResult r = Run({"store", "st1"});
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_THAT(r.out,
              HasSubstr("\nData safety:\n"
                        "  imap1/s01: not in sync: mass-deletion guard stopped user bob.\n"
                        "  imap1/s01: quarantine holds 3 item(s), 20.0 KiB (see 'slotctl "
                        "quarantine list --slot imap1/s01').\n"
                        "  imap1/s01: the mass-deletion guard stopped syncing user(s) bob (see "
                        "'slotctl user unblock USER --store st1').\n"
                        "  imap2/s01: last full scrub pass 2d ago, current pass 45% done; 2 "
                        "corrupt file(s) found (set aside and fetched again from the master).\n"
                        "  imap2/s01: quarantine holds 1 item(s), 2.0 KiB"));
  r = Run({"store", "st3"});
  EXPECT_THAT(r.out, HasSubstr("  imap4/s03: 2 message(s) stranded here from when it was master "
                               "(see 'slotctl store reconcile st3').\n"));
  EXPECT_THAT(r.out, HasSubstr("  imap1/s05: not the slot its agent knew (emptied, replaced or "
                               "another filesystem mounted there)"));
  r = Run({"store", "st1", "--json"});
  EXPECT_TRUE(IsJsonObject(r.out));
  EXPECT_THAT(r.out, HasSubstr("\"blocked_users\": [\n"));
  EXPECT_THAT(r.out, HasSubstr("\"scrub_corrupt_found\": \"2\""));
}

TEST_F(SafetyTest, StoreShowsScrubTimesInTheCoordinatorsClockAsGiven) {
  // imap2's clock runs 6h behind: the coordinator corrected its stamp
  // already (model.proto Copy), so slotctl needs no host's clock.
  cluster_.FindHost("imap2")->set_clock_offset_ms(3 - 6 * 3600'000);
  RunResult r = Run({"store", "st1"});
  EXPECT_THAT(r.out, HasSubstr("imap2/s01: last full scrub pass 2d ago"));
  EXPECT_THAT(cluster_.calls, ElementsAre("GetStore"));
  RunResult plain = Run({"store", "st2"});
  EXPECT_THAT(plain.out, Not(HasSubstr("scrub")));
  EXPECT_THAT(cluster_.calls, ElementsAre("GetStore"));
}

TEST_F(SafetyTest, HealthyCopiesAddNothing) {
  FakeCluster plain = OutageCluster(clock_.NowMs());
  Harness h(&plain, &clock_);
  RunResult r = h.Run({"store", "st1"});
  EXPECT_EQ(r.code, 0);
  EXPECT_THAT(r.out, Not(HasSubstr("Data safety")));
}

// ---- ksck --deep ----------------------------------------------------------------

TEST_F(SafetyTest, KsckDeepGoesWithVerifyData) {
  RunResult r = Run({"ksck", "--verify-data", "--deep"});
  EXPECT_EQ(r.code, 1);
  EXPECT_THAT(cluster_.calls, ElementsAre("CheckConsistency verify-data deep"));
  EXPECT_THAT(r.out, HasSubstr("data verified for 0 users (deep: every file read again)"));
  cluster_.agent_unanswered = true;
  r = Run({"ksck", "--verify-data", "--deep"});
  EXPECT_THAT(r.out, HasSubstr("data not verified: not every copy's agent answered\n"));
  ExpectUsageError({"ksck", "--deep"}, "--deep goes with --verify-data");
  r = Run({"ksck", "--deep", "--json"});
  EXPECT_EQ(r.code, 2);
  EXPECT_TRUE(IsJsonObject(r.out));
}

// ---- user unblock ---------------------------------------------------------------

TEST_F(SafetyTest, UnblockShowsTheEvidenceAndAsks) {
  RunResult r = Run({"user", "unblock", "bob"});
  EXPECT_EQ(r.code, 1);
  EXPECT_THAT(cluster_.calls, ElementsAre("LookupUser", "GetStore", "ListEvents"));
  EXPECT_THAT(r.out, HasSubstr("User bob of store st1: the mass-deletion guard stopped syncing it "
                               "into 1 copy(ies), because most of the user's mail vanished on the "
                               "master imap4/s01; these copies still hold it."));
  EXPECT_THAT(r.out, HasSubstr("imap1/s01  replica  no"));
  EXPECT_THAT(r.out, HasSubstr("mass-deletion guard stopped user bob"));
  EXPECT_THAT(r.out, HasSubstr("Journal:\n"));
  EXPECT_THAT(r.out, HasSubstr("sync of user bob of store st1 into imap1/s01 stopped"));
  EXPECT_THAT(r.out, HasSubstr("moved into their quarantine"));
  EXPECT_THAT(r.err, HasSubstr("Unblock user bob on 1 copy(ies) of st1 now? [y/N]"));
  EXPECT_THAT(r.err, HasSubstr("not confirmed"));

  r = Run({"user", "unblock", "bob"}, "y\n");
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(cluster_.calls.back(), "UnblockUser");
  EXPECT_EQ(cluster_.last_unblock.store(), "st1");
  EXPECT_EQ(cluster_.last_unblock.user(), "bob");
  EXPECT_EQ(cluster_.last_unblock.reason(), "operator request (slotctl)");
  EXPECT_THAT(r.out, HasSubstr("User bob unblocked on imap1/s01: the next sync applies what the "
                               "master holds.\n"));
}

TEST_F(SafetyTest, UnblockWithYesStoreAndReason) {
  RunResult r = Run({"user", "unblock", "bob", "--store", "st1", "--yes", "--reason", "checked"});
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_THAT(cluster_.calls, ElementsAre("GetStore", "ListEvents", "UnblockUser"));
  EXPECT_EQ(cluster_.last_unblock.reason(), "checked");
  r = Run({"user", "unblock", "bob", "--yes", "--json"});
  EXPECT_EQ(r.code, 0);
  EXPECT_TRUE(IsJsonObject(r.out)) << r.out;
  EXPECT_THAT(r.out, HasSubstr("\"slots\""));
}

TEST_F(SafetyTest, UnblockDryRun) {
  RunResult r = Run({"user", "unblock", "bob", "--dry-run"});
  EXPECT_EQ(r.code, 0);
  EXPECT_THAT(r.out, HasSubstr("Dry run: nothing changed."));
  EXPECT_THAT(cluster_.calls, Not(Contains("UnblockUser")));
  r = Run({"user", "unblock", "bob", "--dry-run", "--json"});
  EXPECT_EQ(r.code, 0);
  EXPECT_TRUE(IsJsonObject(r.out)) << r.out;
  // Keys in a fixed order, indented like the proto printer's.
  EXPECT_THAT(r.out, testing::StartsWith("{\n \"dry_run\": true,\n \"store\": \"st1\",\n "
                                         "\"user\": \"bob\",\n \"slots\": [\n  {\n   \"host\": "
                                         "\"imap1\",\n   \"slot\": \"s01\"\n  }\n ],\n"));
  EXPECT_THAT(r.out, HasSubstr("\"kind\": \"replication.blocked\""));
  EXPECT_THAT(cluster_.calls, Not(Contains("UnblockUser")));
}

TEST_F(SafetyTest, UnblockRefusals) {
  RunResult r = Run({"user", "unblock", "alice", "--yes"});
  EXPECT_EQ(r.code, 1);
  EXPECT_EQ(r.err,
            "slotctl: user unblock \"alice\": refused (no copy of st1 reports user alice blocked "
            "by the mass-deletion guard; nothing to unblock)\n");
  EXPECT_THAT(cluster_.calls, Not(Contains("UnblockUser")));
  r = Run({"user", "unblock", "zed", "--yes"});
  EXPECT_EQ(r.code, 1);
  EXPECT_THAT(r.err, HasSubstr("user \"zed\" (name its store with --store): not found"));
  r = Run({"user", "unblock", "zed", "--store", "st9", "--yes"});
  EXPECT_EQ(r.code, 1);
  EXPECT_THAT(r.err, HasSubstr("store \"st9\": not found"));
  EXPECT_THAT(cluster_.calls, ElementsAre("GetStore"));
}

TEST_F(SafetyTest, UnblockUsageErrors) {
  ExpectUsageError({"user", "unblock"}, "\"user unblock\" needs one user name");
  ExpectUsageError({"user", "unblock", "b b"}, "user \"b b\" contains a space");
  ExpectUsageError({"user", "unblock", "bob", "--store", "s/t"}, "--store \"s/t\"");
  ExpectUsageError({"user", "unblock", "bob", "--json"},
                   "with --json, user unblock needs --yes or --dry-run");
  ExpectUsageError({"user", "alice", "--yes"}, "--yes only goes with \"user unblock\"");
  ExpectUsageError({"user", "alice", "bob"}, "unexpected argument \"bob\"");
}

// ---- store reconcile ------------------------------------------------------------

TEST_F(SafetyTest, ReconcileShowsTheStrandedMailThenCopies) {
  RunResult r = Run({"store", "reconcile", "st3", "--yes"});
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_THAT(cluster_.calls, ElementsAre("GetStore", "ReconcileStore dry-run", "ReconcileStore"));
  EXPECT_THAT(r.out,
              HasSubstr("Store st3: master imap2/s03; its copies report 2 stranded message(s).\n"
                        "  ON         MESSAGES  SIZE      USERS\n"
                        "  imap4/s03  2         16.0 KiB  carol\n"));
  EXPECT_THAT(r.out, HasSubstr("Asked master imap2/s03 to copy the stranded mail (1 command(s): "
                               "cmd-3-0)."));
  EXPECT_FALSE(cluster_.last_reconcile.dry_run());
  EXPECT_EQ(cluster_.last_reconcile.reason(), "operator request (slotctl)");
}

TEST_F(SafetyTest, ReconcileAsksAndDryRunCopiesNothing) {
  RunResult r = Run({"store", "reconcile", "st3"});
  EXPECT_EQ(r.code, 1);
  EXPECT_THAT(r.err, HasSubstr("Copy 2 stranded message(s) (16.0 KiB) from imap4/s03 into "
                               "imap2/s03 now?"));
  EXPECT_THAT(cluster_.calls, ElementsAre("GetStore", "ReconcileStore dry-run"));
  r = Run({"store", "reconcile", "st3", "--dry-run"});
  EXPECT_EQ(r.code, 0);
  EXPECT_THAT(r.out, HasSubstr("Dry run: nothing copied.\n"));
  EXPECT_THAT(cluster_.calls, ElementsAre("GetStore", "ReconcileStore dry-run"));
  r = Run({"store", "reconcile", "st3", "--dry-run", "--json"});
  EXPECT_EQ(r.code, 0);
  EXPECT_TRUE(IsJsonObject(r.out)) << r.out;
  EXPECT_THAT(r.out, HasSubstr("\"stranded\""));
  EXPECT_THAT(r.out, HasSubstr("\"host\": \"imap2\""));  // the master, filled in
  r = Run({"store", "reconcile", "st3"}, "yes\n");
  EXPECT_EQ(r.code, 0);
  EXPECT_EQ(cluster_.calls.back(), "ReconcileStore");
}

TEST_F(SafetyTest, ReconcileWithNothingStranded) {
  RunResult r = Run({"store", "reconcile", "st1", "--yes"});
  EXPECT_EQ(r.code, 0);
  EXPECT_EQ(r.out,
            "Store st1: master imap4/s01; its copies report 0 stranded message(s).\n"
            "Nothing stranded to copy.\n");
  EXPECT_THAT(cluster_.calls, ElementsAre("GetStore", "ReconcileStore dry-run"));
}

TEST_F(SafetyTest, ReconcileRefusedWithoutAUsableMaster) {
  RunResult r = Run({"store", "reconcile", "st2", "--yes"});
  EXPECT_EQ(r.code, 1);
  EXPECT_THAT(r.out, HasSubstr("imap1/s02  1         3.0 KiB  dave"));
  EXPECT_THAT(r.out, HasSubstr("imap3/s02  -         -        could not ask its agent: deadline "
                               "exceeded"));
  EXPECT_EQ(r.err,
            "slotctl: store reconcile \"st2\": refused (store st2 has no usable master to copy "
            "stranded mail into)\n");
  EXPECT_THAT(cluster_.calls, Not(Contains("ReconcileStore")));
}

TEST_F(SafetyTest, ReconcileWhenTheOnlyOldMasterCannotBeAsked) {
  for (v1::Copy& c : *cluster_.FindStore("st2")->mutable_copies()) {
    if (c.slot().host() == "imap1") c.set_stranded_messages(0);
  }
  RunResult r = Run({"store", "reconcile", "st2", "--yes"});
  EXPECT_EQ(r.code, 1);
  EXPECT_THAT(r.out, HasSubstr("Nothing stranded to copy from the copies that answered; run again "
                               "when the others can be asked.\n"));
  EXPECT_THAT(cluster_.calls, ElementsAre("GetStore", "ReconcileStore dry-run"));
}

TEST_F(SafetyTest, ReconcileFromCopiesFromThatCopyOnly) {
  // A second old master holds stranded mail too.
  for (v1::Copy& c : *cluster_.FindStore("st3")->mutable_copies()) {
    if (c.slot().host() == "imap1") c.set_stranded_messages(1);
  }
  cluster_.stranded["imap1/s05"] = cluster_.stranded["imap4/s03"];
  RunResult r = Run({"store", "reconcile", "st3", "--from", "imap4/s03", "--yes"});
  EXPECT_EQ(r.code, 0) << r.err;
  ASSERT_EQ(cluster_.last_reconcile.from_size(), 1);
  EXPECT_EQ(cluster_.last_reconcile.from(0).host(), "imap4");
  EXPECT_THAT(r.out, Not(HasSubstr("imap1/s05")));
  // A copy without stranded mail is refused before anything is copied.
  cluster_.calls.clear();
  r = Run({"store", "reconcile", "st3", "--from", "imap2/s03", "--yes"});
  EXPECT_EQ(r.code, 1);
  EXPECT_THAT(r.err, HasSubstr("imap2/s03"));
  EXPECT_THAT(cluster_.calls, Not(Contains("ReconcileStore")));
}

TEST_F(SafetyTest, ReconcileUsageErrors) {
  ExpectUsageError({"store", "reconcile"}, "\"store reconcile\" needs a store name");
  ExpectUsageError({"store", "reconcile", "st 3"}, "store \"st 3\" contains a space");
  ExpectUsageError({"store", "reconcile", "st3", "--from", "imap4"},
                   "--from \"imap4\" is not HOST/NAME");
  ExpectUsageError({"store", "reconcile", "st3", "--json"},
                   "with --json, store reconcile needs --yes or --dry-run");
  ExpectUsageError({"store", "reconcile", "st3", "--copies", "3"},
                   "\"store reconcile\" does not take --copies");
  ExpectUsageError({"store", "st3", "--dry-run"}, "--dry-run only goes with \"store reconcile\"");
  ExpectUsageError({"store", "create", "st9", "--master", "imap2/s09", "--copies", "3", "--yes"},
                   "\"store create\" does not take --yes");
}

}  // namespace
}  // namespace slotkeeper::slotctl
