#include "tools/slotctl/incident.h"

#include <algorithm>

#include "absl/strings/match.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tools/slotctl/test_cluster.h"

namespace slotkeeper::slotctl {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

constexpr int64_t kNow = 1'800'000'000'000;  // 2027-01-15 08:00 UTC
constexpr int64_t kHour = 3'600'000;

class IncidentTest : public ::testing::Test {
 protected:
  IncidentTest()
      : cluster_(OutageCluster(kNow)), journal_(DriveUnitOutageJournal(kNow - 2 * kHour)) {}

  FakeCluster cluster_;
  std::vector<v1::Event> journal_;
};

TEST_F(IncidentTest, ClassifiesByKind) {
  v1::Event e;
  e.set_kind("unit.failed");
  e.set_severity(v1::CRITICAL);
  EXPECT_EQ(ClassifyEvent(e), IncidentRole::kProblem);
  e.set_kind("store.failover");
  EXPECT_EQ(ClassifyEvent(e), IncidentRole::kAction);
  e.set_kind("task.done");
  EXPECT_EQ(ClassifyEvent(e), IncidentRole::kRecovery);
  e.set_kind("host.up");
  EXPECT_EQ(ClassifyEvent(e), IncidentRole::kRecovery);
  e.set_kind("host.registered");
  e.set_severity(v1::INFO);
  EXPECT_EQ(ClassifyEvent(e), IncidentRole::kIgnored);
}

TEST_F(IncidentTest, DriveUnitOutageWhileStillRecovering) {
  IncidentReport r = BuildIncident(journal_, &cluster_.status, kNow - 6 * kHour, kNow);
  EXPECT_EQ(r.title, "Disk enclosure failure on imap4");
  EXPECT_EQ(r.status, "Identified");  // st2 still has no master
  const std::string& md = r.markdown;
  EXPECT_TRUE(
      absl::StartsWith(md, "# Disk enclosure failure on imap4\n\n**Status: Identified** — "))
      << md;
  EXPECT_THAT(md, HasSubstr("_Last updated 2027-01-15 08:00:00 UTC._"));
  EXPECT_THAT(md, HasSubstr("Starting at 06:01 UTC on 2027-01-15, a problem on mail storage "
                            "server imap4 affected 3 mailbox store(s) (st2, st3, st5)."));
  EXPECT_THAT(md, HasSubstr("Mail delivery for 2 of them was moved to an up-to-date copy"));
  // The timeline, in order, with the two failovers folded into one line and
  // the routine registration left out.
  const std::vector<std::string> lines = {
      "- **06:01** Detected: Drive unit du2 on imap4 went offline (sdc state offline)\n",
      "- **06:01** Detected: Filesystem /srv/mail2 on imap4 was remounted read-only\n",
      "- **06:01** Detected: Store st2 lost its master imap4/s02\n",
      "- **06:01** Action: New replica of st3 placed on imap1/s05\n",
      "- **06:01** Action: Re-replication of st3 from imap2/s03 to imap1/s05 queued\n",
      "- **06:01** Action: Mail delivery for st2 moved from imap4/s02 to imap1/s02 (and 1 more "
      "like it, for st2, st5)\n",
      "- **06:30** Recovered: Re-replication of st5 to imap3/s06 completed and verified\n",
  };
  size_t at = 0;
  for (const std::string& line : lines) {
    size_t found = md.find(line, at);
    ASSERT_NE(found, std::string::npos) << "missing or out of order: " << line << "\n" << md;
    at = found + line.size();
  }
  EXPECT_THAT(md, Not(HasSubstr("re-registered")));
  EXPECT_THAT(md, HasSubstr("## Still in progress\n\n- 1 mailbox store(s) have no working "
                            "primary copy yet; mail for their users is delayed, not lost"));
  EXPECT_THAT(md, HasSubstr("- Rebuilding backup copies of 1 mailbox store(s): 40.0% of "
                            "mailboxes copied, about 1h15m left.\n"));
  EXPECT_THAT(md, HasSubstr("_11 journal events from 2027-01-15 02:00:00 UTC to 2027-01-15 "
                            "08:00:00 UTC; times are UTC._\n"));
}

TEST_F(IncidentTest, MonitoringThenResolved) {
  v1::ClusterStatus status = cluster_.status;
  status.mutable_troubled_stores()->erase(status.mutable_troubled_stores()->begin());  // st2 ok
  IncidentReport r = BuildIncident(journal_, &status, kNow - 6 * kHour, kNow);
  EXPECT_EQ(r.status, "Monitoring");
  EXPECT_THAT(r.markdown, HasSubstr("Mail is being delivered and read normally."));

  status.clear_troubled_stores();
  status.clear_recovery();
  r = BuildIncident(journal_, &status, kNow - 6 * kHour, kNow);
  EXPECT_EQ(r.status, "Resolved");
  EXPECT_THAT(r.markdown, HasSubstr("- Nothing: the service is back to normal.\n"));
}

TEST_F(IncidentTest, PausedAutomationIsMentioned) {
  v1::ClusterStatus status = cluster_.status;
  status.mutable_automation()->set_mode(v1::AUTOMATION_PAUSED);
  status.mutable_automation()->set_reason("hardware replacement");
  IncidentReport r = BuildIncident(journal_, &status, kNow - 6 * kHour, kNow);
  EXPECT_THAT(r.markdown, HasSubstr("Automatic recovery is on hold while engineers work on it "
                                    "(hardware replacement)."));
}

TEST_F(IncidentTest, UnknownStatusIsInvestigating) {
  IncidentReport r = BuildIncident(journal_, nullptr, kNow - 6 * kHour, kNow);
  EXPECT_EQ(r.status, "Investigating");
  EXPECT_THAT(r.markdown, HasSubstr("The current state could not be read"));
}

TEST_F(IncidentTest, QuietWindowIsAllClear) {
  v1::ClusterStatus healthy;
  IncidentReport r = BuildIncident({journal_[0]}, &healthy, kNow - kHour, kNow);
  EXPECT_EQ(r.title, "All systems operational");
  EXPECT_EQ(r.markdown,
            "# All systems operational\n\nNo incidents between 2027-01-15 07:00:00 UTC and "
            "2027-01-15 08:00:00 UTC.\n");
}

TEST_F(IncidentTest, OrderFollowsTheJournalNotTheInput) {
  std::vector<v1::Event> shuffled = journal_;
  std::reverse(shuffled.begin(), shuffled.end());
  EXPECT_EQ(BuildIncident(shuffled, &cluster_.status, kNow - 6 * kHour, kNow).markdown,
            BuildIncident(journal_, &cluster_.status, kNow - 6 * kHour, kNow).markdown);
}

}  // namespace
}  // namespace slotkeeper::slotctl
