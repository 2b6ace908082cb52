#include "slotmgr/coordinator_metrics.h"

#include <map>
#include <string>
#include <utility>

#include "base/metrics_http.h"
#include "base/process_metrics.h"

namespace slotkeeper::slotmgr {
namespace {

// Each scrape reads at most this many events (the rest at the next one), so
// a scrape after a flood of events stays short.
constexpr size_t kEventsPerRead = 1000;
constexpr int kReadsPerScrape = 20;

}  // namespace

CoordinatorCollector::CoordinatorCollector(Sources sources)
    : sources_(std::move(sources)), journal_seq_(sources_.queries->LastEventSeq()) {}

std::vector<prometheus::MetricFamily> CoordinatorCollector::Collect() const {
  const ClusterSnapshot snap = sources_.queries->Snapshot();
  std::vector<prometheus::MetricFamily> out = ClusterFamilies(snap);
  std::map<std::string, const v1::HostInfo*> hosts;
  for (const v1::HostInfo& h : snap.hosts) hosts[h.name()] = &h;
  {
    absl::MutexLock lock(&mu_);
    for (int i = 0; i < kReadsPerScrape; ++i) {
      absl::StatusOr<std::vector<v1::Event>> events =
          sources_.queries->EventsAfter(journal_seq_, kEventsPerRead);
      if (!events.ok() || events->empty()) break;
      for (const v1::Event& e : *events) {
        journal_.Apply(e, hosts);
        journal_seq_ = std::max(journal_seq_, e.seq());
      }
    }
    for (auto& f : journal_.Families()) out.push_back(std::move(f));
    tasks_.Observe(snap.tasks);
    for (auto& f : tasks_.Families()) out.push_back(std::move(f));
  }
  auto seq = GaugeFamily("slotkeeper_journal_last_seq", "The journal's newest event number.");
  AddSample(seq, static_cast<double>(sources_.queries->LastEventSeq()));
  out.push_back(std::move(seq));
  if (sources_.lease_renewals) {
    auto renewals = CounterFamily("slotkeeper_lease_renewals_total",
                                  "Lease renewals sent to agents for their masters.");
    AddSample(renewals, static_cast<double>(sources_.lease_renewals()));
    out.push_back(std::move(renewals));
  }
  if (sources_.store != nullptr) {
    auto engine = GaugeFamily("slotkeeper_state_store_engine",
                              "The state store's engine figures (RocksDB integer properties).");
    for (const auto& [name, value] : sources_.store->EngineStats()) {
      AddSample(engine, static_cast<double>(value), {{"property", name}});
    }
    out.push_back(std::move(engine));
  }
  return out;
}

CoordinatorMetrics::CoordinatorMetrics(CoordinatorCollector::Sources sources)
    : collector_(std::make_shared<CoordinatorCollector>(std::move(sources))) {}

std::vector<std::shared_ptr<const prometheus::Collectable>> CoordinatorMetrics::sources() const {
  return {collector_, registry_, std::make_shared<ProcessCollector>()};
}

}  // namespace slotkeeper::slotmgr
