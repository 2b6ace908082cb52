// The event counters: failover causes from the promoter's own words,
// guardrail trips, detections and the evidence behind their latency.
#include "slotmgr/journal_metrics.h"

#include "absl/strings/str_cat.h"
#include "base/metrics_http.h"
#include "base/metrics_text.h"
#include "gtest/gtest.h"
#include "proto/event_kinds.h"
#include "slotmgr/failover_causes.h"

namespace slotkeeper::slotmgr {
namespace {

class FamiliesOf : public prometheus::Collectable {
 public:
  explicit FamiliesOf(const JournalCounters* c) : c_(c) {}
  std::vector<prometheus::MetricFamily> Collect() const override { return c_->Families(); }

 private:
  const JournalCounters* c_;
};

testing::Exposition Scrape(const JournalCounters& c) {
  auto parsed = testing::ParseExposition(ExposeMetrics({std::make_shared<FamiliesOf>(&c)}));
  EXPECT_TRUE(parsed.ok()) << parsed.status();
  return parsed.ok() ? *parsed : testing::Exposition{};
}

v1::Event Ev(const char* kind, std::string text = "", std::string host = "", std::string unit = "",
             std::string slot = "", int64_t time_ms = 0) {
  v1::Event e;
  e.set_kind(kind);
  e.set_text(std::move(text));
  e.set_host(std::move(host));
  e.set_unit(std::move(unit));
  e.set_slot(std::move(slot));
  e.set_time_ms(time_ms);
  return e;
}

// imap1: unit du1 with /srv/du1 holding slot s01; the agent's clock is 2 s
// ahead.
v1::HostInfo Host() {
  v1::HostInfo h;
  h.set_name("imap1");
  h.set_clock_offset_ms(2000);
  v1::FilesystemInfo* fs = h.add_filesystems();
  fs->set_mount_point("/srv/du1");
  fs->set_unit("du1");
  v1::SlotInfo* s = h.add_slots();
  s->mutable_ref()->set_host("imap1");
  s->mutable_ref()->set_slot("s01");
  s->set_filesystem("/srv/du1");
  return h;
}

v1::Condition Cond(v1::SubjectKind kind, const std::string& subject, int64_t since, bool hard) {
  v1::Condition c;
  c.set_type(v1::READ_ONLY);
  c.set_subject_kind(kind);
  c.set_subject(subject);
  c.set_since_ms(since);
  c.set_hard(hard);
  return c;
}

TEST(FailoverCauseOf, NamesTheCauseInThePromotersText) {
  EXPECT_STREQ(FailoverCauseOf(absl::StrCat("store st1: master a -> b, epoch 2 (", kWhyHardEvidence,
                                            ", automatic)")),
               "hard_evidence");
  EXPECT_STREQ(FailoverCauseOf(absl::StrCat("(", kWhyHostSilent, ", automatic)")), "host_silent");
  EXPECT_STREQ(FailoverCauseOf(absl::StrCat("(", kWhyOperator, ")")), "operator");
  EXPECT_STREQ(FailoverCauseOf(absl::StrCat("(", kWhyDrain, ")")), "drain");
  EXPECT_STREQ(FailoverCauseOf("something else"), "other");
}

TEST(EvidenceStartMs, EarliestHardEvidenceOnTheUnitItsFilesystemsOrTheSlot) {
  v1::HostInfo h = Host();
  EXPECT_FALSE(EvidenceStartMs(h, "du1", "").has_value());
  *h.add_conditions() = Cond(v1::SUBJECT_FILESYSTEM, "/srv/du1", 12'000, true);
  *h.add_conditions() = Cond(v1::SUBJECT_UNIT, "du1", 11'000, false);  // soft: ignored
  *h.add_conditions() = Cond(v1::SUBJECT_UNIT, "du2", 5'000, true);    // another unit
  // Agent clock 12 s is coordinator clock 10 s.
  EXPECT_EQ(EvidenceStartMs(h, "du1", ""), 10'000);
  EXPECT_EQ(EvidenceStartMs(h, "", "s01"), 10'000);
  EXPECT_FALSE(EvidenceStartMs(h, "", "s99").has_value());
}

TEST(JournalCounters, CountsFailoversGuardrailsDetectionsAndKinds) {
  JournalCounters c;
  testing::Exposition before = Scrape(c);
  EXPECT_TRUE(before.Has("slotkeeper_failovers_total", {{"cause", "hard_evidence"}}))
      << "every cause is exposed from the start";
  EXPECT_EQ(before.Sum("slotkeeper_guardrail_trips_total"), 0);

  v1::HostInfo h = Host();
  *h.add_conditions() = Cond(v1::SUBJECT_FILESYSTEM, "/srv/du1", 12'000, true);
  const std::map<std::string, const v1::HostInfo*> hosts = {{"imap1", &h}};
  c.Apply(Ev(event_kind::kStoreFailover, absl::StrCat("(", kWhyHardEvidence, ", automatic)")),
          hosts);
  c.Apply(Ev(event_kind::kStoreFailover, absl::StrCat("(", kWhyOperator, ")")), hosts);
  c.Apply(Ev(event_kind::kAutomationBrake), hosts);
  c.Apply(Ev(event_kind::kAutomationFrozen), hosts);
  c.Apply(Ev(event_kind::kStoreFailoverRateLimited), hosts);
  c.Apply(Ev(event_kind::kUnitFailed, "", "imap1", "du1", "", 10'300), hosts);
  c.Apply(Ev(event_kind::kSlotUnusable, "", "imap1", "", "s01", 10'050), hosts);
  c.Apply(Ev(event_kind::kHostDown, "", "imap2"), hosts);
  c.Apply(Ev(event_kind::kUnitFailed, "", "imap9", "du1", "", 10'300), hosts);  // unknown host

  testing::Exposition after = Scrape(c);
  EXPECT_EQ(after.Sum("slotkeeper_failovers_total", {{"cause", "hard_evidence"}}), 1);
  EXPECT_EQ(after.Sum("slotkeeper_failovers_total", {{"cause", "operator"}}), 1);
  EXPECT_EQ(after.Sum("slotkeeper_failovers_total", {{"cause", "host_silent"}}), 0);
  EXPECT_EQ(after.Sum("slotkeeper_guardrail_trips_total", {{"guardrail", "evidence_brake"}}), 1);
  EXPECT_EQ(after.Sum("slotkeeper_guardrail_trips_total", {{"guardrail", "mass_failure"}}), 1);
  EXPECT_EQ(after.Sum("slotkeeper_guardrail_trips_total", {{"guardrail", "failover_rate"}}), 1);
  EXPECT_EQ(after.Sum("slotkeeper_detections_total", {{"subject", "unit"}}), 2);
  EXPECT_EQ(after.Sum("slotkeeper_detections_total", {{"subject", "host"}}), 1);
  EXPECT_EQ(after.Sum("slotkeeper_events_total", {{"kind", "store.failover"}}), 2);
  // Latency only where the evidence is known: 0.3 s for the unit, 0.05 s
  // for the slot.
  EXPECT_EQ(after.Sum("slotkeeper_detection_latency_seconds_count", {{"subject", "unit"}}), 1);
  EXPECT_NEAR(after.Sum("slotkeeper_detection_latency_seconds_sum", {{"subject", "unit"}}), 0.3,
              1e-9);
  EXPECT_NEAR(after.Sum("slotkeeper_detection_latency_seconds_sum", {{"subject", "slot"}}), 0.05,
              1e-9);
}

}  // namespace
}  // namespace slotkeeper::slotmgr
