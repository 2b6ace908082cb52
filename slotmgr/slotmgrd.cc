// slotmgrd: the Slotkeeper coordinator.
//
//   slotmgrd --listen=127.0.0.1:7300 --data_dir=/var/lib/slotmgrd
//
//   slotmgrd --listen=0.0.0.0:7300 --data_dir=/var/lib/slotmgrd \
//     --tls_ca=/etc/slotkeeper/ca.pem --tls_cert=/etc/slotkeeper/slotmgr.pem \
//     --tls_key=/etc/slotkeeper/slotmgr.key
//
// Transport security is chosen by flags (base/tls_flags.h): mutual TLS from
// files, or --insecure_loopback_only; neither, and it refuses to start.
// Prints "slotmgrd http on HOST:PORT" (with --http_address), then
// "slotmgrd listening on HOST:PORT" once serving (tests start it with
// --listen=127.0.0.1:0 and read the ports from there). SIGTERM or SIGINT stop
// it cleanly; every decision is already on disk, so SIGKILL loses nothing.
// SIGHUP re-reads the TLS files for the connections it opens (its server
// re-reads them every --tls_refresh) and is never fatal; SIGPIPE is ignored.
//
// Under systemd (Type=notify; base/service_notify.h) it sends READY=1 once
// its state is loaded and the gRPC server listens, WATCHDOG=1 from the ticker
// when the unit has WatchdogSec=, and STOPPING=1 on shutdown.
#include <algorithm>
#include <csignal>
#include <cstdio>
#include <memory>
#include <optional>
#include <string>
#include <thread>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "base/clock.h"
#include "base/command_line.h"
#include "base/duration.h"
#include "base/http_server.h"
#include "base/log.h"
#include "base/log_flags.h"
#include "base/service_notify.h"
#include "base/sighup.h"
#include "base/tls_flags.h"
#include "slotmgr/config.h"
#include "slotmgr/coordinator.h"
#include "slotmgr/coordinator_metrics.h"
#include "slotmgr/http_handlers.h"
#include "slotmgr/server.h"
#include "slotmgr/state_store.h"

ABSL_FLAG(std::string, listen, "127.0.0.1:7300", "gRPC address (HOST:PORT; port 0 = any)");
ABSL_FLAG(std::string, data_dir, "", "directory of the RocksDB state (required)");
ABSL_FLAG(slotkeeper::FlagDuration, heartbeat, absl::Seconds(1),
          "agent report interval; also the tick");
ABSL_FLAG(slotkeeper::FlagDuration, suspect_after, absl::Seconds(5),
          "silence before a host is SUSPECT");
ABSL_FLAG(slotkeeper::FlagDuration, down_after, absl::Seconds(30), "silence before a host is DOWN");
ABSL_FLAG(slotkeeper::FlagDuration, failover_grace, absl::Minutes(10),
          "wait before failing over a store whose master is merely silent");
ABSL_FLAG(slotkeeper::FlagDuration, failover_grace_hard, absl::Seconds(30),
          "wait before failing over on hard evidence from a live agent");
ABSL_FLAG(slotkeeper::FlagDuration, lease, absl::Seconds(20), "master lease duration");
ABSL_FLAG(slotkeeper::FlagDuration, max_clock_skew, absl::Seconds(5), "allowed agent clock offset");
ABSL_FLAG(slotkeeper::FlagDuration, replace_after, absl::Hours(1),
          "a failed drive unit, or every unit of a host DOWN, is declared lost (and "
          "replaced) after this");
ABSL_FLAG(slotkeeper::FlagDuration, max_failover_lag, absl::Minutes(1),
          "a replica further behind is not promoted without --force");
ABSL_FLAG(double, max_down_fraction, 0.3, "mass-failure brake: silent fraction of hosts");
ABSL_FLAG(int, mass_failure_min_hosts, 2, "mass-failure brake: at least this many silent hosts");
ABSL_FLAG(int, failover_rate_limit, 20, "automatic failovers allowed per window");
ABSL_FLAG(slotkeeper::FlagDuration, failover_rate_window, absl::Minutes(10), "rate-limit window");
ABSL_FLAG(slotkeeper::FlagDuration, final_pull_deadline, absl::Seconds(30),
          "before failing over from a master that can still be read, the replica pulls from it "
          "once more within this time (0: never)");
ABSL_FLAG(slotkeeper::FlagDuration, failover_store_cooldown, absl::Hours(1),
          "no second automatic failover of the same store within this");
ABSL_FLAG(double, evidence_brake_host_fraction, 0.3,
          "evidence brake: hard evidence arriving on more than this share of the hosts within "
          "--evidence_brake_window stops every irreversible step until acknowledged");
ABSL_FLAG(int, evidence_brake_min_hosts, 2, "evidence brake: ... and on at least this many hosts");
ABSL_FLAG(double, evidence_brake_unit_fraction, 0.2,
          "evidence brake: or on more than this share of the drive units");
ABSL_FLAG(int, evidence_brake_min_units, 3, "evidence brake: ... and on at least this many units");
ABSL_FLAG(slotkeeper::FlagDuration, evidence_brake_window, absl::Minutes(2),
          "evidence brake: what arrives within this counts as arriving at once");
ABSL_FLAG(
    int, max_units_lost_per_hour, 4,
    "drive units declared lost per sliding hour (operators exceed it with mark-lost --force)");
ABSL_FLAG(int, max_rereplications_per_hour, 100,
          "stores given new replicas by automation per sliding hour");
ABSL_FLAG(slotkeeper::FlagDuration, flap_half_life, absl::Minutes(15),
          "flap damping: a drive unit's failure penalty halves every this long");
ABSL_FLAG(double, flap_suppress_threshold, 2.5,
          "flap damping: a unit whose penalty (1 per failure, decaying) reaches this is held out "
          "of placement and declared lost if it stays so for --replace_after");
ABSL_FLAG(int, max_incoming_per_host, 2, "replication tasks writing to one host at once");
ABSL_FLAG(int, max_outgoing_per_host, 2, "replication tasks reading from one host at once");
ABSL_FLAG(int, max_tasks, 64, "replication tasks at once in the cluster");
ABSL_FLAG(int, max_task_attempts, 5, "a task fails for good after this many attempts");
ABSL_FLAG(slotkeeper::FlagDuration, task_retry_backoff, absl::Seconds(30), "first retry backoff");
ABSL_FLAG(double, placement_headroom, 0.2, "room beyond a store's bytes for a new replica");
ABSL_FLAG(int, copies, 3, "copies of a store (master included) when CreateStore gives none");
ABSL_FLAG(slotkeeper::FlagDuration, journal_max_age, absl::Hours(24 * 90),
          "events older than this are pruned (never those of trouble still open)");
ABSL_FLAG(int64_t, journal_max_events, 1000000,
          "at most this many events are kept (never pruning those of trouble still open)");
ABSL_FLAG(std::string, policy, "",
          "access policy file: which certificate identities hold the viewer, operator and "
          "admin roles (slotmgr/access_policy.h); without one, only anonymous (plaintext "
          "loopback) callers may act");
ABSL_FLAG(std::string, http_address, "",
          "read-only HTTP port (IP:PORT; port 0 = any; empty = none): /healthz and the "
          "monitoring pages of slotmgr/http_handlers.h. No authentication: bind it to "
          "loopback or a monitoring network");
ABSL_FLAG(bool, enable_reflection, false,
          "serve gRPC reflection (lists every service and message to any caller)");

namespace {

// Set by SIGTERM/SIGINT; the ticker loop polls it (only a sig_atomic_t
// store is async-signal-safe).
volatile std::sig_atomic_t g_signalled = 0;
void SetSignalled(int) { g_signalled = 1; }
volatile std::sig_atomic_t g_reload = 0;
void SetReload(int) { g_reload = 1; }

// Installed before anything else, so that a SIGHUP (a logrotate, a
// `systemctl reload`) never kills a coordinator still loading its state.
void InstallSignalHandlers() {
  std::signal(SIGTERM, SetSignalled);
  std::signal(SIGINT, SetSignalled);
  std::signal(SIGHUP, SetReload);
  std::signal(SIGPIPE, SIG_IGN);
}

int64_t Ms(absl::Duration d) { return absl::ToInt64Milliseconds(d); }

slotkeeper::slotmgr::CoordinatorConfig ConfigFromFlags() {
  slotkeeper::slotmgr::CoordinatorConfig config;
  config.heartbeat_ms = Ms(absl::GetFlag(FLAGS_heartbeat));
  config.suspect_after_ms = Ms(absl::GetFlag(FLAGS_suspect_after));
  config.down_after_ms = Ms(absl::GetFlag(FLAGS_down_after));
  config.failover_grace_silent_ms = Ms(absl::GetFlag(FLAGS_failover_grace));
  config.failover_grace_hard_ms = Ms(absl::GetFlag(FLAGS_failover_grace_hard));
  config.lease_ms = Ms(absl::GetFlag(FLAGS_lease));
  config.final_pull_deadline_ms = Ms(absl::GetFlag(FLAGS_final_pull_deadline));
  config.max_clock_skew_ms = Ms(absl::GetFlag(FLAGS_max_clock_skew));
  config.replace_after_ms = Ms(absl::GetFlag(FLAGS_replace_after));
  config.max_failover_lag_ms = Ms(absl::GetFlag(FLAGS_max_failover_lag));
  config.max_down_fraction = absl::GetFlag(FLAGS_max_down_fraction);
  config.mass_failure_min_hosts = absl::GetFlag(FLAGS_mass_failure_min_hosts);
  config.failover_rate_limit = absl::GetFlag(FLAGS_failover_rate_limit);
  config.failover_rate_window_ms = Ms(absl::GetFlag(FLAGS_failover_rate_window));
  config.failover_store_cooldown_ms = Ms(absl::GetFlag(FLAGS_failover_store_cooldown));
  config.evidence_brake_host_fraction = absl::GetFlag(FLAGS_evidence_brake_host_fraction);
  config.evidence_brake_min_hosts = absl::GetFlag(FLAGS_evidence_brake_min_hosts);
  config.evidence_brake_unit_fraction = absl::GetFlag(FLAGS_evidence_brake_unit_fraction);
  config.evidence_brake_min_units = absl::GetFlag(FLAGS_evidence_brake_min_units);
  config.evidence_brake_window_ms = Ms(absl::GetFlag(FLAGS_evidence_brake_window));
  config.max_units_lost_per_hour = absl::GetFlag(FLAGS_max_units_lost_per_hour);
  config.max_rereplications_per_hour = absl::GetFlag(FLAGS_max_rereplications_per_hour);
  config.flap_half_life_ms = Ms(absl::GetFlag(FLAGS_flap_half_life));
  config.flap_suppress_threshold = absl::GetFlag(FLAGS_flap_suppress_threshold);
  config.max_incoming_per_host = absl::GetFlag(FLAGS_max_incoming_per_host);
  config.max_outgoing_per_host = absl::GetFlag(FLAGS_max_outgoing_per_host);
  config.max_tasks_global = absl::GetFlag(FLAGS_max_tasks);
  config.max_task_attempts = absl::GetFlag(FLAGS_max_task_attempts);
  config.task_retry_backoff_ms = Ms(absl::GetFlag(FLAGS_task_retry_backoff));
  config.placement_headroom = absl::GetFlag(FLAGS_placement_headroom);
  config.default_copies = absl::GetFlag(FLAGS_copies);
  config.journal_retention.max_age_ms = Ms(absl::GetFlag(FLAGS_journal_max_age));
  config.journal_retention.max_events =
      static_cast<uint64_t>(std::max<int64_t>(absl::GetFlag(FLAGS_journal_max_events), 0));
  return config;
}

// The configuration, checked: --data_dir given, every figure in range.
absl::StatusOr<slotkeeper::slotmgr::CoordinatorConfig> ValidConfigFromFlags() {
  if (absl::GetFlag(FLAGS_data_dir).empty()) {
    return absl::InvalidArgumentError("--data_dir is required");
  }
  slotkeeper::slotmgr::CoordinatorConfig config = ConfigFromFlags();
  if (absl::Status valid = slotkeeper::slotmgr::ValidateConfig(config); !valid.ok()) return valid;
  return config;
}

// The access policy (--policy) and reflection; INVALID_ARGUMENT naming the
// policy file's problem.
absl::StatusOr<slotkeeper::slotmgr::SlotmgrServerOptions> ServerOptionsFromFlags() {
  slotkeeper::slotmgr::SlotmgrServerOptions options;
  if (const std::string policy = absl::GetFlag(FLAGS_policy); !policy.empty()) {
    absl::StatusOr<slotkeeper::slotmgr::AccessPolicy> loaded =
        slotkeeper::slotmgr::AccessPolicy::Load(policy);
    if (!loaded.ok()) {
      return absl::InvalidArgumentError(absl::StrCat("--policy: ", loaded.status().ToString()));
    }
    options.policy = *std::move(loaded);
  } else {
    slotkeeper::LogWarning("coordinator",
                           "no --policy: callers with a certificate hold no operator role "
                           "(agents may still register as their own hosts)");
  }
  options.enable_reflection = absl::GetFlag(FLAGS_enable_reflection);
  return options;
}

// The read-only HTTP port (--http_address): the status page, /metrics,
// /healthz. Prints "slotmgrd http on ADDR" once it listens.
absl::StatusOr<std::unique_ptr<slotkeeper::HttpServer>> StartHttpPort(
    const std::string& address, const slotkeeper::slotmgr::Coordinator* core,
    const slotkeeper::slotmgr::CoordinatorMetrics& metrics) {
  slotkeeper::HttpServer::Options options;
  options.address = address;
  options.handlers = slotkeeper::slotmgr::CoordinatorHttpHandlers(core, metrics.sources());
  auto started = slotkeeper::HttpServer::Start(std::move(options));
  if (!started.ok()) {
    return absl::Status(started.status().code(),
                        absl::StrCat("--http_address: ", started.status().message()));
  }
  std::printf("slotmgrd http on %s\n", (*started)->address().c_str());
  return started;
}

// The ticker, until SIGTERM/SIGINT: advances timers every half heartbeat and
// sends what was decided; SIGHUP re-reads the TLS files; the systemd
// watchdog is fed at half its timeout.
void RunTicker(slotkeeper::slotmgr::SlotmgrServer* server,
               const slotkeeper::slotmgr::CoordinatorConfig& config) {
  const absl::Duration tick = absl::Milliseconds(std::max<int64_t>(config.heartbeat_ms / 2, 10));
  const std::optional<absl::Duration> ping = slotkeeper::service::WatchdogPingInterval();
  absl::Time last_ping = absl::InfinitePast();
  while (!g_signalled) {
    server->TickAndFlush();
    if (g_reload) {
      g_reload = 0;
      slotkeeper::ReloadOnSighup("coordinator", "");
    }
    if (ping && absl::Now() - last_ping >= *ping) {
      slotkeeper::service::NotifyWatchdog();
      last_ping = absl::Now();
    }
    absl::SleepFor(tick);
  }
}

// Serves until SIGTERM/SIGINT: the gRPC server, the HTTP port when asked
// for (with the metrics it shows), the ticker. 0 after a clean stop; 1 or 2
// (logged) when something could not start.
int Serve(slotkeeper::slotmgr::Coordinator* core, slotkeeper::slotmgr::RocksStateStore* store,
          slotkeeper::Clock* clock, const slotkeeper::slotmgr::CoordinatorConfig& config) {
  using namespace slotkeeper;           // NOLINT: the daemon's top level
  using namespace slotkeeper::slotmgr;  // NOLINT: the daemon's top level
  absl::StatusOr<SlotmgrServerOptions> options = ServerOptionsFromFlags();
  if (!options.ok()) {
    LogError("coordinator", options.status().ToString());
    return 2;
  }
  SlotmgrServerOptions server_options = *std::move(options);
  // Metrics exist only to be served on the HTTP port.
  const std::string http_address = absl::GetFlag(FLAGS_http_address);
  SlotmgrServer* serving = nullptr;  // set before the HTTP port opens
  std::unique_ptr<CoordinatorMetrics> metrics;
  if (!http_address.empty()) {
    metrics = std::make_unique<CoordinatorMetrics>(CoordinatorCollector::Sources{
        &core->queries(), store,
        [&serving] { return serving->agent_service()->lease_renewals_sent(); }});
    server_options.rpc_metrics = metrics->rpc();
  }
  auto server = SlotmgrServer::Start(absl::GetFlag(FLAGS_listen), core, clock, nullptr,
                                     std::move(server_options));
  if (!server.ok()) {
    LogError("coordinator", server.status().ToString());
    return 1;
  }
  serving = server->get();
  std::unique_ptr<HttpServer> http;
  if (!http_address.empty()) {
    absl::StatusOr<std::unique_ptr<HttpServer>> started =
        StartHttpPort(http_address, core, *metrics);
    if (!started.ok()) {
      LogError("coordinator", started.status().ToString());
      return 1;
    }
    http = *std::move(started);
  }
  std::printf("slotmgrd listening on %s\n", (*server)->address().c_str());
  std::fflush(stdout);
  LogInfo("coordinator", absl::StrCat("listening on ", (*server)->address(), " with ",
                                      ProcessTransportSecurity()->Describe(), ", state in ",
                                      absl::GetFlag(FLAGS_data_dir)));

  service::NotifyReady(absl::StrCat("serving on ", (*server)->address()));
  RunTicker(server->get(), config);
  LogInfo("coordinator", "signal received: shutting down");
  service::NotifyStopping("shutting down");
  http.reset();
  (*server)->Shutdown();
  server->reset();
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  using namespace slotkeeper;           // NOLINT: main only
  using namespace slotkeeper::slotmgr;  // NOLINT: main only
  InstallSignalHandlers();
  ParseCommandLineOrExit(argc, argv, "slotmgrd",
                         "Usage: slotmgrd --data_dir=DIR (--tls_ca=FILE --tls_cert=FILE "
                         "--tls_key=FILE | --insecure_loopback_only) [OPTION]...\n"
                         "The Slotkeeper coordinator: keeps the cluster model, fails stores over "
                         "and re-replicates them. Abseil's own flags: --helpfull.");
  if (absl::Status s = slotkeeper::InitLoggingFromFlags("slotmgrd"); !s.ok()) {
    LogError("coordinator", s.ToString());
    return 2;
  }

  if (absl::Status s = InstallTransportSecurityFromFlags(); !s.ok()) {
    LogError("coordinator", absl::StrCat("refusing to start: ", s.message()));
    return 2;
  }
  const std::string data_dir = absl::GetFlag(FLAGS_data_dir);
  absl::StatusOr<CoordinatorConfig> checked = ValidConfigFromFlags();
  if (!checked.ok()) {
    LogError("coordinator", checked.status().ToString());
    return 2;
  }
  const CoordinatorConfig config = *std::move(checked);

  auto store = RocksStateStore::Open(data_dir);
  if (!store.ok()) {
    LogError("coordinator", store.status().ToString());
    return 1;
  }
  slotkeeper::Clock* clock = slotkeeper::RealClock();
  service::NotifyStatus(absl::StrCat("loading the state in ", data_dir));
  auto core = Coordinator::Create(store->get(), clock, config);
  if (!core.ok()) {
    LogError("coordinator", absl::StrCat("loading state: ", core.status().ToString()));
    return 1;
  }
  const int code = Serve(core->get(), store->get(), clock, config);
  if (code != 0) return code;
  core->reset();
  store->reset();
  LogInfo("coordinator", "stopped");
  return 0;
}
