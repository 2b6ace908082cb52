// The standard process metrics of a Prometheus client (process_cpu_seconds_total,
// process_resident_memory_bytes, process_virtual_memory_bytes,
// process_open_fds, process_max_fds, process_start_time_seconds), which
// prometheus-cpp does not provide: read from /proc when scraped.
//
// The parsers are pure and tested on literal /proc text; ProcessCollector
// reads the files under `proc_root` (the real /proc in the daemons, a
// directory of test files in tests). A file that cannot be read or parsed
// leaves its metrics out of the scrape rather than reporting zeros.
//
// Thread-safe (no state).
#ifndef SLOTKEEPER_BASE_PROCESS_METRICS_H_
#define SLOTKEEPER_BASE_PROCESS_METRICS_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "prometheus/collectable.h"
#include "prometheus/metric_family.h"

namespace slotkeeper {

// What /proc/<pid>/stat says, in the kernel's units.
struct ProcStat {
  uint64_t utime_ticks = 0;
  uint64_t stime_ticks = 0;
  uint64_t start_ticks = 0;  // after boot
  uint64_t vsize_bytes = 0;
  int64_t rss_pages = 0;
};

// Parses one /proc/<pid>/stat line (the command may hold spaces and
// parentheses: fields are counted after the last ')'). nullopt if malformed.
std::optional<ProcStat> ParseProcStat(absl::string_view text);
// "btime N" of /proc/stat: the boot time in seconds since the epoch.
std::optional<int64_t> ParseBootTime(absl::string_view proc_stat);

struct ProcessSample {
  std::optional<ProcStat> stat;
  std::optional<int64_t> boot_time_s;
  std::optional<int64_t> open_fds;
  std::optional<int64_t> max_fds;
};

// The families of a sample; `ticks_per_second` and `page_size` from sysconf.
std::vector<prometheus::MetricFamily> ProcessFamilies(const ProcessSample& sample,
                                                      int64_t ticks_per_second, int64_t page_size);

class ProcessCollector : public prometheus::Collectable {
 public:
  // `proc_root`: "/proc" in the daemons; the process read is proc_root/self.
  explicit ProcessCollector(std::string proc_root = "/proc") : proc_root_(std::move(proc_root)) {}
  std::vector<prometheus::MetricFamily> Collect() const override;

 private:
  const std::string proc_root_;
};

}  // namespace slotkeeper

#endif  // SLOTKEEPER_BASE_PROCESS_METRICS_H_
