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
  e.set_kind("store.failover_refused");
  EXPECT_EQ(ClassifyEvent(e), IncidentRole::kProblem);
  // The mass-deletion guard stopping a replica's sync, and its end.
  e.set_kind("replication.blocked");
  e.set_severity(v1::WARNING);
  EXPECT_EQ(ClassifyEvent(e), IncidentRole::kProblem);
  e.set_kind("replication.unblocked");
  e.set_severity(v1::INFO);
  EXPECT_EQ(ClassifyEvent(e), IncidentRole::kRecovery);
  e.set_kind("store.state");
  e.set_severity(v1::CRITICAL);
  EXPECT_EQ(ClassifyEvent(e), IncidentRole::kProblem);
  e.set_severity(v1::INFO);
  EXPECT_EQ(ClassifyEvent(e), IncidentRole::kRecovery);
  e.set_kind("host.registered");
  EXPECT_EQ(ClassifyEvent(e), IncidentRole::kIgnored);
  e.set_kind("command.acked");
  EXPECT_EQ(ClassifyEvent(e), IncidentRole::kIgnored);
  e.set_kind("something.new");
  EXPECT_EQ(ClassifyEvent(e), IncidentRole::kIgnored);
  e.set_severity(v1::WARNING);
  EXPECT_EQ(ClassifyEvent(e), IncidentRole::kProblem);
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
                            "server imap4 affected 4 mailbox store(s) (st2, st3, st5, st6)."));
  EXPECT_THAT(md, HasSubstr("Mail delivery for 2 of them was moved to an up-to-date copy"));
  // The timeline, in order, in words for users: the two failovers folded
  // into one line, the registration and the agent command left out.
  const std::vector<std::string> lines = {
      "## Timeline (UTC)\n\n",
      "- **06:01** Problem: A disk enclosure (du2) on mail server imap4 failed.\n",
      "- **06:01** Problem: Part of the storage on mail server imap4 stopped working.\n",
      "- **06:01** Problem: Mailboxes in store st2 could not receive or serve mail.\n",
      "- **06:01** Problem: Mailboxes in store st3 lost one of their backup copies.\n",
      "- **06:01** Action: Started a new backup copy of store st3.\n",
      "- **06:01** Action: Copying the mailboxes of store st3.\n",
      "- **06:01** Action: Mail delivery for store st2 was moved to an up-to-date copy. Same for 1 "
      "more (st5).\n",
      "- **06:01** Problem: Moving mail delivery for store st6 was held back as a safety measure; "
      "engineers are reviewing it.\n",
      "- **06:30** Recovered: A new backup copy of store st5 is complete and verified.\n",
      "- **06:30** Recovered: The copy of store st5 on the failed hardware was retired.\n",
      "- **06:30** Recovered: Mailboxes in store st5 have all their copies again.\n\n## Still",
  };
  size_t at = 0;
  for (const std::string& line : lines) {
    size_t found = md.find(line, at);
    ASSERT_NE(found, std::string::npos) << "missing or out of order: " << line << "\n" << md;
    at = found + line.size();
  }
  EXPECT_THAT(md, Not(HasSubstr("re-registered")));
  EXPECT_THAT(md, Not(HasSubstr("command 77")));
  EXPECT_THAT(md, HasSubstr("## Still in progress\n\n- 1 mailbox store(s) have no working "
                            "primary copy yet; mail for their users is delayed, not lost"));
  EXPECT_THAT(md, HasSubstr("- Rebuilding backup copies of 1 mailbox store(s): 40.0% of "
                            "mailboxes copied, about 1h15m left.\n"));
  EXPECT_THAT(md, HasSubstr("_14 journal events from 2027-01-15 02:00:00 UTC to 2027-01-15 "
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

// Mail stranded on an old master after a failover, an operator's reconcile
// and the all-clear, as the coordinator journals them.
TEST_F(IncidentTest, StrandedMailAndItsReconcile) {
  v1::Event e;
  e.set_kind("store.stranded_mail");
  e.set_severity(v1::CRITICAL);
  EXPECT_EQ(ClassifyEvent(e), IncidentRole::kProblem);
  for (const char* kind : {"store.reconcile", "quarantine.restore", "user.unblock"}) {
    e.set_kind(kind);
    e.set_severity(v1::WARNING);
    EXPECT_EQ(ClassifyEvent(e), IncidentRole::kAction) << kind;
  }
  e.set_kind("quarantine.purge");
  EXPECT_EQ(ClassifyEvent(e), IncidentRole::kIgnored);
  e.set_kind("store.stranded_cleared");
  e.set_severity(v1::INFO);
  EXPECT_EQ(ClassifyEvent(e), IncidentRole::kRecovery);

  std::vector<v1::Event> journal = journal_;
  const struct {
    int64_t offset_ms;
    const char* kind;
    v1::EventSeverity severity;
  } rows[] = {{40 * 60'000, "store.stranded_mail", v1::CRITICAL},
              {50 * 60'000, "store.reconcile", v1::WARNING},
              {55 * 60'000, "store.stranded_cleared", v1::INFO}};
  for (const auto& row : rows) {
    v1::Event ev;
    ev.set_seq(journal.back().seq() + 1);
    ev.set_time_ms(kNow - 2 * kHour + row.offset_ms);
    ev.set_kind(row.kind);
    ev.set_severity(row.severity);
    ev.set_host("imap4");
    ev.set_slot("s02");
    ev.set_store("st2");
    ev.set_text("coordinator text");
    journal.push_back(ev);
  }
  const std::string md = BuildIncident(journal, &cluster_.status, kNow - 6 * kHour, kNow).markdown;
  EXPECT_THAT(md, HasSubstr("- **06:40** Problem: Some mail of store st2 delivered shortly before "
                            "the move is still only on the previous copy; it is kept safe and "
                            "will be copied back.\n"
                            "- **06:50** Action: Engineers started copying the held-back mail of "
                            "store st2 back.\n"
                            "- **06:55** Recovered: The held-back mail of store st2 is back in "
                            "place.\n"));
  EXPECT_THAT(md, Not(HasSubstr("coordinator text")));
}

TEST_F(IncidentTest, OrderFollowsTheJournalNotTheInput) {
  std::vector<v1::Event> shuffled = journal_;
  std::reverse(shuffled.begin(), shuffled.end());
  EXPECT_EQ(BuildIncident(shuffled, &cluster_.status, kNow - 6 * kHour, kNow).markdown,
            BuildIncident(journal_, &cluster_.status, kNow - 6 * kHour, kNow).markdown);
}

}  // namespace
}  // namespace slotkeeper::slotctl
