// Test-only: a parser of the Prometheus text exposition (format 0.0.4) as
// the daemons write it, so tests read what a scraper reads; and the metric
// names docs/metrics.md documents.
#ifndef SLOTKEEPER_BASE_METRICS_TEXT_H_
#define SLOTKEEPER_BASE_METRICS_TEXT_H_

#include <map>
#include <set>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace slotkeeper::testing {

struct MetricSample {
  std::string name;  // as written: a histogram's are NAME_bucket, NAME_sum, NAME_count
  std::map<std::string, std::string> labels;
  double value = 0;
};

struct Exposition {
  std::map<std::string, std::string> types;  // family name -> "counter", "gauge", ...
  std::vector<MetricSample> samples;

  // The sum of the samples named `name` whose labels include `labels`.
  double Sum(const std::string& name, const std::map<std::string, std::string>& labels = {}) const;
  // Whether any sample is named `name` with those labels.
  bool Has(const std::string& name, const std::map<std::string, std::string>& labels = {}) const;
};

// INVALID_ARGUMENT names the first malformed line.
absl::StatusOr<Exposition> ParseExposition(absl::string_view text);

// The metric names in the first column of docs/metrics.md's tables (rows
// "| `name` | ..."). NOT_FOUND when the file cannot be read.
absl::StatusOr<std::set<std::string>> DocumentedMetrics(const std::string& path);

}  // namespace slotkeeper::testing

#endif  // SLOTKEEPER_BASE_METRICS_TEXT_H_
