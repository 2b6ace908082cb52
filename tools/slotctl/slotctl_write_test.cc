// The verbs that change the cluster: confirmation, refusals, --dry-run,
// --force, argument validation and the requests sent.
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tools/slotctl/test_cluster.h"

namespace slotkeeper::slotctl {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Not;

class WriteVerbsTest : public ::testing::Test {
 protected:
  WriteVerbsTest() : cluster_(OutageCluster(clock_.NowMs())), harness_(&cluster_, &clock_) {}

  RunResult Run(const std::vector<std::string>& args, const std::string& in = "") {
    return harness_.Run(args, in);
  }

  FakeClock clock_;
  FakeCluster cluster_;
  Harness harness_;
};

TEST_F(WriteVerbsTest, FailoverWithYesPromotesTheBestReplica) {
  RunResult r = Run({"failover", "st2", "--yes"});
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_THAT(cluster_.calls, ElementsAre("Failover"));
  EXPECT_EQ(cluster_.last_failover.store(), "st2");
  EXPECT_FALSE(cluster_.last_failover.force());
  EXPECT_THAT(r.out, HasSubstr("st2    imap4/s02  imap1/s02  done"));
}

TEST_F(WriteVerbsTest, FailoverAsksAndDoesNothingWhenNotConfirmed) {
  for (const std::string answer : {"n\n", "", "maybe\n"}) {
    cluster_.calls.clear();
    RunResult r = Run({"failover", "st2"}, answer);
    EXPECT_EQ(r.code, 1);
    EXPECT_THAT(cluster_.calls, ElementsAre("Failover dry-run"));
    EXPECT_THAT(r.out, HasSubstr("would fail over"));
    EXPECT_THAT(r.err, HasSubstr("Fail over 1 store(s) now? [y/N]"));
    EXPECT_THAT(r.err, HasSubstr("slotctl: not confirmed; nothing was changed"));
  }
  cluster_.calls.clear();
  RunResult r = Run({"failover", "st2"}, "yes\n");
  EXPECT_EQ(r.code, 0);
  EXPECT_THAT(cluster_.calls, ElementsAre("Failover dry-run", "Failover"));
  EXPECT_THAT(r.out, HasSubstr("done"));
}

TEST_F(WriteVerbsTest, FailoverToABehindReplicaIsRefusedUnlessForced) {
  RunResult r = Run({"failover", "st2", "--to", "imap3/s02", "--yes"});
  EXPECT_EQ(r.code, 1);
  EXPECT_THAT(r.out, HasSubstr("refused: target imap3/s02 is behind by 300s"));
  EXPECT_THAT(r.out, HasSubstr("--force overrides"));

  r = Run({"failover", "st2", "--to", "imap3/s02", "--yes", "--force"});
  EXPECT_EQ(r.code, 0);
  EXPECT_TRUE(cluster_.last_failover.force());
  EXPECT_EQ(cluster_.last_failover.to().host(), "imap3");
  EXPECT_THAT(r.out, HasSubstr("done"));
}

TEST_F(WriteVerbsTest, FailoverWithEverythingRefusedDoesNotPrompt) {
  cluster_.calls.clear();
  RunResult r = Run({"failover", "st2", "--to", "imap3/s02"}, "y\n");
  EXPECT_EQ(r.code, 1);
  EXPECT_THAT(cluster_.calls, ElementsAre("Failover dry-run"));
  EXPECT_THAT(r.err, Not(HasSubstr("[y/N]")));
  EXPECT_THAT(r.err, HasSubstr("every store was refused (see reasons; --force overrides)"));
}

TEST_F(WriteVerbsTest, FailoverDryRunShowsThePlanOnly) {
  RunResult r = Run({"failover", "--host", "imap4", "--dry-run"});
  EXPECT_EQ(r.code, 0);
  EXPECT_THAT(cluster_.calls, ElementsAre("Failover dry-run"));
  EXPECT_THAT(r.out, HasSubstr("Plan (dry run, nothing changed)"));
  EXPECT_THAT(r.out, HasSubstr("st1    imap4/s01  imap1/s01  would fail over"));
  EXPECT_THAT(r.out, HasSubstr("st2    imap4/s02  imap1/s02  would fail over"));
  r = Run({"failover", "--host", "imap4", "--dry-run", "--json"});
  EXPECT_TRUE(IsJsonObject(r.out)) << r.out;
  EXPECT_THAT(r.out, HasSubstr("\"refused\": \"\""));
}

TEST_F(WriteVerbsTest, FailoverArgumentErrors) {
  EXPECT_EQ(Run({"failover"}).code, 2);
  EXPECT_EQ(Run({"failover", "st2", "--host", "imap4"}).code, 2);
  EXPECT_EQ(Run({"failover", "--host", "imap4", "--to", "imap1/s01"}).code, 2);
  RunResult r = Run({"failover", "st2", "--to", "imap1"});
  EXPECT_EQ(r.code, 2);
  EXPECT_THAT(r.err, HasSubstr("--to \"imap1\" is not HOST/NAME (e.g. imap4/s01)"));
  r = Run({"failover", "st2", "--json"});
  EXPECT_EQ(r.code, 2);
  EXPECT_TRUE(IsJsonObject(r.out));
  EXPECT_THAT(cluster_.calls, IsEmpty());
  r = Run({"failover", "nope", "--yes"});
  EXPECT_EQ(r.code, 1);
  EXPECT_EQ(r.err, "slotctl: failover of store \"nope\": not found (no store named nope)\n");
}

TEST_F(WriteVerbsTest, DrainAndUndrain) {
  RunResult r = Run({"drain", "imap4", "--yes", "--reason", "PSU swap"});
  EXPECT_EQ(r.code, 0);
  EXPECT_EQ(cluster_.last_drain.host(), "imap4");
  EXPECT_EQ(cluster_.last_drain.unit(), "");
  EXPECT_EQ(cluster_.last_drain.reason(), "PSU swap");
  EXPECT_THAT(r.out, HasSubstr("Draining imap4: no new placements; 2 master(s) to move away"));
  r = Run({"drain", "imap4/du2", "--yes"});
  EXPECT_EQ(r.code, 0);
  EXPECT_EQ(cluster_.last_drain.unit(), "du2");
  r = Run({"undrain", "imap4", "--json"});
  EXPECT_EQ(r.code, 0);
  EXPECT_TRUE(IsJsonObject(r.out));
  EXPECT_FALSE(cluster_.FindHost("imap4")->draining());
  EXPECT_EQ(Run({"drain", "imap4/du2/x"}).code, 2);
  r = Run({"drain", "imap9"});
  EXPECT_EQ(r.code, 1);
  EXPECT_THAT(r.err, HasSubstr("drain \"imap9\": not found"));
}

TEST_F(WriteVerbsTest, MarkLostAsksUnlessYes) {
  RunResult r = Run({"mark-lost", "imap4/du2"}, "n\n");
  EXPECT_EQ(r.code, 1);
  EXPECT_THAT(r.err, HasSubstr("Declare drive unit imap4/du2 permanently lost?"));
  EXPECT_THAT(cluster_.calls, ElementsAre("GetHost", "GetAutomation"));  // read-only checks

  r = Run({"mark-lost", "imap4/du2"}, "y\n");
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("2 store(s) affected: st2, st3"));
  EXPECT_THAT(r.out, HasSubstr("2 re-replication task(s) created"));

  r = Run({"mark-lost", "imap4/du1", "--yes", "--json"});
  EXPECT_EQ(r.code, 0);
  EXPECT_TRUE(IsJsonObject(r.out)) << r.out;

  EXPECT_EQ(Run({"mark-lost", "imap4"}).code, 2);
  EXPECT_EQ(Run({"mark-lost", "imap4/du2", "--json"}).code, 2);
  r = Run({"mark-lost", "imap4/du7", "--yes"});
  EXPECT_EQ(r.code, 1);
  EXPECT_THAT(r.err,
              HasSubstr("mark-lost \"imap4/du7\": not found (host imap4 has no drive unit du7; "
                        "it has du1, du2)"));
}

TEST_F(WriteVerbsTest, AutomationPauseNeedsAReasonAndRecordsWho) {
  RunResult r = Run({"automation", "pause"});
  EXPECT_EQ(r.code, 2);
  EXPECT_THAT(r.err, HasSubstr("needs --reason TEXT"));
  r = Run({"automation", "pause", "--reason", "kernel upgrade on imap4"});
  EXPECT_EQ(r.code, 0);
  EXPECT_TRUE(cluster_.last_set_automation.paused());
  EXPECT_EQ(cluster_.last_set_automation.set_by(), "alice");
  EXPECT_EQ(r.out, "Automation is now paused: kernel upgrade on imap4\n");
  r = Run({"automation", "status"});
  EXPECT_THAT(r.out, HasSubstr("PAUSED by alice"));
  r = Run({"automation", "resume", "--json"});
  EXPECT_EQ(r.code, 0);
  EXPECT_FALSE(cluster_.last_set_automation.paused());
  EXPECT_TRUE(IsJsonObject(r.out));
  EXPECT_EQ(Run({"automation", "status", "--reason", "x"}).code, 2);
}

TEST_F(WriteVerbsTest, StoreCreateValidatesItsArguments) {
  RunResult r = Run({"store", "create", "st9", "--master", "imap2/s09", "--copies", "3"});
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(cluster_.last_create_store.copies(), 3u);
  EXPECT_EQ(cluster_.last_create_store.master().slot(), "s09");
  EXPECT_THAT(r.out, HasSubstr("Created store st9 with master imap2/s09; 3 copies required."));

  r = Run({"store", "create", "st8", "--master", "imap2/s09", "--replicas", "imap3/s09,imap1/s07",
           "--json"});
  EXPECT_EQ(r.code, 0);
  EXPECT_TRUE(IsJsonObject(r.out));
  EXPECT_EQ(cluster_.last_create_store.replicas_size(), 2);

  const std::vector<std::pair<std::vector<std::string>, std::string>> bad = {
      {{"store", "create", "st7", "--master", "imap2/s09", "--copies", "12"},
       "--copies \"12\" must be a whole number from 2 to 9"},
      {{"store", "create", "st7", "--master", "imap2/s09", "--copies", "x"}, "--copies \"x\""},
      {{"store", "create", "st7", "--master", "imap2/s09"}, "either --replicas"},
      {{"store", "create", "st7", "--master", "imap2/s09", "--copies", "3", "--replicas",
        "imap3/s09"},
       "either --replicas"},
      {{"store", "create", "st7", "--copies", "3"}, "needs --master"},
      {{"store", "create", "st7", "--master", "imap2"}, "--master \"imap2\" is not HOST/NAME"},
      {{"store", "create", "st7", "--master", "imap2/s09", "--replicas", "imap2/s01"},
       "already holds a copy"},
      {{"store", "create", "st7", "--master", "imap2/s09", "--replicas", "imap3/s09,"},
       "--replicas \"\" is not HOST/NAME"},
      {{"store", "create", "--master", "imap2/s09", "--copies", "3"}, "needs a store name"},
  };
  for (const auto& [args, message] : bad) {
    RunResult b = Run(args);
    EXPECT_EQ(b.code, 2) << message;
    EXPECT_THAT(b.err, HasSubstr(message));
  }

  r = Run({"store", "create", "st1", "--master", "imap2/s09", "--copies", "3"});
  EXPECT_EQ(r.code, 1);
  EXPECT_THAT(r.err, HasSubstr("store create \"st1\": failed (store st1 exists)"));
}

}  // namespace
}  // namespace slotkeeper::slotctl
