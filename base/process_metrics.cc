#include "base/process_metrics.h"

#include <dirent.h>
#include <sys/resource.h>
#include <unistd.h>

#include <fstream>
#include <sstream>

#include "absl/strings/numbers.h"
#include "absl/strings/str_split.h"
#include "base/metrics_http.h"

namespace slotkeeper {
namespace {

std::optional<std::string> ReadSmallFile(const std::string& path) {
  std::ifstream in(path);
  if (!in) return std::nullopt;
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

std::optional<int64_t> CountEntries(const std::string& dir) {
  DIR* d = opendir(dir.c_str());
  if (d == nullptr) return std::nullopt;
  int64_t n = 0;
  while (const dirent* e = readdir(d)) {
    if (e->d_name[0] != '.') ++n;
  }
  closedir(d);
  return n;
}

}  // namespace

std::optional<ProcStat> ParseProcStat(absl::string_view text) {
  const size_t close = text.rfind(')');
  if (close == absl::string_view::npos) return std::nullopt;
  // Fields from the state (field 3 of proc(5)) on.
  std::vector<absl::string_view> f =
      absl::StrSplit(text.substr(close + 1), ' ', absl::SkipWhitespace());
  // utime is field 14, stime 15, starttime 22, vsize 23, rss 24.
  if (f.size() < 22) return std::nullopt;
  ProcStat s;
  if (!absl::SimpleAtoi(f[11], &s.utime_ticks) || !absl::SimpleAtoi(f[12], &s.stime_ticks) ||
      !absl::SimpleAtoi(f[19], &s.start_ticks) || !absl::SimpleAtoi(f[20], &s.vsize_bytes) ||
      !absl::SimpleAtoi(f[21], &s.rss_pages)) {
    return std::nullopt;
  }
  return s;
}

std::optional<int64_t> ParseBootTime(absl::string_view proc_stat) {
  for (absl::string_view line : absl::StrSplit(proc_stat, '\n')) {
    if (!absl::ConsumePrefix(&line, "btime ")) continue;
    int64_t t = 0;
    if (absl::SimpleAtoi(line, &t)) return t;
  }
  return std::nullopt;
}

std::vector<prometheus::MetricFamily> ProcessFamilies(const ProcessSample& sample,
                                                      int64_t ticks_per_second, int64_t page_size) {
  std::vector<prometheus::MetricFamily> out;
  if (sample.stat && ticks_per_second > 0) {
    const ProcStat& s = *sample.stat;
    auto cpu = CounterFamily("process_cpu_seconds_total", "User and system CPU time spent.");
    AddSample(cpu, static_cast<double>(s.utime_ticks + s.stime_ticks) / ticks_per_second);
    out.push_back(std::move(cpu));
    auto rss = GaugeFamily("process_resident_memory_bytes", "Resident memory size.");
    AddSample(rss, static_cast<double>(s.rss_pages) * page_size);
    out.push_back(std::move(rss));
    auto vsize = GaugeFamily("process_virtual_memory_bytes", "Virtual memory size.");
    AddSample(vsize, static_cast<double>(s.vsize_bytes));
    out.push_back(std::move(vsize));
    if (sample.boot_time_s) {
      auto start = GaugeFamily("process_start_time_seconds",
                               "Start time of the process since the Unix epoch.");
      AddSample(start, static_cast<double>(*sample.boot_time_s) +
                           static_cast<double>(s.start_ticks) / ticks_per_second);
      out.push_back(std::move(start));
    }
  }
  if (sample.open_fds) {
    auto fds = GaugeFamily("process_open_fds", "Open file descriptors.");
    AddSample(fds, static_cast<double>(*sample.open_fds));
    out.push_back(std::move(fds));
  }
  if (sample.max_fds) {
    auto max = GaugeFamily("process_max_fds", "The limit on open file descriptors.");
    AddSample(max, static_cast<double>(*sample.max_fds));
    out.push_back(std::move(max));
  }
  return out;
}

std::vector<prometheus::MetricFamily> ProcessCollector::Collect() const {
  ProcessSample sample;
  if (auto stat = ReadSmallFile(proc_root_ + "/self/stat")) sample.stat = ParseProcStat(*stat);
  if (auto stat = ReadSmallFile(proc_root_ + "/stat")) sample.boot_time_s = ParseBootTime(*stat);
  // Counts the descriptor that reads the directory too, as the Go client does.
  sample.open_fds = CountEntries(proc_root_ + "/self/fd");
  rlimit limit{};
  if (getrlimit(RLIMIT_NOFILE, &limit) == 0 && limit.rlim_cur != RLIM_INFINITY) {
    sample.max_fds = static_cast<int64_t>(limit.rlim_cur);
  }
  return ProcessFamilies(sample, sysconf(_SC_CLK_TCK), sysconf(_SC_PAGESIZE));
}

}  // namespace slotkeeper
