// The quarantine verbs against a fake cluster whose agents report quarantined
// files: scopes, agent clocks, item names, confirmation, --dry-run, refusals
// and usage errors.
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tools/slotctl/test_cluster.h"

namespace slotkeeper::slotctl {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Not;

constexpr char kAliceItem[] = "2027-01-14/alice/cur/1700000001.M1P1.imap4:2,S";
constexpr char kAlicePath[] = "cur/1700000001.M1P1.imap4:2,S";
constexpr char kBobPath[] = "cur/1700000002.M2P1.imap4:2,S";

class QuarantineTest : public ::testing::Test {
 protected:
  QuarantineTest() : cluster_(DataSafetyCluster(clock_.NowMs())), harness_(&cluster_, &clock_) {}

  RunResult Run(const std::vector<std::string>& args, const std::string& in = "") {
    cluster_.calls.clear();
    return harness_.Run(args, in);
  }

  // Usage errors exit 2 with one line naming the mistake and call nothing.
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

TEST_F(QuarantineTest, ListShowsEveryCopyOfAStore) {
  RunResult r = Run({"quarantine", "list", "--store", "st1"});
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(cluster_.last_list_quarantine.store(), "st1");
  EXPECT_THAT(r.out, HasSubstr("SLOT       USER   PATH"));
  EXPECT_THAT(r.out, HasSubstr(absl::StrCat("imap1/s01  alice  ", kAlicePath,
                                            "  12.0 KiB  removed      20h  ", kAliceItem)));
  EXPECT_THAT(r.out, HasSubstr("imap1/s01  bob    cur/1700000002.M2P1.imap4:2,S  4.0 KiB   "
                               "overwritten  4d"));
  EXPECT_THAT(r.out, HasSubstr("imap2/s01  alice  cur/1700000003.M3P1.imap4:2,S  2.0 KiB   "
                               "corrupt      2d"));
  EXPECT_THAT(r.out, HasSubstr("imap1/s01 (st1): 3 item(s), 20.0 KiB in quarantine\n"));
  EXPECT_THAT(r.out, HasSubstr("imap4/s01 (st1): nothing in quarantine\n"));
  EXPECT_THAT(cluster_.calls, ElementsAre("ListQuarantine", "ListHosts"));
}

TEST_F(QuarantineTest, ListOfOneSlotAndUser) {
  RunResult r = Run({"quarantine", "list", "--slot", "imap1/s01", "--user", "bob", "--limit", "1"});
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(cluster_.last_list_quarantine.host(), "imap1");
  EXPECT_EQ(cluster_.last_list_quarantine.slot(), "s01");
  EXPECT_EQ(cluster_.last_list_quarantine.user(), "bob");
  EXPECT_EQ(cluster_.last_list_quarantine.limit(), 1u);
  EXPECT_THAT(r.out, Not(HasSubstr("alice")));
  EXPECT_THAT(r.out, HasSubstr("imap1/s01 (st1): 2 item(s), 8.0 KiB in quarantine; 1 shown"));
}

TEST_F(QuarantineTest, ListOfAUserLooksUpTheStore) {
  RunResult r = Run({"quarantine", "list", "--user", "alice"});
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_THAT(cluster_.calls, ElementsAre("LookupUser", "ListQuarantine", "ListHosts"));
  EXPECT_EQ(cluster_.last_list_quarantine.store(), "st1");
  EXPECT_EQ(cluster_.last_list_quarantine.user(), "alice");
  EXPECT_THAT(r.out, Not(HasSubstr(" bob ")));
  r = Run({"quarantine", "list", "--user", "zed"});
  EXPECT_EQ(r.code, 1);
  EXPECT_THAT(r.err, HasSubstr("user \"zed\": not found"));
}

TEST_F(QuarantineTest, ListReadsAgesOnTheAgentsClock) {
  // imap1's clock runs 6h behind (it was 3ms ahead when the items were
  // stamped): they were quarantined 6h less long ago than before.
  cluster_.FindHost("imap1")->set_clock_offset_ms(3 - 6 * 3600'000);
  RunResult r = Run({"quarantine", "list", "--slot", "imap1/s01", "--user", "alice"});
  EXPECT_EQ(r.code, 0);
  EXPECT_THAT(r.out, HasSubstr("removed  14h"));
}

TEST_F(QuarantineTest, ListWithAnUnreachableAgentExits1) {
  RunResult r = Run({"quarantine", "list", "--store", "st2"});
  EXPECT_EQ(r.code, 1);
  EXPECT_THAT(r.out, HasSubstr("imap3/s02 (st2): could not ask its agent: deadline exceeded"));
  EXPECT_THAT(r.out, HasSubstr("imap1/s02  dave"));
  r = Run({"quarantine", "list", "--store", "st2", "--json"});
  EXPECT_EQ(r.code, 1);
  EXPECT_TRUE(IsJsonObject(r.out)) << r.out;
  EXPECT_THAT(r.out, HasSubstr("\"error\": \"deadline exceeded\""));
  r = Run({"quarantine", "list", "--store", "st9"});
  EXPECT_EQ(r.code, 1);
  EXPECT_EQ(r.err, "slotctl: quarantine of store st9: not found (no store 'st9')\n");
}

TEST_F(QuarantineTest, ListJsonAndEmpty) {
  RunResult r = Run({"quarantine", "list", "--store", "st1", "--json"});
  EXPECT_EQ(r.code, 0);
  EXPECT_TRUE(IsJsonObject(r.out)) << r.out;
  EXPECT_THAT(r.out, HasSubstr("\"total_items\": \"3\""));
  EXPECT_THAT(cluster_.calls, ElementsAre("ListQuarantine"));
  r = Run({"quarantine", "list", "--slot", "imap4/s01"});
  EXPECT_EQ(r.code, 0);
  EXPECT_EQ(r.out, "No quarantined items in imap4/s01.\nimap4/s01 (st1): nothing in quarantine\n");
}

TEST_F(QuarantineTest, ListUsageErrors) {
  ExpectUsageError({"quarantine", "list"}, "needs --store STORE, --slot HOST/SLOT or --user USER");
  ExpectUsageError({"quarantine", "list", "--store", "st1", "--slot", "imap1/s01"},
                   "give --store or --slot, not both");
  ExpectUsageError({"quarantine", "list", "--slot", "imap1"}, "--slot \"imap1\" is not HOST/NAME");
  ExpectUsageError({"quarantine", "list", "--store", "st 1"}, "--store \"st 1\" contains a space");
  ExpectUsageError({"quarantine", "list", "--store", "st1", "--user", "a/b"}, "--user \"a/b\"");
  ExpectUsageError({"quarantine", "list", "--store", "st1", "--limit", "0"}, "--limit \"0\"");
  ExpectUsageError({"quarantine", "list", "--store", "st1", "--yes"},
                   "\"quarantine list\" does not take --yes");
  ExpectUsageError({"quarantine", "list", "--store", "st1", "x"}, "unexpected argument \"x\"");
  ExpectUsageError({"quarantine", "drop"}, "unknown quarantine action \"drop\"");
  ExpectUsageError({"quarantine"}, "needs more arguments");
}

TEST_F(QuarantineTest, ShowOneItemInDetail) {
  RunResult r = Run({"quarantine", "show", kAlicePath, "--store", "st1"});
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr(absl::StrCat("Item ", kAliceItem,
                                            " in the quarantine of imap1/s01 (store st1)\n")));
  EXPECT_THAT(r.out, HasSubstr("  user          alice\n"));
  EXPECT_THAT(r.out, HasSubstr("  size          12.0 KiB (12288 bytes)\n"));
  EXPECT_THAT(r.out, HasSubstr("  reason        removed: gone from the master\n"));
  EXPECT_THAT(r.out, HasSubstr("(20h ago)"));
  EXPECT_THAT(r.out, HasSubstr("  message       1700000001.M1P1.imap4\n"));
  EXPECT_THAT(r.out, HasSubstr("  hash          01234567\n"));
  EXPECT_THAT(
      r.out, HasSubstr(absl::StrCat("  restore with  slotctl quarantine restore --slot imap1/s01 '",
                                    kAliceItem, "'\n")));
  // By id or message key; several at once.
  r = Run({"quarantine", "show", kAliceItem, "1700000003.M3P1.imap4", "--user", "alice"});
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("in the quarantine of imap2/s01"));
  EXPECT_THAT(r.out, HasSubstr("corrupt: a scrub found its content differs from its hash"));
}

TEST_F(QuarantineTest, ShowMissingItemIsNotFound) {
  RunResult r = Run({"quarantine", "show", "cur/nope", kAlicePath, "--store", "st2"});
  EXPECT_EQ(r.code, 1);
  EXPECT_EQ(r.err, absl::StrCat("slotctl: no quarantined item \"cur/nope\", \"", kAlicePath,
                                "\" in store st2 (not asked: imap3/s02)\n"));
  r = Run({"quarantine", "show", kAlicePath, "--store", "st1", "--json"});
  EXPECT_EQ(r.code, 0);
  EXPECT_TRUE(IsJsonObject(r.out)) << r.out;
  EXPECT_THAT(r.out, HasSubstr(kAliceItem));
  EXPECT_THAT(r.out, Not(HasSubstr("bob")));
  // With --json a missing item is the error object alone.
  r = Run({"quarantine", "show", kAlicePath, "cur/nope", "--store", "st1", "--json"});
  EXPECT_EQ(r.code, 1);
  EXPECT_TRUE(IsJsonObject(r.out)) << r.out;
  EXPECT_THAT(r.out, testing::StartsWith("{\"error\":{\"code\":\"NOT_FOUND\""));
  ExpectUsageError({"quarantine", "show", "--store", "st1"}, "\"quarantine show\" needs an item");
  ExpectUsageError({"quarantine", "show", kAlicePath}, "needs --store STORE");
  ExpectUsageError({"quarantine", "show", kAlicePath, "--store", "st1", "--dry-run"},
                   "does not take --dry-run");
}

TEST_F(QuarantineTest, RestoreWithYesAsksTheMaster) {
  RunResult r = Run({"quarantine", "restore", "--slot", "imap1/s01", kAlicePath, "--yes",
                     "--reason", "ticket 4711"});
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_THAT(cluster_.calls,
              ElementsAre("ListQuarantine", "GetStore", "ListHosts", "RestoreQuarantined"));
  EXPECT_EQ(cluster_.last_restore.item_id(), kAliceItem);
  EXPECT_EQ(cluster_.last_restore.slot().host(), "imap1");
  EXPECT_EQ(cluster_.last_restore.reason(), "ticket 4711");
  EXPECT_THAT(r.out, HasSubstr(absl::StrCat("Restore alice's ", kAlicePath,
                                            " (12.0 KiB, removed 20h ago) from the quarantine of "
                                            "imap1/s01 into st1's master imap4/s01.")));
  EXPECT_THAT(r.out, HasSubstr("Asked imap4/s01 to restore it (command cmd-4)"));
}

TEST_F(QuarantineTest, RestoreAsksForConfirmation) {
  RunResult r = Run({"quarantine", "restore", "--slot", "imap1/s01", kAliceItem});
  EXPECT_EQ(r.code, 1);
  EXPECT_THAT(r.err, HasSubstr("Restore this item now? [y/N]"));
  EXPECT_THAT(r.err, HasSubstr("slotctl: not confirmed; nothing was changed"));
  EXPECT_THAT(cluster_.calls, Not(testing::Contains("RestoreQuarantined")));
  r = Run({"quarantine", "restore", "--slot", "imap1/s01", kAliceItem}, "y\n");
  EXPECT_EQ(r.code, 0);
  EXPECT_EQ(cluster_.calls.back(), "RestoreQuarantined");
  EXPECT_EQ(cluster_.last_restore.reason(), "operator request (slotctl)");
}

TEST_F(QuarantineTest, RestoreDryRunChangesNothing) {
  RunResult r = Run({"quarantine", "restore", "--slot", "imap1/s01", kAlicePath, "--dry-run"});
  EXPECT_EQ(r.code, 0);
  EXPECT_THAT(r.out, HasSubstr("Would restore alice's"));
  EXPECT_THAT(r.out, HasSubstr("Dry run: nothing changed."));
  EXPECT_THAT(cluster_.calls, Not(testing::Contains("RestoreQuarantined")));
  r = Run({"quarantine", "restore", "--slot", "imap1/s01", kAlicePath, "--dry-run", "--json"});
  EXPECT_EQ(r.code, 0);
  EXPECT_TRUE(IsJsonObject(r.out)) << r.out;
  EXPECT_THAT(r.out, HasSubstr("\"dry_run\": true"));
  EXPECT_THAT(r.out, HasSubstr("\"host\": \"imap4\""));
  EXPECT_THAT(cluster_.calls, Not(testing::Contains("RestoreQuarantined")));
}

TEST_F(QuarantineTest, RestoreRefusals) {
  // st2's master is unusable: refused before anything is asked.
  RunResult r = Run(
      {"quarantine", "restore", "--slot", "imap1/s02", "cur/1700000004.M4P1.imap4:2,S", "--yes"});
  EXPECT_EQ(r.code, 1);
  EXPECT_EQ(r.err,
            "slotctl: quarantine restore: refused (store st2 has no usable master to restore "
            "into; try later)\n");
  EXPECT_THAT(cluster_.calls, Not(testing::Contains("RestoreQuarantined")));
  // Two of bob's items share a path: the id must be given.
  r = Run({"quarantine", "restore", "--slot", "imap1/s01", kBobPath, "--yes"});
  EXPECT_EQ(r.code, 1);
  EXPECT_THAT(r.err, HasSubstr(absl::StrCat("\"", kBobPath, "\" names 2 items")));
  EXPECT_THAT(r.err, HasSubstr("2027-01-11/bob/cur/1700000002.M2P1.imap4:2,S.1"));
  r = Run({"quarantine", "restore", "--slot", "imap2/s01", kAlicePath, "--yes"});
  EXPECT_EQ(r.code, 1);
  EXPECT_THAT(r.err, HasSubstr("no item \"" + std::string(kAlicePath) +
                               "\" in the quarantine of imap2/s01"));
  r = Run({"quarantine", "restore", "--slot", "imap3/s02", kAlicePath, "--yes"});
  EXPECT_EQ(r.code, 1);
  EXPECT_EQ(r.err, "slotctl: cannot list the quarantine of imap3/s02: deadline exceeded\n");
  r = Run({"quarantine", "restore", "--slot", "imap9/s01", kAlicePath, "--yes", "--json"});
  EXPECT_EQ(r.code, 1);
  EXPECT_THAT(r.out, HasSubstr("\"code\":\"NOT_FOUND\""));
}

TEST_F(QuarantineTest, RestoreUsageErrors) {
  ExpectUsageError({"quarantine", "restore", kAlicePath}, "needs --slot HOST/SLOT");
  ExpectUsageError({"quarantine", "restore", "--slot", "imap1/s01"}, "takes one item");
  ExpectUsageError({"quarantine", "restore", "--slot", "imap1/s01", "a", "b"}, "takes one item");
  ExpectUsageError({"quarantine", "restore", "--slot", "imap1/s01", "a", "--store", "st1"},
                   "does not take --store");
  ExpectUsageError({"quarantine", "restore", "--slot", "imap1/s01", "a", "--json"},
                   "with --json, quarantine restore needs --yes or --dry-run");
  ExpectUsageError({"quarantine", "restore", "--slot", "imap1:s01", "a"}, "is not HOST/NAME");
}

TEST_F(QuarantineTest, PurgeOlderThanWithYes) {
  RunResult r = Run({"quarantine", "purge", "--slot", "imap1/s01", "--older-than", "3d", "--yes"});
  EXPECT_EQ(r.code, 0) << r.err;
  ASSERT_EQ(cluster_.purges.size(), 1u);
  EXPECT_THAT(cluster_.purges[0].item_ids(),
              ElementsAre("2027-01-10/bob/cur/1700000002.M2P1.imap4:2,S",
                          "2027-01-11/bob/cur/1700000002.M2P1.imap4:2,S.1"));
  EXPECT_EQ(cluster_.purges[0].older_than_ms(), 0);
  EXPECT_THAT(r.out, HasSubstr("Purge 2 of the 3 item(s) in the quarantine of imap1/s01 "
                               "(store st1), 8.0 KiB, for good:"));
  EXPECT_THAT(r.out, HasSubstr("Asked imap1/s01 to purge 2 item(s) (command cmd-3)."));
  EXPECT_EQ(cluster_.quarantine["imap1/s01"].size(), 1u);
}

TEST_F(QuarantineTest, PurgeAsksAndDryRunChangesNothing) {
  RunResult r = Run({"quarantine", "purge", "--slot", "imap1/s01"});
  EXPECT_EQ(r.code, 1);
  EXPECT_THAT(r.err, HasSubstr("Delete these 3 item(s) for good? This cannot be undone. [y/N]"));
  EXPECT_THAT(r.err, HasSubstr("not confirmed"));
  r = Run({"quarantine", "purge", "--slot", "imap1/s01", "--user", "bob", "--dry-run"});
  EXPECT_EQ(r.code, 0);
  EXPECT_THAT(r.out, HasSubstr("Purge 2 of the 2 item(s)"));
  EXPECT_THAT(r.out, HasSubstr("Dry run: nothing changed."));
  r = Run({"quarantine", "purge", "--slot", "imap1/s01", "--dry-run", "--json"});
  EXPECT_EQ(r.code, 0);
  EXPECT_TRUE(IsJsonObject(r.out)) << r.out;
  EXPECT_THAT(r.out, HasSubstr("\"total_items\": \"3\""));
  EXPECT_TRUE(cluster_.purges.empty());
  r = Run({"quarantine", "purge", "--slot", "imap1/s01", "--user", "alice"}, "yes\n");
  EXPECT_EQ(r.code, 0);
  ASSERT_EQ(cluster_.purges.size(), 1u);
  EXPECT_THAT(cluster_.purges[0].item_ids(), ElementsAre(kAliceItem));
}

TEST_F(QuarantineTest, PurgeLeavesStrandedMailAloneUnlessAsked) {
  RunResult r = Run({"quarantine", "purge", "--slot", "imap4/s03", "--yes"});
  EXPECT_EQ(r.code, 0);
  EXPECT_EQ(r.out,
            "Nothing to purge in the quarantine of imap4/s03 (2 item(s) there, stranded mail left "
            "alone).\n");
  r = Run({"quarantine", "purge", "--slot", "imap1/s02", "--dry-run"});
  EXPECT_THAT(r.out, HasSubstr("Purge 1 of the 2 item(s)"));
  EXPECT_THAT(r.out, HasSubstr("Left alone: 1 stranded message(s)"));
  EXPECT_TRUE(cluster_.purges.empty());
  r = Run({"quarantine", "purge", "--slot", "imap4/s03", "--include-stranded", "--yes", "--json"});
  EXPECT_EQ(r.code, 0);
  EXPECT_TRUE(IsJsonObject(r.out)) << r.out;
  EXPECT_THAT(r.out, HasSubstr("\"command_ids\""));
  ASSERT_EQ(cluster_.purges.size(), 1u);
  EXPECT_EQ(cluster_.purges[0].item_ids_size(), 2);
}

TEST_F(QuarantineTest, PurgeNothingOlder) {
  RunResult r = Run({"quarantine", "purge", "--slot", "imap1/s01", "--older-than", "30d"});
  EXPECT_EQ(r.code, 0);
  EXPECT_EQ(r.out,
            "Nothing to purge in the quarantine of imap1/s01 (3 item(s) there, none older than "
            "30d).\n");
  EXPECT_TRUE(cluster_.purges.empty());
}

TEST_F(QuarantineTest, PurgeSendsLargeSelectionsInBatches) {
  std::vector<v1::QuarantineItem>& items = cluster_.quarantine["imap2/s01"];
  for (int i = 0; i < 2500; ++i) {
    v1::QuarantineItem item = items[0];
    item.set_id(absl::StrCat("2027-01-01/alice/cur/", i));
    items.push_back(item);
  }
  RunResult r = Run({"quarantine", "purge", "--slot", "imap2/s01", "--yes"});
  EXPECT_EQ(r.code, 0) << r.err;
  ASSERT_EQ(cluster_.purges.size(), 3u);
  EXPECT_EQ(cluster_.purges[0].item_ids_size(), 1000);
  EXPECT_EQ(cluster_.purges[2].item_ids_size(), 501);
  EXPECT_THAT(r.out, HasSubstr("... and 2481 more"));
  EXPECT_TRUE(items.empty());
}

TEST_F(QuarantineTest, PurgeUsageErrors) {
  ExpectUsageError({"quarantine", "purge", "--older-than", "3d"}, "needs --slot HOST/SLOT");
  ExpectUsageError({"quarantine", "purge", "--slot", "imap1/s01", "--older-than", "0s"},
                   "--older-than must be longer than zero");
  ExpectUsageError({"quarantine", "purge", "--slot", "imap1/s01", "--older-than", "soon"},
                   "--older-than \"soon\" is not a duration");
  ExpectUsageError({"quarantine", "purge", "--slot", "imap1/s01", "--store", "st1"},
                   "does not take --store");
  ExpectUsageError({"quarantine", "purge", "--slot", "imap1/s01", "x"},
                   "unexpected argument \"x\"");
  ExpectUsageError({"quarantine", "purge", "--slot", "imap1/s01", "--json"},
                   "with --json, quarantine purge needs --yes or --dry-run");
}

}  // namespace
}  // namespace slotkeeper::slotctl
