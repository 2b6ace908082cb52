#include "slotmgr/journal_metrics.h"

#include <algorithm>
#include <set>

#include "proto/event_kinds.h"
#include "slotmgr/failover_causes.h"

namespace slotkeeper::slotmgr {
namespace {

// From 10 ms (a read-only remount seen at once) to 10 minutes (silence).
const prometheus::Histogram::BucketBoundaries& DetectionBuckets() {
  static const auto* b = new prometheus::Histogram::BucketBoundaries{
      0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 600};
  return *b;
}

const char* GuardrailOf(const std::string& kind) {
  if (kind == event_kind::kAutomationFrozen) return "mass_failure";
  if (kind == event_kind::kAutomationBrake) return "evidence_brake";
  if (kind == event_kind::kStoreFailoverRateLimited) return "failover_rate";
  if (kind == event_kind::kAutomationHeldBack) return "held_back";
  return nullptr;
}

const char* DetectionOf(const std::string& kind) {
  if (kind == event_kind::kHostDown) return "host";
  if (kind == event_kind::kUnitFailed) return "unit";
  if (kind == event_kind::kSlotUnusable) return "slot";
  return nullptr;
}

}  // namespace

std::optional<int64_t> EvidenceStartMs(const v1::HostInfo& host, const std::string& unit,
                                       const std::string& slot) {
  std::set<std::string> units, filesystems, slots;
  if (!slot.empty()) {
    slots.insert(slot);
    for (const v1::SlotInfo& s : host.slots()) {
      if (s.ref().slot() == slot) filesystems.insert(s.filesystem());
    }
    for (const v1::FilesystemInfo& f : host.filesystems()) {
      if (filesystems.count(f.mount_point())) units.insert(f.unit());
    }
  } else {
    units.insert(unit);
    for (const v1::FilesystemInfo& f : host.filesystems()) {
      if (f.unit() == unit) filesystems.insert(f.mount_point());
    }
  }
  std::optional<int64_t> earliest;
  for (const v1::Condition& c : host.conditions()) {
    if (!c.hard() || c.since_ms() <= 0) continue;
    const bool about =
        c.subject_kind() == v1::SUBJECT_HOST ||
        (c.subject_kind() == v1::SUBJECT_UNIT && units.count(c.subject())) ||
        (c.subject_kind() == v1::SUBJECT_FILESYSTEM && filesystems.count(c.subject())) ||
        (c.subject_kind() == v1::SUBJECT_SLOT && slots.count(c.subject()));
    if (!about) continue;
    const int64_t start = c.since_ms() - host.clock_offset_ms();  // agent clock -> ours
    earliest = earliest ? std::min(*earliest, start) : start;
  }
  return earliest;
}

JournalCounters::JournalCounters()
    : events_(prometheus::BuildCounter()
                  .Name("slotkeeper_events_total")
                  .Help("Journal events, by kind.")
                  .Register(registry_)),
      failovers_(prometheus::BuildCounter()
                     .Name("slotkeeper_failovers_total")
                     .Help("Changes of a store's master, by cause.")
                     .Register(registry_)),
      guardrails_(prometheus::BuildCounter()
                      .Name("slotkeeper_guardrail_trips_total")
                      .Help("Times a brake or limit stopped or held back automation.")
                      .Register(registry_)),
      detections_(prometheus::BuildCounter()
                      .Name("slotkeeper_detections_total")
                      .Help("Failures detected: hosts down, units failed, slots unusable.")
                      .Register(registry_)),
      latency_(prometheus::BuildHistogram()
                   .Name("slotkeeper_detection_latency_seconds")
                   .Help("From the start of the hard evidence to the coordinator's event.")
                   .Register(registry_)) {
  for (const char* cause : {"hard_evidence", "host_silent", "operator", "drain", "other"}) {
    failovers_.Add({{"cause", cause}});
  }
  for (const char* g : {"mass_failure", "evidence_brake", "failover_rate", "held_back"}) {
    guardrails_.Add({{"guardrail", g}});
  }
  for (const char* s : {"host", "unit", "slot"}) detections_.Add({{"subject", s}});
  for (const char* s : {"unit", "slot"}) latency_.Add({{"subject", s}}, DetectionBuckets());
}

void JournalCounters::Apply(const v1::Event& event,
                            const std::map<std::string, const v1::HostInfo*>& hosts) {
  // Kinds are the coordinator's own constants; a kind outside the expected
  // shape is still counted, under its name, since the journal is ours.
  events_.Add({{"kind", event.kind()}}).Increment();
  if (event.kind() == event_kind::kStoreFailover) {
    failovers_.Add({{"cause", FailoverCauseOf(event.text())}}).Increment();
  }
  if (const char* g = GuardrailOf(event.kind())) guardrails_.Add({{"guardrail", g}}).Increment();
  const char* subject = DetectionOf(event.kind());
  if (subject == nullptr) return;
  detections_.Add({{"subject", subject}}).Increment();
  if (event.kind() == event_kind::kHostDown) return;  // silence: no evidence to time from
  auto h = hosts.find(event.host());
  if (h == hosts.end()) return;
  std::optional<int64_t> start = EvidenceStartMs(*h->second, event.unit(), event.slot());
  if (!start) return;
  latency_.Add({{"subject", subject}}, DetectionBuckets())
      .Observe(std::max<int64_t>(0, event.time_ms() - *start) / 1000.0);
}

}  // namespace slotkeeper::slotmgr
