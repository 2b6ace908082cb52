// The pure parts of the replication-lag benchmark (lag_bench.cc): which
// agent configurations to compare, the lag of each delivered message on
// each replica from what was seen, CPU time from /proc/PID/stat, and the
// table it prints. No clock, no filesystem, no processes here.
#ifndef SLOTKEEPER_TESTS_E2E_LAG_MEASURE_H_
#define SLOTKEEPER_TESTS_E2E_LAG_MEASURE_H_

#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "tests/e2e/lag_report.pb.h"

namespace slotkeeper::testing {

// An agent configuration under test: a name and text-format lines appended
// to every agent's config.
struct LagMode {
  std::string name;
  std::string agent_config_extra;
};

// The modes the benchmark knows by name: "poll" (a replica polls its master
// every 5 s), "push" (the master streams changed users) and "default" (the
// agents' defaults, no extra config).
const std::map<std::string, std::string>& BuiltInLagModes();

// The modes named in `names` (comma-separated, in order, no duplicates),
// each from `definitions` ("NAME=CONFIG;NAME=CONFIG", which add modes or
// replace built-in ones) or else BuiltInLagModes(). The error names the
// unknown or malformed entry.
absl::StatusOr<std::vector<LagMode>> ParseLagModes(absl::string_view names,
                                                   absl::string_view definitions);

// Positive delivery rates from "10,50,200".
absl::StatusOr<std::vector<double>> ParseRates(absl::string_view rates);

// One line of mailgen's delivery log, resolved: when the message arrived in
// its master slot, for whom, under which Maildir key.
struct Delivery {
  int64_t arrived_ns = 0;
  std::string master_slot;
  std::string user;
  std::string key;
};
// Parses mailgen's log (ParseDeliveryLine per line); the error names the
// line number.
absl::StatusOr<std::vector<Delivery>> ParseDeliveryLog(absl::string_view text);

// Where a message was seen: a replica slot directory, a user, a key.
std::string SightingKey(absl::string_view slot, absl::string_view user, absl::string_view key);

// The lag figures of one run. `replicas` maps a master slot directory to its
// replicas' slot directories; `first_seen` holds the realtime ns of the
// first inotify event per SightingKey, `scanned` what the final scan found.
// Fills delivered, expected, observed, lag_*, seen_only_by_scan,
// never_seen(_examples) of `run`. A delivery to a slot `replicas` does not
// know is an error.
absl::Status ComputeLags(const std::vector<Delivery>& deliveries,
                         const std::map<std::string, std::vector<std::string>>& replicas,
                         const absl::flat_hash_map<std::string, int64_t>& first_seen,
                         const absl::flat_hash_set<std::string>& scanned, bench::LagRun* run);

// utime + stime, in clock ticks, from the text of /proc/PID/stat (the
// command name may hold spaces and parentheses).
absl::StatusOr<uint64_t> CpuTicksFromProcStat(absl::string_view stat);

// "p99 1.6 ms" out of mailgen's lateness line; 0 when absent.
double MailgenLatenessP99Ms(absl::string_view mailgen_output);

// The report as a Markdown table, one row per run, then a loud line for
// every run that lost track of a message.
std::string FormatLagTable(const bench::LagReport& report);

}  // namespace slotkeeper::testing

#endif  // SLOTKEEPER_TESTS_E2E_LAG_MEASURE_H_
