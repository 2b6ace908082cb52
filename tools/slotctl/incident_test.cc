#include "tools/slotctl/incident.h"

#include <algorithm>

#include "absl/strings/match.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tools/slotctl/incident_render.h"
#include "tools/slotctl/incident_summary.h"
#include "tools/slotctl/incident_timeline.h"

namespace slotkeeper::slotctl {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Not;

constexpr int64_t kT0 = 1'796'219'400'000;  // 2026-12-02 13:50:00 UTC

// A journal written like the coordinator's: kinds, severities and subject
// fields as slotmgr emits them (texts only where a reader parses them).
class Journal {
 public:
  Journal& Add(double at_s, const char* kind, v1::EventSeverity severity, const char* host = "",
               const char* unit = "", const char* slot = "", const char* store = "",
               const char* task = "", const char* text = "") {
    v1::Event e;
    e.set_seq(++seq_);
    e.set_time_ms(kT0 + static_cast<int64_t>(at_s * 1000));
    e.set_kind(kind);
    e.set_severity(severity);
    e.set_host(host);
    e.set_unit(unit);
    e.set_slot(slot);
    e.set_store(store);
    e.set_task(task);
    e.set_text(text);
    events_.push_back(e);
    return *this;
  }
  const std::vector<v1::Event>& events() const { return events_; }

 private:
  uint64_t seq_ = 100;
  std::vector<v1::Event> events_;
};

// The demo's outage: imap4's unit du2 (masters of st5 and st6) dies, after
// st4's seeding finished; st4 (master on imap4/du1s1) is never affected.
Journal DemoLikeJournal() {
  Journal j;
  j.Add(-2, "task.done", v1::INFO, "imap2", "", "du1s3", "st4", "t-4",
        "task t-4 done and verified: imap2/du1s3 is a replica of st4 (100 of 100 bytes copied)")
      .Add(-2, "store.state", v1::INFO, "", "", "", "st4")
      .Add(3.2, "host.conditions", v1::WARNING, "imap4")
      .Add(3.2, "unit.failed", v1::CRITICAL, "imap4", "du2")
      .Add(3.2, "filesystem.state", v1::CRITICAL, "imap4", "du2")
      .Add(3.2, "store.state", v1::CRITICAL, "", "", "", "st5")  // before its slot event
      .Add(3.2, "slot.unusable", v1::WARNING, "imap4", "", "du2s1", "st5")
      .Add(3.2, "slot.unusable", v1::WARNING, "imap4", "", "du2s2", "st6")
      .Add(3.2, "store.state", v1::CRITICAL, "", "", "", "st6")
      .Add(3.3, "command.queued", v1::INFO, "imap3")
      .Add(5.1, "store.final_pull", v1::WARNING, "imap3", "", "du1s4", "st5")
      .Add(7.4, "store.failover", v1::CRITICAL, "imap3", "", "du1s4", "st5")
      .Add(7.9, "store.failover", v1::CRITICAL, "imap1", "", "du2s2", "st6")
      .Add(8.6, "store.state", v1::WARNING, "", "", "", "st5")
      .Add(9.3, "store.state", v1::WARNING, "", "", "", "st6")
      .Add(10.0, "task.done", v1::INFO, "imap3", "", "du2s4", "st8", "t-8")  // seeding st8
      .Add(18.5, "unit.lost", v1::CRITICAL, "imap4", "du2")
      .Add(18.5, "copy.lost", v1::CRITICAL, "imap4", "", "du2s1", "st5")
      .Add(18.5, "copy.lost", v1::CRITICAL, "imap4", "", "du2s2", "st6")
      .Add(18.6, "task.created", v1::INFO, "imap2", "", "du2s3", "st5", "t-21")
      .Add(18.6, "task.created", v1::INFO, "imap1", "", "du1s4", "st6", "t-22")
      .Add(19.0, "task.started", v1::INFO, "imap2", "", "du2s3", "st5", "t-21")
      .Add(19.0, "task.started", v1::INFO, "imap1", "", "du1s4", "st6", "t-22")
      .Add(30.2, "task.done", v1::INFO, "imap1", "", "du1s4", "st6", "t-22",
           "task t-22 done and verified: imap1/du1s4 is a replica of st6 (5000000 of 5000000 "
           "bytes copied)")
      .Add(30.2, "copy.dropped", v1::INFO, "imap4", "", "du2s2", "st6", "t-22")
      .Add(30.2, "store.state", v1::INFO, "", "", "", "st6")
      .Add(33.9, "task.done", v1::INFO, "imap2", "", "du2s3", "st5", "t-21",
           "task t-21 done and verified")  // says no bytes
      .Add(33.9, "copy.dropped", v1::INFO, "imap4", "", "du2s1", "st5", "t-21")
      .Add(33.9, "store.state", v1::INFO, "", "", "", "st5")
      .Add(35.0, "unit.failed", v1::CRITICAL, "imap4", "du1");  // another incident
  return j;
}

v1::StoreInfo Store(const std::string& name, uint64_t users) {
  v1::StoreInfo s;
  s.set_name(name);
  s.set_state(v1::STORE_HEALTHY);
  s.set_user_count(users);
  v1::Copy* c = s.add_copies();
  c->mutable_slot()->set_host("imap1");
  c->mutable_slot()->set_slot("du1s1");
  c->set_role(v1::SLOT_MASTER);
  return s;
}

IncidentInputs Inputs(const std::vector<v1::Event>& events, const v1::ClusterStatus* status) {
  IncidentInputs in;
  in.events = events;
  in.status = status;
  in.stores = {Store("st4", 20), Store("st5", 20), Store("st6", 25), Store("st8", 20)};
  in.since_ms = kT0 - 5000;
  in.now_ms = kT0 + 60'000;
  return in;
}

std::vector<std::string> Kinds(const IncidentScope& scope) {
  std::vector<std::string> kinds;
  for (const v1::Event& e : scope.events) kinds.push_back(e.kind() + ":" + e.store());
  return kinds;
}

TEST(IncidentScopeTest, ClassifiesByKind) {
  v1::Event e;
  const struct {
    const char* kind;
    v1::EventSeverity severity;
    IncidentRole role;
  } cases[] = {
      {"unit.failed", v1::CRITICAL, IncidentRole::kProblem},
      {"store.failover", v1::CRITICAL, IncidentRole::kAction},
      {"store.final_pull", v1::WARNING, IncidentRole::kAction},
      {"task.done", v1::INFO, IncidentRole::kRecovery},
      {"host.up", v1::INFO, IncidentRole::kRecovery},
      {"store.failover_refused", v1::WARNING, IncidentRole::kProblem},
      {"replication.blocked", v1::WARNING, IncidentRole::kProblem},
      {"replication.unblocked", v1::INFO, IncidentRole::kRecovery},
      {"store.state", v1::CRITICAL, IncidentRole::kProblem},
      {"store.state", v1::INFO, IncidentRole::kRecovery},
      {"store.stranded_mail", v1::CRITICAL, IncidentRole::kProblem},
      {"store.reconcile", v1::WARNING, IncidentRole::kAction},
      {"store.stranded_cleared", v1::INFO, IncidentRole::kRecovery},
      {"host.registered", v1::INFO, IncidentRole::kIgnored},
      {"command.acked", v1::INFO, IncidentRole::kIgnored},
      {"audit.denied", v1::WARNING, IncidentRole::kIgnored},
      {"quarantine.purge", v1::WARNING, IncidentRole::kIgnored},
      {"something.new", v1::INFO, IncidentRole::kIgnored},
      {"something.new", v1::WARNING, IncidentRole::kProblem},
  };
  for (const auto& c : cases) {
    e.set_kind(c.kind);
    e.set_severity(c.severity);
    EXPECT_EQ(ClassifyEvent(e), c.role) << c.kind;
  }
}

// The seeding of st4 (and of st8 during the outage) is not part of it; the
// second unit's failure is another incident; the host's report in the same
// millisecond gives way to the unit failure as the root.
TEST(IncidentScopeTest, OnlyWhatIsLinkedToTheFirstFault) {
  const IncidentScope scope = ScopeIncident(DemoLikeJournal().events());
  ASSERT_FALSE(scope.empty());
  EXPECT_EQ(scope.root().kind(), "unit.failed");
  EXPECT_EQ(scope.root().unit(), "du2");
  EXPECT_EQ(scope.window_events, 30u);
  EXPECT_EQ(scope.stores, (std::set<std::string>{"st5", "st6"}));
  EXPECT_EQ(scope.tasks, (std::set<std::string>{"t-21", "t-22"}));
  EXPECT_EQ(scope.unlinked_problems, 1u);  // imap4/du1
  for (const v1::Event& e : scope.events) {
    EXPECT_NE(e.store(), "st4");
    EXPECT_NE(e.store(), "st8");
    EXPECT_NE(e.unit(), "du1");
  }
  const std::vector<std::string> kinds = Kinds(scope);
  EXPECT_EQ(kinds.front(), "host.conditions:");  // same report, same millisecond
  EXPECT_EQ(std::count(kinds.begin(), kinds.end(), "store.state:st5"), 3);
  EXPECT_EQ(scope.events.size(), 25u);
}

TEST(IncidentScopeTest, TheUnitIsTheRootOfWhatOneReportGave) {
  Journal j;
  j.Add(0, "host.conditions", v1::WARNING, "imap4")
      .Add(0, "filesystem.state", v1::CRITICAL, "imap4", "du2")
      .Add(0, "unit.failed", v1::CRITICAL, "imap4", "du2")
      .Add(0, "unit.failed", v1::CRITICAL, "imap3", "du1")     // another host
      .Add(0.5, "unit.failed", v1::CRITICAL, "imap4", "du1");  // a later step
  const IncidentScope scope = ScopeIncident(j.events());
  EXPECT_EQ(scope.root().kind(), "unit.failed");
  EXPECT_EQ(scope.root().host(), "imap4");
  EXPECT_EQ(scope.root().unit(), "du2");
  EXPECT_EQ(scope.root_index, 2u);
  EXPECT_EQ(scope.unlinked_problems, 2u);
}

TEST(IncidentScopeTest, ShuffledInputIsTheSameScope) {
  std::vector<v1::Event> shuffled = DemoLikeJournal().events();
  std::reverse(shuffled.begin(), shuffled.end());
  EXPECT_EQ(Kinds(ScopeIncident(shuffled)), Kinds(ScopeIncident(DemoLikeJournal().events())));
}

TEST(IncidentScopeTest, HostWideFaultTakesEveryUnitOfTheHostButNoOtherHost) {
  Journal j;
  j.Add(0, "host.suspect", v1::WARNING, "imap4")
      .Add(1, "unit.lost", v1::CRITICAL, "imap4", "du1")
      .Add(1, "copy.lost", v1::CRITICAL, "imap4", "", "du1s1", "st1")
      .Add(2, "task.created", v1::INFO, "imap3", "", "du2s2", "st1", "t-1")
      .Add(2, "host.conditions", v1::WARNING, "imap3")  // the task's host: not linked
      .Add(3, "task.retry", v1::WARNING, "imap3", "", "du2s2", "", "t-1");  // by its task
  const IncidentScope scope = ScopeIncident(j.events());
  EXPECT_THAT(Kinds(scope), ElementsAre("host.suspect:", "unit.lost:", "copy.lost:st1",
                                        "task.created:st1", "task.retry:"));
  EXPECT_EQ(scope.unlinked_problems, 1u);
}

TEST(IncidentScopeTest, WithoutAFaultTheFirstProblemIsTheRoot) {
  Journal j;
  j.Add(0, "task.done", v1::INFO, "imap1", "", "s1", "st1", "t-1")
      .Add(1, "replication.blocked", v1::WARNING, "imap2", "", "s2", "st2")
      .Add(2, "user.unblock", v1::WARNING, "imap2", "", "s2", "st2")
      .Add(3, "replication.unblocked", v1::INFO, "imap2", "", "s2", "st2");
  const IncidentScope scope = ScopeIncident(j.events());
  EXPECT_THAT(Kinds(scope), ElementsAre("replication.blocked:st2", "user.unblock:st2",
                                        "replication.unblocked:st2"));
  EXPECT_TRUE(ScopeIncident({j.events()[0]}).empty());
}

TEST(IncidentTimesTest, OffsetsSpansAndSeconds) {
  EXPECT_EQ(FormatOffsetFromStart(0), "+0:00");
  EXPECT_EQ(FormatOffsetFromStart(4'999), "+0:04");
  EXPECT_EQ(FormatOffsetFromStart(754'000), "+12:34");
  EXPECT_EQ(FormatOffsetFromStart(3'723'000), "+1:02:03");
  EXPECT_EQ(FormatSpan(4'200), "4 s");
  EXPECT_EQ(FormatSpan(4'500), "5 s");
  EXPECT_EQ(FormatSpan(130'000), "2 min 10 s");
  EXPECT_EQ(FormatSpan(120'000), "2 min");
  EXPECT_EQ(FormatSpan(3'900'000), "1 h 5 min");
  EXPECT_EQ(FormatSecond(kT0 + 7'400, kT0), "13:50:07");
  EXPECT_EQ(FormatSecond(kT0 + 11 * 3'600'000, kT0), "2026-12-03 00:50:00");
}

TEST(IncidentTimelineTest, OneLinePerCauseWithConsequencesFolded) {
  const std::vector<TimelineCause> t = BuildTimeline(ScopeIncident(DemoLikeJournal().events()));
  ASSERT_EQ(t.size(), 3u);  // the failure, the two failovers (one line), the unit taken out
  EXPECT_EQ(t[0].line.text, "A disk enclosure (du2) on mail server imap4 failed.");
  std::vector<std::string> root;
  for (const TimelineLine& l : t[0].consequences) root.push_back(l.text);
  EXPECT_THAT(root, ElementsAre("Mail server imap4 reported problems.",
                                "Part of the storage on mail server imap4 stopped working (mail "
                                "of stores st5 and st6).",
                                "Mail for stores st5 and st6 could not be delivered or read.",
                                "Before switching, the latest mail of store st5 is copied once "
                                "more off the failing storage."));
  EXPECT_EQ(t[0].consequences[1].events, 3u);  // the filesystem and two slots

  EXPECT_EQ(t[1].line.text,
            "Mail delivery for stores st5 and st6 was moved to up-to-date copies on other "
            "servers.");
  EXPECT_EQ(t[1].line.first_ms, kT0 + 7'400);
  EXPECT_EQ(t[1].line.last_ms, kT0 + 7'900);
  ASSERT_EQ(t[1].consequences.size(), 1u);
  EXPECT_EQ(t[1].consequences[0].first_ms, kT0 + 8'600);
  EXPECT_EQ(t[1].consequences[0].last_ms, kT0 + 9'300);

  EXPECT_THAT(t[2].line.text, HasSubstr("The failed disk enclosure (du2) on mail server imap4 "
                                        "was taken out of service"));
  std::vector<std::string> lost;
  for (const TimelineLine& l : t[2].consequences) lost.push_back(l.text);
  EXPECT_THAT(lost, ElementsAre("The copies of stores st5 and st6 on the failed storage were "
                                "written off.",
                                "New backup copies of stores st5 and st6 were started on other "
                                "servers.",
                                "Copying the mail of stores st5 and st6.",
                                "New backup copies of stores st5 and st6 are complete and "
                                "verified.",
                                "The old copies of stores st5 and st6 on the failed storage were "
                                "retired.",
                                "Every backup copy of stores st5 and st6 is in place again."));
}

// A slot's new reason (the unit declared lost) is not news to readers.
TEST(IncidentTimelineTest, ASlotReportedAgainIsNotANewLine) {
  Journal j;
  j.Add(0, "unit.failed", v1::CRITICAL, "imap4", "du2")
      .Add(0, "slot.unusable", v1::WARNING, "imap4", "", "du2s1", "st5")
      .Add(15, "unit.lost", v1::CRITICAL, "imap4", "du2")
      .Add(15, "slot.unusable", v1::WARNING, "imap4", "", "du2s1", "st5")
      .Add(15, "copy.lost", v1::CRITICAL, "imap4", "", "du2s1", "st5");
  const std::vector<TimelineCause> t = BuildTimeline(ScopeIncident(j.events()));
  ASSERT_EQ(t.size(), 2u);
  ASSERT_EQ(t[0].consequences.size(), 1u);
  EXPECT_EQ(t[0].consequences[0].events, 2u);
  EXPECT_EQ(t[0].consequences[0].last_ms, kT0);
  ASSERT_EQ(t[1].consequences.size(), 1u);
  EXPECT_EQ(t[1].consequences[0].kinds, (std::set<std::string>{"copy.lost"}));
}

TEST(IncidentTimelineTest, UnitsTakenOutInOneStepAreOneLine) {
  Journal j;
  j.Add(0, "host.down", v1::CRITICAL, "imap4")
      .Add(8, "unit.lost", v1::CRITICAL, "imap4", "du1")
      .Add(8, "unit.lost", v1::CRITICAL, "imap4", "du2")
      .Add(8, "copy.lost", v1::CRITICAL, "imap4", "", "du2s1", "st5");
  const std::vector<TimelineCause> t = BuildTimeline(ScopeIncident(j.events()));
  ASSERT_EQ(t.size(), 2u);
  EXPECT_EQ(t[1].line.text,
            "The failed disk enclosures (du1 and du2) on mail server imap4 were taken out of "
            "service; the mail they held is being copied to other servers.");
  EXPECT_EQ(t[1].line.events, 2u);
  ASSERT_EQ(t[1].consequences.size(), 1u);
}

TEST(IncidentSummaryTest, FiguresPerStoreAndOverall) {
  v1::ClusterStatus healthy;
  const IncidentInputs in = Inputs(DemoLikeJournal().events(), &healthy);
  const IncidentSummary s = Summarize(ScopeIncident(in.events), in.status, in.stores);
  EXPECT_EQ(s.start_ms, kT0 + 3'200);
  EXPECT_EQ(s.first_action_ms, kT0 + 5'100);
  EXPECT_EQ(s.first_action_kind, "store.final_pull");
  ASSERT_EQ(s.stores.size(), 2u);
  const StoreOutcome& st5 = s.stores[0];
  EXPECT_EQ(st5.store, "st5");
  EXPECT_EQ(st5.users, 20u);
  EXPECT_EQ(st5.unavailable_ms, 5'400);
  EXPECT_EQ(st5.unavailable_since_ms, 0);
  EXPECT_EQ(st5.failover_after_ms, 4'200);
  EXPECT_EQ(st5.failover_to, "imap3/du1s4");
  EXPECT_EQ(st5.healthy_ms, kT0 + 33'900);
  EXPECT_EQ(s.stores[1].unavailable_ms, 6'100);
  EXPECT_EQ(s.users_affected, 45u);
  EXPECT_EQ(s.longest_unavailable_ms, 6'100);
  EXPECT_TRUE(s.redundancy_restored);
  EXPECT_EQ(s.redundancy_ms, 30'700);
  EXPECT_EQ(s.tasks_done, 2);
  EXPECT_EQ(s.bytes_moved, 5'000'000u);
  EXPECT_EQ(s.tasks_bytes_unknown, 1);
  EXPECT_TRUE(s.open.empty());
}

TEST(IncidentSummaryTest, NoUserRoutedToAStoreWithMailIsUnknown) {
  v1::ClusterStatus healthy;
  IncidentInputs in = Inputs(DemoLikeJournal().events(), &healthy);
  in.stores[2].set_user_count(0);  // st6
  in.stores[2].set_used_bytes(99'000'000);
  const IncidentSummary s = Summarize(ScopeIncident(in.events), in.status, in.stores);
  EXPECT_EQ(s.stores[0].users, 20u);
  EXPECT_EQ(s.stores[1].users, std::nullopt);
  EXPECT_EQ(s.users_affected, std::nullopt);
  const std::string md = BuildIncident(in).markdown;
  EXPECT_THAT(md, HasSubstr("| Users whose mail was unavailable | unknown |"));
  EXPECT_THAT(md, HasSubstr("| st6 | ? |"));
}

TEST(IncidentSummaryTest, BytesCopiedFromTheTaskText) {
  EXPECT_EQ(BytesCopied("task t-1 done and verified: a/b is a replica of st1 (12 of 40 bytes "
                        "copied)"),
            12u);
  EXPECT_EQ(BytesCopied("task t-1 done and verified"), std::nullopt);
  EXPECT_EQ(BytesCopied("(x of 40 bytes copied)"), std::nullopt);
}

TEST(IncidentSummaryTest, StillWithoutMasterIsAnOngoingOutage) {
  Journal j;
  j.Add(0, "slot.unusable", v1::WARNING, "imap4", "", "s1", "st5")
      .Add(0, "store.state", v1::CRITICAL, "", "", "", "st5");
  v1::ClusterStatus status;
  v1::StoreInfo* st5 = status.add_troubled_stores();
  st5->set_name("st5");
  st5->set_state(v1::STORE_UNAVAILABLE);
  const IncidentReport r = BuildIncident(Inputs(j.events(), &status));
  EXPECT_EQ(r.status, "Identified");
  EXPECT_THAT(r.markdown, HasSubstr("| st5 | 20 | since 13:50:00 | - | - | not yet |"));
  EXPECT_THAT(r.markdown, HasSubstr("| Time to full redundancy | not reached yet |"));
  EXPECT_THAT(r.markdown, HasSubstr("- Mail for store st5 cannot be delivered or read yet"));
  EXPECT_THAT(r.json, HasSubstr("\"unavailable_since_ms\": 1796219400000"));
}

TEST(IncidentReportTest, ResolvedOnlyWhenNothingIsOpen) {
  v1::ClusterStatus healthy;
  IncidentReport r = BuildIncident(Inputs(DemoLikeJournal().events(), &healthy));
  EXPECT_EQ(r.title, "Disk enclosure failure on imap4");
  EXPECT_EQ(r.status, "Resolved");
  EXPECT_THAT(r.markdown, HasSubstr("- Nothing: the service is back to normal.\n"));
  EXPECT_THAT(r.json, HasSubstr("\"back_to_normal\": true"));
}

// Users stopped by the mass-deletion guard and stranded mail are not normal,
// even with every store healthy.
TEST(IncidentReportTest, NotBackToNormalWhileUsersAreBlockedOrMailStranded) {
  v1::ClusterStatus healthy;
  IncidentInputs in = Inputs(DemoLikeJournal().events(), &healthy);
  in.stores[1].mutable_copies(0)->add_blocked_users("bob");
  IncidentReport r = BuildIncident(in);
  EXPECT_EQ(r.status, "Monitoring");
  EXPECT_THAT(r.markdown, Not(HasSubstr("back to normal")));
  EXPECT_THAT(r.markdown, HasSubstr("Backup copies of 1 mailbox(es) of store st5 (bob) are not "
                                    "updated until engineers have checked them (the mass-deletion "
                                    "guard stopped them"));
  EXPECT_THAT(r.json, HasSubstr("\"back_to_normal\": false"));

  in = Inputs(DemoLikeJournal().events(), &healthy);
  in.stores[0].mutable_copies(0)->set_stranded_messages(3);  // st4: outside the incident too
  r = BuildIncident(in);
  EXPECT_EQ(r.status, "Monitoring");
  EXPECT_THAT(r.markdown, Not(HasSubstr("back to normal")));
  EXPECT_THAT(r.markdown, HasSubstr("3 message(s) of store st4 are still only on its previous "
                                    "copy"));
}

TEST(IncidentReportTest, QuarantineAndLostHardwareAreFollowUps) {
  v1::ClusterStatus status;
  v1::HostInfo* imap4 = status.add_troubled_hosts();
  imap4->set_name("imap4");
  v1::UnitInfo* du2 = imap4->add_units();
  du2->set_name("du2");
  du2->set_state(v1::UNIT_LOST);
  IncidentInputs in = Inputs(DemoLikeJournal().events(), &status);
  in.stores[2].mutable_copies(0)->set_quarantine_items(4);
  const IncidentReport r = BuildIncident(in);
  EXPECT_EQ(r.status, "Resolved");
  EXPECT_THAT(r.markdown, Not(HasSubstr("back to normal")));
  EXPECT_THAT(r.markdown, HasSubstr("Some follow-up work remains"));
  EXPECT_THAT(r.markdown, HasSubstr("- Follow-up: The disk enclosure (du2) on mail server imap4 "
                                    "is out of service until it is replaced.\n"));
  EXPECT_THAT(r.markdown, HasSubstr("- Follow-up: 4 file(s) of store st6 were set aside"));
}

TEST(IncidentReportTest, PausedOrFrozenAutomationIsOpen) {
  v1::ClusterStatus status;
  status.mutable_automation()->set_mode(v1::AUTOMATION_PAUSED);
  status.mutable_automation()->set_reason("hardware replacement");
  const IncidentReport r = BuildIncident(Inputs(DemoLikeJournal().events(), &status));
  EXPECT_EQ(r.status, "Monitoring");
  EXPECT_THAT(r.markdown, HasSubstr("- Automatic recovery is on hold while engineers work on it "
                                    "(hardware replacement).\n"));
}

TEST(IncidentReportTest, MarkdownHasSecondsAndOffsets) {
  v1::ClusterStatus healthy;
  const std::string md = BuildIncident(Inputs(DemoLikeJournal().events(), &healthy)).markdown;
  EXPECT_THAT(md,
              HasSubstr("- **13:50:03 (+0:00)** A disk enclosure (du2) on mail server imap4 "
                        "failed.\n  - 13:50:03 (+0:00) Mail server imap4 reported problems.\n"));
  EXPECT_THAT(md, HasSubstr("- **13:50:07 (+0:04)** Mail delivery for stores st5 and st6"));
  EXPECT_THAT(md, HasSubstr("  - 13:50:08–13:50:09 (+0:05–+0:06) Mail for stores st5 and st6 is "
                            "delivered and read"));
  EXPECT_THAT(md, HasSubstr("| Users whose mail was unavailable | 45 |"));
  EXPECT_THAT(md, HasSubstr("| Time to first action | 2 s (saving the latest mail before "
                            "switching) |"));
  EXPECT_THAT(md, HasSubstr("| Time to full redundancy | 31 s |"));
  EXPECT_THAT(md, HasSubstr("| Data copied | 4.8 MiB in 2 new copies (1 of them did not say how "
                            "much: unknown) |"));
  EXPECT_THAT(md, HasSubstr("| st6 | 25 | 6 s | 5 s | imap1 | +0:27 |"));
  EXPECT_THAT(md, HasSubstr("30 journal events from"));
  EXPECT_THAT(md, HasSubstr("25 of them belong to this incident; 1 other problem(s) in the "
                            "window are not linked to it"));
  EXPECT_THAT(md, Not(HasSubstr("st4")));
  EXPECT_THAT(md, Not(HasSubstr("st8")));
}

TEST(IncidentReportTest, UnknownStatusIsInvestigating) {
  const IncidentReport r = BuildIncident(Inputs(DemoLikeJournal().events(), nullptr));
  EXPECT_EQ(r.status, "Investigating");
  EXPECT_THAT(r.markdown, HasSubstr("The current state could not be read"));
  EXPECT_THAT(r.json, HasSubstr("\"still_open\": null"));
}

TEST(IncidentReportTest, QuietWindowIsAllClear) {
  v1::ClusterStatus healthy;
  Journal j;
  j.Add(0, "host.registered", v1::INFO, "imap1");
  const IncidentReport r = BuildIncident(Inputs(j.events(), &healthy));
  EXPECT_EQ(r.title, "All systems operational");
  EXPECT_EQ(r.status, "Resolved");
  EXPECT_THAT(r.markdown, HasSubstr("No incidents between 2026-12-02 13:49:55 UTC and "
                                    "2026-12-02 13:51:00 UTC.\n"));
}

}  // namespace
}  // namespace slotkeeper::slotctl
