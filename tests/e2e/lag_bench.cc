// Replication lag under delivery load, end to end: a coordinator and four
// agents on loopback (loop-mounted ext4 units, mutual TLS), 8 stores of
// 3 copies (a master and 2 replicas), and for each agent configuration
// (mode) and delivery rate, `mailgen --deliver` into the 8 master slots for
// the duration. For every delivered message and every replica it measures
// the time from the message's arrival in the master's new/ (mailgen's log)
// to its first appearance, under any name with the same Maildir key, in the
// replica's INBOX (inotify, replica_watcher.h), then scans the replicas for
// anything the events missed. Every (mode, rate) runs on a fresh cluster.
//
//   bazel build //tests/e2e:lag_bench
//   (cd bazel-bin/tests/e2e/lag_bench.runfiles/slotkeeper &&
//    ../../lag_bench --rates=10,50,200 --duration=5m --modes=poll,push)
//   tools/dev bench lag [FLAGS]        the same, full matrix by default
//
// Prints a Markdown table (lag p50/p99/max, messages never seen on a
// replica, CPU of slotmgrd and each agent over the run) and writes the
// report as JSON (lag_report.proto). Needs root (loop mounts). A benchmark:
// it asserts nothing about time; it exits 1 when a message never reached a
// replica or a run failed.
#include <sys/statvfs.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>

#include "absl/flags/flag.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "base/command_line.h"
#include "google/protobuf/util/json_util.h"
#include "tests/e2e/cluster.h"
#include "tests/e2e/lag_measure.h"
#include "tests/e2e/replica_watcher.h"

ABSL_FLAG(std::string, rates, "10,50,200", "delivery rates to run, messages per second in all");
ABSL_FLAG(absl::Duration, duration, absl::Minutes(5), "deliveries per (mode, rate)");
ABSL_FLAG(std::string, modes, "poll,push",
          "agent configurations to compare, by name (built in: poll, push, default)");
ABSL_FLAG(std::string, mode_config, "",
          "\"NAME=CONFIG;NAME=CONFIG\": the text-format lines a mode appends to every agent's "
          "config (adds a mode or replaces a built-in one)");
ABSL_FLAG(int, stores, 8, "stores (1 to 8), each a master and 2 replicas");
ABSL_FLAG(int, users, 10, "users per store");
ABSL_FLAG(int, messages, 100, "messages per store before the deliveries");
ABSL_FLAG(double, flag_rate, 0, "new/ -> cur/ flag changes per second during the deliveries");
ABSL_FLAG(absl::Duration, grace, absl::Seconds(60),
          "after the deliveries, how long to wait for every message on every replica");
ABSL_FLAG(uint64_t, seed, 1, "mailgen's seed");
ABSL_FLAG(std::string, json, "/tmp/slotkeeper-lag-bench.json", "where the JSON report goes");
ABSL_FLAG(std::string, dir, "",
          "working directory (default: a new one under /tmp); each run's cluster is removed");
ABSL_FLAG(bool, verbose, false, "the cluster's progress lines on stderr");

namespace slotkeeper::testing {
namespace {

namespace fs = std::filesystem;

constexpr int kReplicas = 2;
// Mean message size of mailgen's size model is about 50 KB; the units are
// sized for twice that, so that the tail cannot fill a slot.
constexpr double kBytesPerMessage = 100e3;

struct BenchConfig {
  absl::Duration duration;
  int stores = 8;
  int users = 10;
  int messages = 100;
  double flag_rate = 0;
  absl::Duration grace;
  uint64_t seed = 1;
  bool verbose = false;
};

// A store's master and its replicas, as slot directories.
struct Layout {
  std::vector<Cluster::StoreLayout> stores;
  std::map<std::string, std::vector<std::string>> replicas;  // master dir -> replica dirs
  std::vector<std::string> masters;
  std::vector<std::string> replica_dirs;
};

absl::StatusOr<uint64_t> CpuTicks(pid_t pid) {
  std::ifstream in(absl::StrCat("/proc/", pid, "/stat"));
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (text.empty()) return absl::NotFoundError(absl::StrCat("no /proc/", pid, "/stat"));
  return CpuTicksFromProcStat(text);
}

// Ticks of slotmgrd and of each agent, by name.
absl::StatusOr<std::map<std::string, uint64_t>> CpuOfCluster(
    Cluster& c, const std::vector<std::string>& hosts) {
  std::map<std::string, uint64_t> ticks;
  auto coordinator = CpuTicks(c.coordinator().pid());
  if (!coordinator.ok()) return coordinator.status();
  ticks["slotmgrd"] = *coordinator;
  for (const std::string& host : hosts) {
    auto agent = CpuTicks(c.agent(host)->pid());
    if (!agent.ok()) return agent.status();
    ticks[host] = *agent;
  }
  return ticks;
}

void FillCpu(const std::map<std::string, uint64_t>& before,
             const std::map<std::string, uint64_t>& after, bench::LagRun* run) {
  const double tick = 1.0 / static_cast<double>(sysconf(_SC_CLK_TCK));
  double total = 0;
  for (const auto& [name, ticks] : after) {
    const double secs = static_cast<double>(ticks - before.at(name)) * tick;
    total += secs;
    bench::ProcessCpu* p = name == "slotmgrd" ? run->mutable_coordinator() : run->add_agents();
    p->set_name(name);
    p->set_cpu_seconds(secs);
  }
  run->set_cpu_ms_per_message(run->delivered() > 0 ? total * 1e3 / run->delivered() : 0);
}

// The cluster's slots for `rate`: room for the run's mail on every copy.
ClusterOptions OptionsFor(const BenchConfig& cfg, const LagMode& mode, double rate,
                          const std::string& root) {
  ClusterOptions o;
  o.root = root;
  o.slots_per_unit = 4;  // 32 slots for 24 copies: room for the placement to choose
  const double per_store = rate * absl::ToDoubleSeconds(cfg.duration) / cfg.stores + cfg.messages;
  // Whole MiB: a loop device takes whole 512-byte sectors.
  o.slot_capacity_bytes = ((static_cast<uint64_t>(per_store * kBytesPerMessage) >> 20) + 64) << 20;
  o.unit_bytes = std::max<uint64_t>(256ull << 20, o.slot_capacity_bytes * o.slots_per_unit);
  o.agent_config_extra = mode.agent_config_extra;
  o.verbose = cfg.verbose;
  return o;
}

// Refuses a run whose mail (about half the slots' capacity on every copy)
// would not fit on the disk under `root` with 2 GB to spare.
absl::Status CheckDiskSpace(const ClusterOptions& o, int stores, const std::string& root) {
  struct statvfs st;
  if (statvfs(fs::path(root).parent_path().c_str(), &st) != 0) return absl::OkStatus();
  const double free_bytes = static_cast<double>(st.f_bavail) * st.f_frsize;
  const double need = stores * (1 + kReplicas) * o.slot_capacity_bytes / 2.0 + 2e9;
  if (free_bytes < need) {
    return absl::ResourceExhaustedError(
        absl::StrFormat("this run needs about %.1f GB free under %s, there are %.1f GB (a lower "
                        "rate or a shorter duration needs less)",
                        need / 1e9, root, free_bytes / 1e9));
  }
  return absl::OkStatus();
}

absl::StatusOr<Layout> CreateStores(Cluster& c, const BenchConfig& cfg,
                                    const std::vector<std::string>& hosts) {
  Layout layout;
  for (int i = 0; i < cfg.stores; ++i) {
    const int unit = (i / static_cast<int>(hosts.size())) % 2 + 1;
    layout.stores.push_back(
        {absl::StrCat("st", i + 1), hosts[i % hosts.size()], absl::StrCat("du", unit, "s1")});
  }
  auto snapshot =
      c.CreateStores(layout.stores, cfg.users, cfg.messages, 1 + kReplicas, absl::Minutes(10));
  if (!snapshot.ok()) return snapshot.status();
  // Fully replicated: no task left, and every copy holds every message.
  absl::Status st = WaitForFullRecovery(
      c, [](const v1::StoreInfo&) { return false; }, absl::Minutes(5), "no replication task");
  if (!st.ok()) return st;
  std::vector<std::string> problems;
  for (absl::Time end = absl::Now() + absl::Minutes(2); absl::Now() < end;) {
    problems = CheckNoMessageLost(c, *snapshot);
    if (problems.empty()) break;
    absl::SleepFor(absl::Seconds(1));
  }
  if (!problems.empty()) {
    return absl::DeadlineExceededError(
        absl::StrCat("the stores' copies never all held the initial mail: ", problems[0]));
  }
  auto stores = c.Stores();
  if (!stores.ok()) return stores.status();
  for (const v1::StoreInfo& s : *stores) {
    std::string master;
    std::vector<std::string> replicas;
    for (const auto& copy : s.copies()) {
      const std::string dir = c.SlotPath(copy.slot().host(), copy.slot().slot());
      if (copy.role() == v1::SLOT_MASTER) master = dir;
      if (copy.role() == v1::SLOT_REPLICA) replicas.push_back(dir);
    }
    if (master.empty() || replicas.size() != kReplicas) {
      return absl::FailedPreconditionError(absl::StrCat("store ", s.name(),
                                                        " has not one master and ", kReplicas,
                                                        " replicas: ", s.ShortDebugString()));
    }
    layout.masters.push_back(master);
    layout.replica_dirs.insert(layout.replica_dirs.end(), replicas.begin(), replicas.end());
    layout.replicas[master] = std::move(replicas);
  }
  return layout;
}

// Runs mailgen --deliver into the masters; returns its output.
absl::StatusOr<std::string> Deliver(const BenchConfig& cfg, const Layout& layout, double rate,
                                    const std::string& log) {
  std::vector<std::string> argv = {Runfile("tools/mailgen/mailgen"),
                                   "--deliver",
                                   "--slot=" + absl::StrJoin(layout.masters, ","),
                                   absl::StrCat("--rate=", rate),
                                   "--duration=" + absl::FormatDuration(cfg.duration),
                                   absl::StrCat("--seed=", cfg.seed),
                                   absl::StrCat("--flag_rate=", cfg.flag_rate),
                                   "--log=" + log};
  std::string out;
  auto code = RunCommand(argv, &out, cfg.duration + absl::Minutes(10));
  if (!code.ok()) return code.status();
  if (*code != 0) return absl::InternalError(absl::StrCat("mailgen --deliver failed: ", out));
  return out;
}

// The expected sightings of `deliveries` (every replica of each).
std::vector<std::string> ExpectedSightings(const std::vector<Delivery>& deliveries,
                                           const Layout& layout) {
  std::vector<std::string> keys;
  for (const Delivery& d : deliveries) {
    auto it = layout.replicas.find(d.master_slot);
    if (it == layout.replicas.end()) continue;  // ComputeLags reports it
    for (const std::string& r : it->second) keys.push_back(SightingKey(r, d.user, d.key));
  }
  return keys;
}

// Delivers, waits for the replicas, and measures; `run` has mode and rate.
absl::Status Measure(Cluster& c, const BenchConfig& cfg, const Layout& layout,
                     const std::vector<std::string>& hosts, const std::string& root,
                     bench::LagRun* run) {
  auto watcher = ReplicaWatcher::Start(layout.replica_dirs);
  if (!watcher.ok()) return watcher.status();
  auto cpu_before = CpuOfCluster(c, hosts);
  if (!cpu_before.ok()) return cpu_before.status();
  const absl::Time start = absl::Now();
  const std::string log = root + "/deliveries.log";
  auto mailgen = Deliver(cfg, layout, run->rate(), log);
  if (!mailgen.ok()) return mailgen.status();
  std::ifstream in(log);
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  auto deliveries = ParseDeliveryLog(text);
  if (!deliveries.ok()) return deliveries.status();
  const std::vector<std::string> expected = ExpectedSightings(*deliveries, layout);
  const absl::Time deadline = absl::Now() + cfg.grace;
  while (!(*watcher)->AllSeen(expected) && absl::Now() < deadline) {
    absl::SleepFor(absl::Milliseconds(100));
  }
  auto cpu_after = CpuOfCluster(c, hosts);
  if (!cpu_after.ok()) return cpu_after.status();
  run->set_window_seconds(absl::ToDoubleSeconds(absl::Now() - start));
  const auto scanned = ScanReplicaSlots(layout.replica_dirs);
  if (absl::Status st =
          ComputeLags(*deliveries, layout.replicas, (*watcher)->FirstSeen(), scanned, run);
      !st.ok()) {
    return st;
  }
  run->set_inotify_overflow((*watcher)->overflowed());
  FillCpu(*cpu_before, *cpu_after, run);
  run->set_mailgen_summary(*mailgen);
  run->set_mailgen_lateness_p99_ms(MailgenLatenessP99Ms(*mailgen));
  return absl::OkStatus();
}

// One (mode, rate) on a fresh cluster under `root`, removed afterwards.
bench::LagRun RunOne(const BenchConfig& cfg, const LagMode& mode, double rate,
                     const std::string& root, bool* loop_mounted) {
  bench::LagRun run;
  run.set_mode(mode.name);
  run.set_agent_config_extra(mode.agent_config_extra);
  run.set_rate(rate);
  run.set_duration_seconds(absl::ToDoubleSeconds(cfg.duration));
  run.set_stores(cfg.stores);
  run.set_replicas_per_store(kReplicas);
  const ClusterOptions options = OptionsFor(cfg, mode, rate, root);
  absl::Status st = CheckDiskSpace(options, cfg.stores, root);
  if (st.ok()) {
    auto created = Cluster::Create(options);
    st = created.status();
    if (st.ok()) {
      Cluster& c = **created;
      *loop_mounted = c.loop_mounted();
      st = c.StartCoordinator();
      if (st.ok()) st = c.StartAllAgents();
      absl::StatusOr<Layout> layout = st.ok() ? CreateStores(c, cfg, options.hosts) : st;
      st = layout.status();
      if (st.ok()) st = Measure(c, cfg, *layout, options.hosts, root, &run);
    }
  }
  if (!st.ok()) run.set_error(st.ToString());
  std::error_code ec;
  fs::remove_all(root, ec);
  return run;
}

absl::Status WriteJson(const bench::LagReport& report, const std::string& path) {
  google::protobuf::util::JsonPrintOptions json;
  json.add_whitespace = true;
  json.always_print_primitive_fields = true;
  json.preserve_proto_field_names = true;
  std::string text;
  if (!google::protobuf::util::MessageToJsonString(report, &text, json).ok()) {
    return absl::InternalError("cannot convert the report to JSON");
  }
  std::ofstream out(path);
  out << text;
  out.close();
  if (!out) return absl::InternalError("cannot write " + path);
  return absl::OkStatus();
}

}  // namespace
}  // namespace slotkeeper::testing

namespace slotkeeper::testing {
namespace {

int Fail(const std::string& message) {
  std::fprintf(stderr, "lag_bench: %s\n", message.c_str());
  return 2;
}

// Every (mode, rate); the report is rewritten after each run, so that an
// interrupted matrix keeps what it measured.
int RunMatrix(const BenchConfig& cfg, const std::vector<LagMode>& modes,
              const std::vector<double>& rates, const std::string& dir, bench::LagReport* report) {
  const std::string json = absl::GetFlag(FLAGS_json);
  bool failed = false;
  for (const LagMode& mode : modes) {
    for (double rate : rates) {
      std::fprintf(stderr, "lag_bench: %s at %g/s for %s ...\n", mode.name.c_str(), rate,
                   absl::FormatDuration(cfg.duration).c_str());
      bool loop_mounted = false;
      const std::string root = absl::StrCat(dir, "/", mode.name, "-", rate);
      bench::LagRun run = RunOne(cfg, mode, rate, root, &loop_mounted);
      report->set_loop_mounted(loop_mounted);
      if (!run.error().empty()) {
        std::fprintf(stderr, "lag_bench: !!! %s at %g/s FAILED: %s\n", mode.name.c_str(), rate,
                     run.error().c_str());
        failed = true;
      } else {
        std::fprintf(stderr,
                     "lag_bench: %s at %g/s: %llu delivered, lag p50 %.0f ms, p99 %.0f ms, max "
                     "%.0f ms, %llu never seen\n",
                     mode.name.c_str(), rate, static_cast<unsigned long long>(run.delivered()),
                     run.lag_p50_ms(), run.lag_p99_ms(), run.lag_max_ms(),
                     static_cast<unsigned long long>(run.never_seen()));
        failed = failed || run.never_seen() > 0 || run.delivered() == 0;
      }
      *report->add_runs() = std::move(run);
      if (absl::Status st = WriteJson(*report, json); !st.ok()) return Fail(st.ToString());
    }
  }
  std::printf("%s\nJSON report: %s\n", FormatLagTable(*report).c_str(), json.c_str());
  return failed ? 1 : 0;
}

int Main(int argc, char** argv) {
  slotkeeper::ParseCommandLineOrExit(
      argc, argv, "lag_bench",
      "Usage: lag_bench [--rates 10,50,200] [--duration 5m] [--modes poll,push]\n"
      "                 [--mode_config 'NAME=CONFIG;...'] [--json FILE]\n"
      "Replication lag of delivered mail on every replica, per agent configuration and rate,\n"
      "on a cluster of real processes with loop-mounted units (needs root).");
  auto modes = ParseLagModes(absl::GetFlag(FLAGS_modes), absl::GetFlag(FLAGS_mode_config));
  if (!modes.ok()) return Fail(std::string(modes.status().message()));
  auto rates = ParseRates(absl::GetFlag(FLAGS_rates));
  if (!rates.ok()) return Fail(std::string(rates.status().message()));
  BenchConfig cfg;
  cfg.duration = absl::GetFlag(FLAGS_duration);
  cfg.stores = absl::GetFlag(FLAGS_stores);
  cfg.users = absl::GetFlag(FLAGS_users);
  cfg.messages = absl::GetFlag(FLAGS_messages);
  cfg.flag_rate = absl::GetFlag(FLAGS_flag_rate);
  cfg.grace = absl::GetFlag(FLAGS_grace);
  cfg.seed = absl::GetFlag(FLAGS_seed);
  cfg.verbose = absl::GetFlag(FLAGS_verbose);
  if (cfg.duration <= absl::ZeroDuration()) return Fail("--duration must be more than 0");
  if (cfg.grace <= absl::ZeroDuration()) return Fail("--grace must be more than 0");
  if (cfg.stores < 1 || cfg.stores > 8) return Fail("--stores must be 1 to 8");
  if (cfg.users < 1 || cfg.users > 10000) return Fail("--users must be 1 to 10000");
  if (cfg.messages < 0 || cfg.messages > 1000000) return Fail("--messages must be 0 to 1000000");
  if (!(cfg.flag_rate >= 0) || cfg.flag_rate > 100000) return Fail("--flag_rate must be >= 0");
  if (absl::Status can = CanLoopMount(); !can.ok()) {
    return Fail(absl::StrCat("needs loop mounts (root): ", can.ToString()));
  }
  std::string dir = absl::GetFlag(FLAGS_dir);
  char tmpl[] = "/tmp/slotkeeper-lag.XXXXXX";
  if (dir.empty()) {
    if (mkdtemp(tmpl) == nullptr) return Fail("cannot create a directory under /tmp");
    dir = tmpl;
  } else if (std::error_code ec; !fs::create_directories(dir, ec) && ec) {
    return Fail(absl::StrCat("--dir ", dir, ": ", ec.message()));
  }
  bench::LagReport report;
  report.set_command(absl::StrJoin(argv, argv + argc, " "));
  report.set_started(absl::FormatTime(absl::RFC3339_sec, absl::Now(), absl::UTCTimeZone()));
  report.set_users_per_store(cfg.users);
  report.set_initial_messages_per_store(cfg.messages);
  report.set_flag_rate(cfg.flag_rate);
  report.set_tls(true);
  const int code = RunMatrix(cfg, *modes, *rates, dir, &report);
  std::error_code ec;
  if (absl::GetFlag(FLAGS_dir).empty()) fs::remove_all(dir, ec);
  return code;
}

}  // namespace
}  // namespace slotkeeper::testing

int main(int argc, char** argv) { return slotkeeper::testing::Main(argc, argv); }
