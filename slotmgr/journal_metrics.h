// The coordinator's event metrics: counters derived by following the
// journal (every decision is an event there, persisted with the decision),
// so no decision code has to know about metrics.
//
//   slotkeeper_events_total{kind}              every journal event, by kind
//                                              (proto/event_kinds.h: a fixed set)
//   slotkeeper_failovers_total{cause}          store.failover, by cause
//                                              (failover_causes.h)
//   slotkeeper_guardrail_trips_total{guardrail} the brakes and limits acting:
//                                              mass_failure (automation.frozen),
//                                              evidence_brake (automation.brake),
//                                              failover_rate
//                                              (store.failover_rate_limited),
//                                              held_back (automation.held_back)
//   slotkeeper_detections_total{subject}       host.down, unit.failed, slot.unusable
//   slotkeeper_detection_latency_seconds{subject} from the start of the hard
//                                              evidence (the condition's since,
//                                              corrected by the host's clock
//                                              offset) to the event, for units and
//                                              slots whose evidence is still
//                                              present when the event is read
//
// The label values of failovers, guardrails and detections are all present
// from the start (at 0), so increase() sees the first one.
//
// Counters start at 0 with the process (Prometheus's reset rule), from the
// journal position the collector starts at. Not thread-safe: the collector
// (coordinator_metrics.h) applies events under its own mutex.
#ifndef SLOTKEEPER_SLOTMGR_JOURNAL_METRICS_H_
#define SLOTKEEPER_SLOTMGR_JOURNAL_METRICS_H_

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "prometheus/counter.h"
#include "prometheus/family.h"
#include "prometheus/histogram.h"
#include "prometheus/registry.h"
#include "proto/model.pb.h"

namespace slotkeeper::slotmgr {

// When the hard evidence against `unit` (or, when `slot` is set, against
// that slot, its filesystem or its unit) on `host` began, in the
// coordinator's clock; nullopt when the host reports none now. Pure.
std::optional<int64_t> EvidenceStartMs(const v1::HostInfo& host, const std::string& unit,
                                       const std::string& slot);

class JournalCounters {
 public:
  JournalCounters();

  // Counts `event`; `hosts` (by name) is the model at about the same time,
  // for the evidence behind a detection.
  void Apply(const v1::Event& event, const std::map<std::string, const v1::HostInfo*>& hosts);

  std::vector<prometheus::MetricFamily> Families() const { return registry_.Collect(); }

 private:
  prometheus::Registry registry_;
  prometheus::Family<prometheus::Counter>& events_;
  prometheus::Family<prometheus::Counter>& failovers_;
  prometheus::Family<prometheus::Counter>& guardrails_;
  prometheus::Family<prometheus::Counter>& detections_;
  prometheus::Family<prometheus::Histogram>& latency_;
};

}  // namespace slotkeeper::slotmgr

#endif  // SLOTKEEPER_SLOTMGR_JOURNAL_METRICS_H_
