// Prometheus exposition for the daemons' HTTP port: one handler that asks
// every metrics source (a prometheus::Registry of counters and histograms, or
// a collector that builds its families when scraped) and writes them with
// prometheus-cpp's TextSerializer (text format 0.0.4).
//
// Also the small helpers the scrape-time collectors share to build
// MetricFamily values (gauges and counters with labels).
#ifndef SLOTKEEPER_BASE_METRICS_HTTP_H_
#define SLOTKEEPER_BASE_METRICS_HTTP_H_

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "base/http_server.h"
#include "prometheus/collectable.h"
#include "prometheus/metric_family.h"

namespace slotkeeper {

inline constexpr char kMetricsContentType[] = "text/plain; version=0.0.4; charset=utf-8";

// Every family of every source, in order, serialized. Sources must be
// thread-safe (Collect is called from HTTP worker threads).
std::string ExposeMetrics(
    const std::vector<std::shared_ptr<const prometheus::Collectable>>& sources);

// The /metrics handler over `sources` (kept alive by the handler).
HttpHandler MetricsHandler(std::vector<std::shared_ptr<const prometheus::Collectable>> sources);

using MetricLabels = std::vector<std::pair<std::string, std::string>>;

// A family with no samples yet.
prometheus::MetricFamily GaugeFamily(std::string name, std::string help);
prometheus::MetricFamily CounterFamily(std::string name, std::string help);
// Appends one sample (as a gauge or a counter, by the family's type).
void AddSample(prometheus::MetricFamily& family, double value, const MetricLabels& labels = {});

}  // namespace slotkeeper

#endif  // SLOTKEEPER_BASE_METRICS_HTTP_H_
