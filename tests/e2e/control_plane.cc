#include "tests/e2e/control_plane.h"

#include <signal.h>
#include <time.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"

namespace slotkeeper::testing {
namespace {

namespace fs = std::filesystem;

// The hook of every agent; DIR and SLOTFENCE are replaced when written.
constexpr char kHookScript[] = R"sh(#!/bin/sh
# The pre_promote, promote and demote hook of the agent of host $1 in the
# control-plane fault tests (tests/e2e/control_plane.h).
host="$1"
dir='DIR'
slot="$SLOTKEEPER_SLOT"
echo "$(date +%s.%N) $SLOTKEEPER_ACTION $host $SLOTKEEPER_STORE $slot $SLOTKEEPER_EPOCH" >> "$dir/hooks-$host.log"
pidfile="$dir/fence-$host-$slot.pid"
alive() {
  state=$(sed -n 's/.*) \(.\).*/\1/p' "/proc/$1/stat" 2>/dev/null)
  [ -n "$state" ] && [ "$state" != Z ]
}
stop_fence() {
  [ -s "$pidfile" ] || return 0
  pid=$(cat "$pidfile")
  kill -TERM "$pid" 2>/dev/null
  i=0
  while alive "$pid" && [ $i -lt 50 ]; do sleep 0.1; i=$((i+1)); done
  rm -f "$pidfile"
}
case "$SLOTKEEPER_ACTION" in
  pre_promote)
    if [ -e "$dir/hang-$host" ] || mv "$dir/hang-first" "$dir/hang-first.taken-$host" 2>/dev/null; then
      echo "pre_promote on $host hangs"
      sleep 600
    fi
    if [ -e "$dir/veto-$host" ] || mv "$dir/veto-first" "$dir/veto-first.taken-$host" 2>/dev/null; then
      echo "pre_promote on $host vetoes"
      exit 1
    fi
    ;;
  promote)
    stop_fence
    setsid sh -c 'echo $$ > "$1"; echo $$ >> "$2"; shift 2; exec "$@"' fence "$pidfile" "$dir/fences.pids" \
      'SLOTFENCE' --lease_file="$SLOTKEEPER_LEASE_FILE" --store="$SLOTKEEPER_STORE" \
      --epoch="$SLOTKEEPER_EPOCH" -- \
      /bin/sh "$dir/standin.sh" "$host" "$slot" "$SLOTKEEPER_STORE" "$SLOTKEEPER_EPOCH" \
      </dev/null >>"$dir/fence-$host-$slot.log" 2>&1 &
    ;;
  demote)
    stop_fence
    ;;
esac
exit 0
)sh";

// The stand-in mail server that slotfence runs.
constexpr char kStandInScript[] = R"sh(#!/bin/sh
# A stand-in mail server for host $1, slot $2 (store $3, epoch $4): logs its
# start and its stop (SIGTERM) and idles in between.
log="DIR/server-$1-$2.log"
echo "$(date +%s.%N) start $1 $2 $3 $4 $$" >> "$log"
trap 'echo "$(date +%s.%N) stop $1 $2 $3 $4 $$" >> "$log"; exit 0' TERM
while :; do sleep 0.1; done
)sh";

absl::Status WriteScript(const std::string& path, const std::string& text) {
  std::ofstream out(path);
  out << text;
  out.close();
  if (!out) return absl::InternalError(absl::StrCat("cannot write ", path));
  fs::permissions(path, fs::perms::owner_all | fs::perms::group_read | fs::perms::others_read);
  return absl::OkStatus();
}

std::vector<std::string> ReadLines(const std::string& path) {
  std::ifstream in(path);
  std::vector<std::string> lines;
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

// "<seconds>.<nanoseconds>" as `date +%s.%N` prints it.
bool ParseUnixNanos(absl::string_view text, absl::Time* out) {
  std::pair<absl::string_view, absl::string_view> parts = absl::StrSplit(text, '.');
  int64_t seconds = 0, nanos = 0;
  if (!absl::SimpleAtoi(parts.first, &seconds)) return false;
  if (!parts.second.empty() && !absl::SimpleAtoi(parts.second, &nanos)) return false;
  *out = absl::FromUnixSeconds(seconds) + absl::Nanoseconds(nanos);
  return true;
}

std::string ReadText(const std::string& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

bool IsSlotfence(pid_t pid) {
  return absl::StrContains(ReadText(absl::StrCat("/proc/", pid, "/cmdline")), "slotfence");
}

}  // namespace

MailScale ScaleFromEnv(MailScale test_default, ClusterOptions& options) {
  auto read = [](const char* name, int fallback) {
    const char* v = std::getenv(name);
    int n = 0;
    return v != nullptr && absl::SimpleAtoi(v, &n) && n > 0 ? n : fallback;
  };
  const MailScale scale = {read("SLOTKEEPER_FAULT_USERS", test_default.users),
                           read("SLOTKEEPER_FAULT_MESSAGES", test_default.messages)};
  if (scale.users != test_default.users || scale.messages != test_default.messages) {
    options.unit_bytes = 768ull << 20;  // the demo's (tests/e2e/demo.cc)
    options.slot_capacity_bytes = 160ull << 20;
  }
  return scale;
}

std::vector<std::string> ShortCoordinatorFlags() {
  return {"--heartbeat=500ms",           "--lease=4s",
          "--suspect_after=3s",          "--down_after=6s",
          "--failover_grace=3s",         "--failover_grace_hard=2s",
          "--replace_after=10m",         "--task_retry_backoff=1s",
          "--failover_store_cooldown=1s"};
}

ClusterOptions ControlPlaneOptions(const std::string& name) {
  ClusterOptions options;
  options.root = absl::StrCat(std::getenv("TEST_TMPDIR"), "/", name);
  options.verbose = true;
  options.coordinator_flags = ShortCoordinatorFlags();
  options.agent_config_extra = kFailsafeConfig;
  return options;
}

ClusterOptions SlowCopyOptions(const std::string& name) {
  ClusterOptions options;
  options.root = absl::StrCat(std::getenv("TEST_TMPDIR"), "/", name);
  options.verbose = true;
  options.coordinator_flags = {
      "--heartbeat=500ms",   "--suspect_after=3s",      "--down_after=10s",
      "--lease=4s",          "--failover_grace=60s",    "--failover_grace_hard=3s",
      "--replace_after=10m", "--task_retry_backoff=2s",
  };
  options.agent_flags = {"--sync_bandwidth_bytes_per_second=2500000"};
  return options;
}

absl::StatusOr<std::unique_ptr<Cluster>> StartCluster(const ClusterOptions& options,
                                                      bool need_loop_mounts) {
  absl::StatusOr<std::unique_ptr<Cluster>> cluster = Cluster::Create(options);
  if (!cluster.ok()) return cluster.status();
  if (need_loop_mounts && !(*cluster)->loop_mounted()) {
    return absl::FailedPreconditionError("the units are not loop-mounted: the test needs them");
  }
  if (absl::Status s = (*cluster)->StartCoordinator(); !s.ok()) return s;
  if (absl::Status s = (*cluster)->StartAllAgents(); !s.ok()) return s;
  return cluster;
}

absl::StatusOr<HookedCluster> StartHookedCluster(ClusterOptions& options,
                                                 absl::Duration hook_timeout) {
  HookedCluster out;
  absl::StatusOr<std::unique_ptr<HookRecorder>> hooks =
      HookRecorder::Install(options, hook_timeout);
  if (!hooks.ok()) return hooks.status();
  out.hooks = *std::move(hooks);
  absl::StatusOr<std::unique_ptr<Cluster>> cluster = StartCluster(options);
  if (!cluster.ok()) return cluster.status();
  out.cluster = *std::move(cluster);
  return out;
}

absl::StatusOr<std::unique_ptr<HookRecorder>> HookRecorder::Install(ClusterOptions& options,
                                                                    absl::Duration hook_timeout) {
  const std::string dir = options.root + "/hooks";
  std::error_code ec;
  fs::remove_all(dir, ec);
  fs::create_directories(dir, ec);
  if (ec) return absl::InternalError(absl::StrCat("mkdir ", dir, ": ", ec.message()));
  const std::string hook = absl::StrReplaceAll(
      kHookScript, {{"DIR", dir}, {"SLOTFENCE", Runfile("tools/slotfence/slotfence")}});
  if (absl::Status s = WriteScript(dir + "/hook.sh", hook); !s.ok()) return s;
  if (absl::Status s =
          WriteScript(dir + "/standin.sh", absl::StrReplaceAll(kStandInScript, {{"DIR", dir}}));
      !s.ok()) {
    return s;
  }
  for (const std::string& host : options.hosts) {
    const std::string command = absl::StrCat("/bin/sh ", dir, "/hook.sh ", host);
    std::string& extra = options.host_config_extra[host];
    absl::StrAppend(&extra, extra.empty() ? "" : "\n", "hooks { pre_promote: \"", command,
                    "\" promote: \"", command, "\" demote: \"", command,
                    "\" timeout_ms: ", absl::ToInt64Milliseconds(hook_timeout), " }");
  }
  return std::unique_ptr<HookRecorder>(new HookRecorder(dir));
}

HookRecorder::~HookRecorder() {
  for (const std::string& line : ReadLines(dir_ + "/fences.pids")) {
    pid_t pid = 0;
    if (!absl::SimpleAtoi(line, &pid) || pid <= 1) continue;
    if (ProcessAlive(pid) && IsSlotfence(pid)) ::kill(pid, SIGKILL);  // its server dies with it
  }
}

void HookRecorder::SetFlag(const std::string& name, bool on) {
  const std::string path = dir_ + "/" + name;
  if (on) {
    std::ofstream(path) << "set by the test\n";
  } else {
    std::error_code ec;
    fs::remove(path, ec);
  }
}

std::vector<HookRun> HookRecorder::Runs(const std::string& host) const {
  std::vector<HookRun> runs;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(dir_, ec)) {
    const std::string name = entry.path().filename().string();
    if (!absl::StartsWith(name, "hooks-") || !absl::EndsWith(name, ".log")) continue;
    if (!host.empty() && name != absl::StrCat("hooks-", host, ".log")) continue;
    for (const std::string& line : ReadLines(entry.path().string())) {
      std::vector<std::string> f = absl::StrSplit(line, ' ');
      if (f.size() != 6) continue;
      HookRun r;
      if (!ParseUnixNanos(f[0], &r.time) || !absl::SimpleAtoi(f[5], &r.epoch)) continue;
      r.action = f[1];
      r.host = f[2];
      r.store = f[3];
      r.slot = f[4];
      runs.push_back(r);
    }
  }
  std::stable_sort(runs.begin(), runs.end(),
                   [](const HookRun& a, const HookRun& b) { return a.time < b.time; });
  return runs;
}

std::vector<HookRun> HookRecorder::RunsSince(absl::Time since, const std::string& action,
                                             const std::string& host) const {
  std::vector<HookRun> out;
  for (const HookRun& r : Runs(host)) {
    if (r.time >= since && (action.empty() || r.action == action)) out.push_back(r);
  }
  return out;
}

std::vector<ServerEvent> HookRecorder::ServerEvents(const std::string& host,
                                                    const std::string& slot) const {
  std::vector<ServerEvent> events;
  for (const std::string& line :
       ReadLines(absl::StrCat(dir_, "/server-", host, "-", slot, ".log"))) {
    std::vector<std::string> f = absl::StrSplit(line, ' ');
    if (f.size() != 7) continue;
    ServerEvent e;
    if (!ParseUnixNanos(f[0], &e.time) || !absl::SimpleAtoi(f[5], &e.epoch) ||
        !absl::SimpleAtoi(f[6], &e.pid)) {
      continue;
    }
    e.start = f[1] == "start";
    e.host = f[2];
    e.slot = f[3];
    e.store = f[4];
    events.push_back(e);
  }
  return events;
}

std::optional<ServerEvent> HookRecorder::RunningServer(const std::string& host,
                                                       const std::string& slot) const {
  std::vector<ServerEvent> events = ServerEvents(host, slot);
  for (auto it = events.rbegin(); it != events.rend(); ++it) {
    if (!it->start) continue;
    const pid_t pid = it->pid;
    const bool stopped = std::any_of(events.begin(), events.end(), [pid](const ServerEvent& e) {
      return !e.start && e.pid == pid;
    });
    if (!stopped && ProcessAlive(pid)) return *it;
    return std::nullopt;
  }
  return std::nullopt;
}

absl::StatusOr<ServerEvent> HookRecorder::WaitForServer(const std::string& host,
                                                        const std::string& slot,
                                                        absl::Duration timeout) const {
  const absl::Time deadline = absl::Now() + timeout;
  do {
    if (std::optional<ServerEvent> e = RunningServer(host, slot)) return *e;
    absl::SleepFor(absl::Milliseconds(50));
  } while (absl::Now() < deadline);
  return absl::DeadlineExceededError(absl::StrCat(
      "no stand-in server running for ", host, "/", slot, " after ", absl::FormatDuration(timeout),
      "; fence log:\n", ReadText(absl::StrCat(dir_, "/fence-", host, "-", slot, ".log"))));
}

absl::StatusOr<ServerEvent> HookRecorder::WaitForServerStop(const std::string& host,
                                                            const std::string& slot, pid_t pid,
                                                            absl::Duration timeout) const {
  const absl::Time deadline = absl::Now() + timeout;
  do {
    for (const ServerEvent& e : ServerEvents(host, slot)) {
      if (!e.start && e.pid == pid) return e;
    }
    absl::SleepFor(absl::Milliseconds(50));
  } while (absl::Now() < deadline);
  return absl::DeadlineExceededError(absl::StrCat("the stand-in server ", pid, " of ", host, "/",
                                                  slot, " did not log its stop within ",
                                                  absl::FormatDuration(timeout)));
}

bool ProcessAlive(pid_t pid) {
  if (pid <= 0 || ::kill(pid, 0) != 0) return false;
  // "PID (COMM) STATE ...": a zombie has exited.
  const std::string stat = ReadText(absl::StrCat("/proc/", pid, "/stat"));
  const size_t paren = stat.rfind(')');
  return paren != std::string::npos && paren + 2 < stat.size() && stat[paren + 2] != 'Z';
}

std::vector<LogLine> AgentLogLines(const Cluster& cluster, const std::string& host,
                                   const std::string& needle) {
  std::vector<std::string> logs;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(cluster.HostDir(host), ec)) {
    const std::string name = entry.path().filename().string();
    if (absl::StartsWith(name, "replicatord.") && absl::EndsWith(name, ".log")) {
      logs.push_back(entry.path().string());
    }
  }
  std::sort(logs.begin(), logs.end());
  std::vector<LogLine> out;
  for (const std::string& log : logs) {
    for (const std::string& line : ReadLines(log)) {
      if (!absl::StrContains(line, needle)) continue;
      LogLine l;
      std::string err;
      if (!absl::ParseTime("%Y-%m-%dT%H:%M:%E*SZ", line.substr(0, line.find(' ')), &l.time, &err)) {
        continue;
      }
      l.text = line;
      out.push_back(l);
    }
  }
  return out;
}

std::string LeaseFileOf(const Cluster& cluster, const std::string& host, const std::string& slot) {
  return absl::StrCat(cluster.HostDir(host), "/data/leases/", slot, ".lease");
}

absl::StatusOr<absl::Time> LeaseDeadline(const std::string& lease_file) {
  const std::string text = ReadText(lease_file);
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    if (!absl::ConsumePrefix(&line, "serving_until_ns ")) continue;
    int64_t ns = 0;
    if (!absl::SimpleAtoi(line, &ns)) break;
    timespec mono, real;
    clock_gettime(CLOCK_MONOTONIC, &mono);
    clock_gettime(CLOCK_REALTIME, &real);
    return absl::TimeFromTimespec(real) +
           (absl::Nanoseconds(ns) - absl::DurationFromTimespec(mono));
  }
  return absl::NotFoundError(absl::StrCat("no serving_until_ns in ", lease_file, ": ", text));
}

std::vector<std::string> DeliveryLoop(const std::string& slot, const std::string& stop_file,
                                      int first_seed, const std::string& new_pct,
                                      const std::string& pause) {
  const std::string mailgen = Runfile("tools/mailgen/mailgen");
  return {"/bin/sh", "-c",
          absl::StrCat("i=", first_seed, "; while [ ! -e '", stop_file, "' ]; do '", mailgen,
                       "' --slot='", slot, "' --mutate --seed=$i --new_pct=", new_pct,
                       " --flag_pct=5 --delete_pct=0 --move_pct=0 --folder_move_pct=0 || exit 1; "
                       "i=$((i+1)); sleep ",
                       pause, "; done")};
}

absl::Status Delivery::Start(Cluster& cluster, const std::string& root, const std::string& host,
                             const std::string& slot, int first_seed, const std::string& new_pct,
                             const std::string& pause) {
  stop_file_ = absl::StrCat(root, "/stop-delivery-", host, "-", slot, "-", first_seed);
  return process_.Start(
      DeliveryLoop(cluster.SlotPath(host, slot), stop_file_, first_seed, new_pct, pause),
      absl::StrCat(root, "/delivery-", host, "-", slot, "-", first_seed, ".log"));
}

absl::Status Delivery::Stop() {
  if (!process_.running()) return absl::OkStatus();
  std::ofstream(stop_file_) << "stop\n";
  absl::StatusOr<int> code = process_.Wait(absl::Seconds(60));
  if (!code.ok()) return code.status();
  if (*code != 0) {
    return absl::InternalError(
        absl::StrCat("the delivery loop failed (exit ", *code, "): ", process_.ReadLog()));
  }
  return absl::OkStatus();
}

Delivery::~Delivery() {
  if (process_.running()) process_.Kill();
}

absl::StatusOr<ServedStore> CreateServedStore(Cluster& cluster, const HookRecorder& hooks,
                                              MailScale scale) {
  ServedStore out;
  absl::StatusOr<std::map<std::string, SlotContent>> reference =
      cluster.CreateStores({{"st1", "imap1", "du1s1"}}, scale.users, scale.messages);
  if (!reference.ok()) return reference.status();
  out.reference = *std::move(reference);
  absl::StatusOr<v1::StoreInfo> before = cluster.Store("st1");
  if (!before.ok()) return before.status();
  out.before = *std::move(before);
  absl::StatusOr<ServerEvent> server = hooks.WaitForServer("imap1", "du1s1", absl::Seconds(10));
  if (!server.ok()) return server.status();
  out.server = *server;
  absl::StatusOr<SlotContent> acknowledged = DeliverAndReplicate(cluster, "st1", "imap1/du1s1");
  if (!acknowledged.ok()) return acknowledged.status();
  out.acknowledged = *std::move(acknowledged);
  // The master learns its store's other copies (its failsafe witnesses)
  // from lease renewals that follow the replicas' assignment; with push the
  // mail above is replicated within milliseconds, so wait until the master
  // has served a whole lease: every fault after this finds it with its
  // witnesses.
  const absl::Time settled = out.server.time + kLease;
  if (absl::Now() < settled) absl::SleepFor(settled - absl::Now());
  return out;
}

absl::StatusOr<SlotContent> DeliverAndReplicate(Cluster& cluster, const std::string& store,
                                                const std::string& master) {
  if (absl::Status s =
          cluster.MutateMail(HostOf(master), SlotOf(master), 100, {"--new_pct=3", "--flag_pct=5"});
      !s.ok()) {
    return s;
  }
  return WaitForCopiesToMatchMaster(cluster, store, absl::Seconds(30));
}

absl::Status DeliverMailTo(Cluster& cluster, const std::string& host_slot, uint64_t first_seed) {
  for (uint64_t seed = first_seed; seed < first_seed + 2; ++seed) {
    if (absl::Status s = cluster.MutateMail(HostOf(host_slot), SlotOf(host_slot), seed,
                                            {"--new_pct=3", "--flag_pct=5", "--delete_pct=0"});
        !s.ok()) {
      return s;
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<v1::StoreInfo> WaitForNewServingMaster(Cluster& cluster, const HookRecorder& hooks,
                                                      const std::string& store, uint64_t epoch,
                                                      const std::string& old_master,
                                                      absl::Duration timeout) {
  absl::StatusOr<v1::StoreInfo> after =
      WaitForNewMaster(cluster, store, epoch, old_master, timeout);
  if (!after.ok()) return after;
  const std::string new_master = MasterOf(*after);
  absl::StatusOr<ServerEvent> server =
      hooks.WaitForServer(HostOf(new_master), SlotOf(new_master), absl::Seconds(10));
  if (!server.ok()) return server.status();
  return after;
}

absl::StatusOr<SlotContent> WaitForRejoinedReplica(Cluster& cluster, const std::string& store,
                                                   const std::string& host_slot) {
  absl::Status back = cluster.WaitForStore(
      store,
      [&](const v1::StoreInfo& s) {
        const v1::Copy* copy = CopyAt(s, host_slot);
        return copy != nullptr && copy->role() == v1::SLOT_REPLICA && copy->usable();
      },
      absl::Seconds(30), absl::StrCat(host_slot, " back as a usable replica"));
  if (!back.ok()) return back;
  return WaitForCopiesToMatchMaster(cluster, store, absl::Seconds(60));
}

}  // namespace slotkeeper::testing
