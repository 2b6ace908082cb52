// Every verb that asks for confirmation checks, with read-only calls, that
// its target exists and that the action is allowed before it asks: a prompt
// is only ever shown for something that can be done.
#include <set>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tools/slotctl/test_cluster.h"

namespace slotkeeper::slotctl {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

// The calls that change nothing: reads and dry runs.
const std::set<std::string>& ReadOnlyCalls() {
  static const auto* calls = new std::set<std::string>{"GetClusterStatus",
                                                       "ListHosts",
                                                       "GetHost",
                                                       "ListStores",
                                                       "GetStore",
                                                       "LookupUser",
                                                       "ListTasks",
                                                       "ListEvents",
                                                       "GetAutomation",
                                                       "ListQuarantine",
                                                       "Failover dry-run",
                                                       "Drain dry-run",
                                                       "ForgetHost dry-run",
                                                       "ReinstateUnit dry-run",
                                                       "ReconcileStore dry-run"};
  return *calls;
}

struct Refusal {
  std::vector<std::string> args;
  std::string error;  // part of the one error line
};

class ConfirmTest : public ::testing::Test {
 protected:
  ConfirmTest() : cluster_(DataSafetyCluster(clock_.NowMs())), harness_(&cluster_, &clock_) {}

  // Runs `args` answering "y" to any prompt and checks that it was refused
  // with `error` before any prompt, and that nothing was changed.
  void ExpectRefusedBeforeAsking(const Refusal& c) {
    const std::string what = absl::StrJoin(c.args, " ");
    cluster_.calls.clear();
    RunResult r = harness_.Run(c.args, "y\n");
    EXPECT_EQ(r.code, 1) << what << "\n" << r.out << r.err;
    EXPECT_THAT(r.err, Not(HasSubstr("[y/N]"))) << what;
    EXPECT_THAT(r.err, HasSubstr(c.error)) << what;
    for (const std::string& call : cluster_.calls) {
      EXPECT_EQ(ReadOnlyCalls().count(call), 1u) << what << " called " << call;
    }
  }

  FakeClock clock_;
  FakeCluster cluster_;
  Harness harness_;
};

TEST_F(ConfirmTest, FailoverOfNothingThatExists) {
  for (const Refusal& c : std::vector<Refusal>{
           {{"failover", "nosuch"},
            "failover of store \"nosuch\": not found (no store named nosuch)"},
           {{"failover", "--host", "imap9"},
            "failover of host \"imap9\": not found (no host named imap9)"},
           {{"failover", "st2", "--to", "imap3/s02"}, "every store was refused"},
       }) {
    ExpectRefusedBeforeAsking(c);
  }
}

TEST_F(ConfirmTest, MarkLostChecksHostUnitStateAndHourlyLimit) {
  ExpectRefusedBeforeAsking(
      {{"mark-lost", "imap9/du1"}, "mark-lost \"imap9/du1\": not found (no host named imap9)"});
  ExpectRefusedBeforeAsking(
      {{"mark-lost", "imap4/du7"},
       "mark-lost \"imap4/du7\": not found (host imap4 has no drive unit du7; it has du1, du2)"});

  cluster_.FindHost("imap4")->mutable_units(1)->set_state(v1::UNIT_LOST);
  ExpectRefusedBeforeAsking(
      {{"mark-lost", "imap4/du2"},
       "mark-lost \"imap4/du2\": refused (drive unit imap4/du2 is already lost; nothing to do)"});

  cluster_.automation.set_units_lost_limit(4);
  cluster_.automation.set_units_lost_last_hour(4);
  ExpectRefusedBeforeAsking(
      {{"mark-lost", "imap4/du1"},
       "refused (4 drive unit(s) declared lost in the last hour; one more would pass the limit "
       "of 4 (slotmgrd --max_units_lost_per_hour); --force exceeds it)"});
  // The same refusal with --yes: the check does not depend on the prompt.
  ExpectRefusedBeforeAsking({{"mark-lost", "imap4/du1", "--yes"}, "would pass the limit of 4"});

  // --force passes the limit: now it asks.
  cluster_.calls.clear();
  RunResult r = harness_.Run({"mark-lost", "imap4/du1", "--force"}, "n\n");
  EXPECT_EQ(r.code, 1);
  EXPECT_THAT(r.err, HasSubstr("Declare drive unit imap4/du1 permanently lost?"));
  EXPECT_THAT(r.err, HasSubstr("[y/N]"));
  EXPECT_THAT(cluster_.calls, ::testing::ElementsAre("GetHost"));
}

TEST_F(ConfirmTest, MarkLostAsksOnlyAfterItsChecksPass) {
  cluster_.calls.clear();
  RunResult r = harness_.Run({"mark-lost", "imap4/du2"}, "n\n");
  EXPECT_EQ(r.code, 1);
  EXPECT_THAT(r.err, HasSubstr("permanently lost?"));
  EXPECT_THAT(r.err, HasSubstr("[y/N]"));
  EXPECT_THAT(cluster_.calls, ::testing::ElementsAre("GetHost", "GetAutomation"));
}

TEST_F(ConfirmTest, UnitReinstateOfAMissingOrOnlineUnit) {
  for (const Refusal& c : std::vector<Refusal>{
           {{"unit", "reinstate", "imap9/du1"}, "unit reinstate \"imap9/du1\": not found"},
           {{"unit", "reinstate", "imap4/du7"},
            "unit reinstate \"imap4/du7\": not found (no drive unit imap4/du7)"},
           {{"unit", "reinstate", "imap1/du1"},
            "unit reinstate \"imap1/du1\": refused (imap1/du1 is online: nothing to reinstate)"},
       }) {
    ExpectRefusedBeforeAsking(c);
  }
}

TEST_F(ConfirmTest, QuarantineRestoreAndPurge) {
  for (const Refusal& c : std::vector<Refusal>{
           {{"quarantine", "restore", "--slot", "imap9/s01", "x"}, "no slot imap9/s01"},
           {{"quarantine", "restore", "--slot", "imap1/s01", "cur/nosuch"},
            "no item \"cur/nosuch\" in the quarantine of imap1/s01"},
           // st2 has no usable master to restore into.
           {{"quarantine", "restore", "--slot", "imap1/s02", "cur/1700000004.M4P1.imap4:2,S"},
            "store st2 has no usable master to restore into"},
           {{"quarantine", "purge", "--slot", "imap9/s01", "--older-than", "1d"},
            "no slot imap9/s01"},
           {{"quarantine", "purge", "--slot", "imap3/s02", "--older-than", "1d"},
            "cannot list the quarantine of imap3/s02: deadline exceeded"},
       }) {
    ExpectRefusedBeforeAsking(c);
  }
}

TEST_F(ConfirmTest, UserUnblockAndStoreReconcile) {
  for (const Refusal& c : std::vector<Refusal>{
           {{"user", "unblock", "nosuch"}, "user \"nosuch\""},
           {{"user", "unblock", "alice"}, "nothing to unblock"},
           {{"user", "unblock", "bob", "--store", "nosuch"}, "store \"nosuch\": not found"},
           {{"store", "reconcile", "nosuch"}, "store reconcile \"nosuch\": not found"},
           {{"store", "reconcile", "st2"}, "st2 has no usable master to copy stranded mail into"},
       }) {
    ExpectRefusedBeforeAsking(c);
  }
}

// The verbs with a --yes flag (the ones that may ask), read from the help
// so that a verb that learns to ask is not missed here.
TEST_F(ConfirmTest, DrainAndHostForgetOfNothingThatExists) {
  for (const Refusal& c : std::vector<Refusal>{
           {{"drain", "imap9"}, "no host named imap9"},
           {{"host", "forget", "imap9"}, "no host 'imap9'"},
       }) {
    ExpectRefusedBeforeAsking(c);
  }
}

TEST_F(ConfirmTest, EveryVerbThatAsksIsCoveredAbove) {
  const std::set<std::string> covered = {"failover", "drain",      "host", "mark-lost",
                                         "unit",     "quarantine", "user", "store"};
  RunResult overview = harness_.Run({"help"});
  ASSERT_EQ(overview.code, 0);
  absl::string_view verbs = overview.out;
  verbs = verbs.substr(verbs.find("Verbs:\n") + 7);
  verbs = verbs.substr(0, verbs.find("\n\n"));
  int asking = 0;
  for (absl::string_view line : absl::StrSplit(verbs, '\n')) {
    const std::string verb(absl::StripLeadingAsciiWhitespace(line).substr(
        0, absl::StripLeadingAsciiWhitespace(line).find(' ')));
    RunResult help = harness_.Run({"help", verb});
    ASSERT_EQ(help.code, 0) << verb;
    if (!absl::StrContains(help.out, "--yes")) continue;
    ++asking;
    EXPECT_EQ(covered.count(verb), 1u) << verb << " may ask for confirmation: add its checks here";
  }
  EXPECT_EQ(asking, static_cast<int>(covered.size()));
}

}  // namespace
}  // namespace slotkeeper::slotctl
