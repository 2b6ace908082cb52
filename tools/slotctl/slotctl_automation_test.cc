// The automation verbs: status with the evidence brake, the hourly limits
// and paused hosts; pause and resume of one host; ack; unit reinstate; and
// mark-lost --force.
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

class AutomationVerbsTest : public ::testing::Test {
 protected:
  AutomationVerbsTest() : cluster_(OutageCluster(clock_.NowMs())), harness_(&cluster_, &clock_) {}

  RunResult Run(const std::vector<std::string>& args, const std::string& in = "") {
    return harness_.Run(args, in);
  }

  // The copy on imap4/du2 verified (or not) against its master.
  void ReinstatePlan(bool verified) {
    v1::ReinstatedCopy* c = cluster_.reinstate.add_copies();
    c->set_store("st3");
    c->mutable_slot()->set_host("imap4");
    c->mutable_slot()->set_slot("s03");
    c->set_role(v1::SLOT_REPLICA);
    c->set_users_same(10);
    c->set_users_differ(2);
    c->set_verified(verified);
    if (verified) {
      c->set_action("catches up from imap1/s03 by delta, then is a replica again");
    } else {
      c->set_problem("could not be read: EIO");
    }
    cluster_.reinstate.add_tasks_cancelled("t2");
  }

  FakeClock clock_;
  FakeCluster cluster_;
  Harness harness_;
};

TEST_F(AutomationVerbsTest, StatusShowsTheBrakeTheLimitsAndPausedHosts) {
  v1::AutomationState& a = cluster_.automation;
  a.set_brake_engaged(true);
  a.set_brake_since_ms(clock_.NowMs() - 60'000);
  a.set_brake_reason("hard evidence arrived on 4 of 4 hosts");
  a.set_units_lost_last_hour(1);
  a.set_units_lost_limit(4);
  a.set_rereplication_limit(100);
  v1::PausedHost* p = a.add_paused_hosts();
  p->set_host("imap3");
  p->mutable_pause()->set_reason("disk swap");
  p->mutable_pause()->set_set_by("bob");
  a.set_held_back("drive unit imap4/du2 is due to be declared lost, but not now");
  RunResult r = Run({"automation", "status"});
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("EVIDENCE BRAKE ENGAGED"));
  EXPECT_THAT(r.out, HasSubstr("evidence brake engaged 1m ago: hard evidence arrived on 4 of 4"));
  EXPECT_THAT(r.out, HasSubstr("1/4 drive units declared lost, 0/100 stores re-replicated"));
  EXPECT_THAT(r.out, HasSubstr("paused on imap3 by bob"));
  EXPECT_THAT(r.out, HasSubstr("last held back"));
  // `status` says it too.
  *cluster_.status.mutable_automation() = a;
  r = Run({"status"});
  EXPECT_THAT(r.out, HasSubstr("EVIDENCE BRAKE ENGAGED"));
  EXPECT_THAT(r.out, HasSubstr("paused on imap3"));
}

TEST_F(AutomationVerbsTest, AckNeedsAReasonAndAnEngagedBrake) {
  RunResult r = Run({"automation", "ack"});
  EXPECT_EQ(r.code, 2);
  EXPECT_THAT(cluster_.calls, IsEmpty());
  r = Run({"automation", "ack", "--reason", "bad build"});
  EXPECT_EQ(r.code, 1);
  EXPECT_THAT(r.err, HasSubstr("automation ack: refused (the evidence brake is not engaged"));
  cluster_.automation.set_brake_engaged(true);
  r = Run({"automation", "ack", "--reason", "bad build rolled back"});
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("Evidence brake released."));
  EXPECT_EQ(cluster_.last_ack.reason(), "bad build rolled back");
  EXPECT_FALSE(cluster_.last_ack.set_by().empty());
}

TEST_F(AutomationVerbsTest, PauseAndResumeOneHost) {
  EXPECT_EQ(Run({"automation", "pause", "--host", "imap3"}).code, 2) << "needs a reason";
  EXPECT_EQ(Run({"automation", "pause", "--host", "im ap3", "--reason", "x"}).code, 2);
  RunResult r = Run({"automation", "pause", "--host", "imap3", "--reason", "disk swap"});
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(cluster_.last_set_automation.host(), "imap3");
  EXPECT_TRUE(cluster_.last_set_automation.paused());
  EXPECT_THAT(r.out, HasSubstr("Automation paused on imap3."));
  EXPECT_EQ(cluster_.automation.mode(), v1::AUTOMATION_RUNNING) << "the cluster still runs";
  r = Run({"automation", "resume", "--host", "imap3"});
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_FALSE(cluster_.last_set_automation.paused());
  EXPECT_EQ(Run({"automation", "pause", "--host", "imap9", "--reason", "x"}).code, 1);
  EXPECT_EQ(Run({"automation", "status", "--host", "imap3"}).code, 2);
}

TEST_F(AutomationVerbsTest, ReinstateShowsThePlanAsksAndApplies) {
  ReinstatePlan(true);
  RunResult r = Run({"unit", "reinstate", "imap4/du2"}, "n\n");
  EXPECT_EQ(r.code, 1);
  EXPECT_THAT(cluster_.calls, ElementsAre("ReinstateUnit dry-run"));
  EXPECT_THAT(r.out, HasSubstr("10 same, 2 behind"));
  EXPECT_THAT(r.out, HasSubstr("catches up from imap1/s03 by delta"));
  EXPECT_THAT(r.out, HasSubstr("Replacement task(s) cancelled: t2"));
  cluster_.calls.clear();
  r = Run({"unit", "reinstate", "imap4/du2", "--yes", "--reason", "false alarm"});
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_THAT(cluster_.calls, ElementsAre("ReinstateUnit"));
  EXPECT_EQ(cluster_.last_reinstate.unit(), "du2");
  EXPECT_EQ(cluster_.last_reinstate.reason(), "false alarm");
  EXPECT_THAT(r.out, HasSubstr("Reinstated imap4/du2"));
  cluster_.calls.clear();
  r = Run({"unit", "reinstate", "imap4/du2", "--dry-run"});
  EXPECT_EQ(r.code, 0);
  EXPECT_THAT(r.out, HasSubstr("dry run, nothing changed"));
}

TEST_F(AutomationVerbsTest, ACopyThatDoesNotVerifyChangesNothing) {
  ReinstatePlan(false);
  RunResult r = Run({"unit", "reinstate", "imap4/du2", "--dry-run"});
  EXPECT_EQ(r.code, 1);
  EXPECT_THAT(r.out, HasSubstr("does not verify: could not be read: EIO"));
  cluster_.calls.clear();
  r = Run({"unit", "reinstate", "imap4/du2"}, "y\n");
  EXPECT_EQ(r.code, 1);
  EXPECT_THAT(cluster_.calls, ElementsAre("ReinstateUnit dry-run")) << "never applied";
  EXPECT_THAT(r.err, HasSubstr("did not verify; nothing was changed"));
}

TEST_F(AutomationVerbsTest, ReinstateUsageErrors) {
  for (const std::vector<std::string>& bad :
       std::vector<std::vector<std::string>>{{"unit", "reinstate"},
                                             {"unit", "reinstate", "imap4"},
                                             {"unit", "reinstate", "imap4/../du2"},
                                             {"unit", "explode", "imap4/du2"},
                                             {"unit", "reinstate", "imap4/du2", "--json"}}) {
    cluster_.calls.clear();
    RunResult r = Run(bad);
    EXPECT_EQ(r.code, 2) << bad.back();
    EXPECT_THAT(cluster_.calls, IsEmpty());
  }
}

TEST_F(AutomationVerbsTest, MarkLostForcePassesTheLimit) {
  RunResult r = Run({"mark-lost", "imap4/du2", "--yes", "--force"});
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_TRUE(cluster_.last_mark_lost.force());
  r = Run({"mark-lost", "imap4/du1", "--yes"});  // du2 is lost now
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_FALSE(cluster_.last_mark_lost.force());
}

}  // namespace
}  // namespace slotkeeper::slotctl
