// replicatord: the Slotkeeper host agent (control side).
//
//   replicatord --config=/etc/slotkeeper/agent.conf
//
// Reads the config (refusing it with the line at fault), chooses the
// transport security (the config's tls block, or the --tls_* flags, or
// --insecure_loopback_only; none of them and it refuses to start), starts the
// agent (agent.h) and runs until SIGTERM or SIGINT. SIGHUP re-reads the TLS
// files for the connections opened from then on (the peer server re-reads
// them every tls.refresh_ms); it is never fatal, not even during start-up
// (the signals are blocked first thing and taken by sigwait). SIGPIPE is
// ignored. Prints "replicatord HOST peer listening on ADDR", then, with
// --http_address, "replicatord HOST http on ADDR" (the metrics port,
// agent_metrics.h).
//
// Under systemd (Type=notify; base/service_notify.h) it sends READY=1 once
// Agent::Start returned: the peer server listens, the state and leases are
// loaded, the probes run and the coordinator client is dialling. Readiness
// does not wait for a session with the coordinator, on purpose: an agent
// whose coordinator is down still serves its peers and keeps its masters
// fenced (losing the control plane must not stop mail), so it is up. The
// STATUS line names the coordinator it dials. With WatchdogSec= it sends
// WATCHDOG=1 from the signal loop at half the timeout; STOPPING=1 on shutdown.
#include <signal.h>
#include <time.h>

#include <cstdio>
#include <memory>
#include <optional>
#include <string>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/strings/str_cat.h"
#include "base/build_info.h"
#include "base/clock.h"
#include "base/command_line.h"
#include "base/grpc_util.h"
#include "base/http_server.h"
#include "base/log.h"
#include "base/log_flags.h"
#include "base/metrics_http.h"
#include "base/process_metrics.h"
#include "base/rpc_metrics.h"
#include "base/service_notify.h"
#include "base/sighup.h"
#include "base/tls.h"
#include "base/tls_flags.h"
#include "prometheus/registry.h"
#include "replicator/agent.h"
#include "replicator/agent_metrics.h"
#include "replicator/config.h"

ABSL_FLAG(std::string, config, "", "Path of the agent's text-format config (required).");
ABSL_FLAG(std::string, coordinator, "", "Overrides coordinator_address of the config.");
ABSL_FLAG(std::string, peer_listen, "", "Overrides peer_listen_address of the config.");
ABSL_FLAG(std::string, data_dir, "", "Overrides data_dir of the config.");
ABSL_FLAG(std::string, kmsg, "", "Overrides probes.kmsg_path (\"-\" disables the kernel log).");
ABSL_FLAG(int64_t, backoff_max_ms, 2000, "Longest wait between reconnection attempts.");
ABSL_FLAG(int64_t, heartbeat_ms, 1000,
          "Report interval when the coordinator does not name one at registration.");
ABSL_FLAG(int64_t, sync_bandwidth_bytes_per_second, 0,
          "Limit on the bytes per second each replication task and catch-up cycle receives "
          "(0 = unlimited).");

ABSL_FLAG(bool, enable_reflection, false,
          "serve gRPC reflection on the peer port (lists every service and message to any "
          "caller)");

ABSL_FLAG(std::string, test_fake_hard_condition, "",
          "TEST ONLY, refused without --allow_test_flags: \"all\" makes the probes report "
          "every drive unit offline, as a broken probe or agent release would.");
ABSL_FLAG(std::string, http_address, "",
          "read-only HTTP port (IP:PORT; port 0 = any; empty = none) serving /metrics "
          "(docs/metrics.md). No authentication: bind it to loopback or a monitoring network");
ABSL_FLAG(bool, allow_test_flags, false, "Accept the --test_* flags (fault tests only).");

namespace slotkeeper::replicator {
namespace {

// The --test_* flags: refused unless --allow_test_flags says this is a test.
absl::Status ApplyTestFlags(AgentRunOptions& options) {
  const std::string fake = absl::GetFlag(FLAGS_test_fake_hard_condition);
  if (fake.empty()) return absl::OkStatus();
  if (!absl::GetFlag(FLAGS_allow_test_flags)) {
    return absl::InvalidArgumentError(
        "--test_fake_hard_condition is a test flag: it needs --allow_test_flags");
  }
  if (fake != "all") {
    return absl::InvalidArgumentError(
        absl::StrCat("--test_fake_hard_condition: only \"all\" is known, not \"", fake, "\""));
  }
  options.test_fake_units_offline = true;
  options.agent_version = absl::StrCat(options.agent_version, "+test-fake-hard-condition");
  return absl::OkStatus();
}

// The config's tls block with the --tls_* flags over it, or
// --insecure_loopback_only, installed as the process's transport security.
// Plaintext also refuses a coordinator off loopback here, at start, rather
// than on every connection attempt.
absl::Status InstallTransport(const AgentConfig& config) {
  TransportChoice choice = TransportChoiceFromFlags();
  if (choice.files.ca.empty()) choice.files.ca = config.tls().ca_file();
  if (choice.files.cert.empty()) choice.files.cert = config.tls().cert_file();
  if (choice.files.key.empty()) choice.files.key = config.tls().key_file();
  choice.refresh = absl::Milliseconds(config.tls().refresh_ms());
  absl::StatusOr<std::shared_ptr<TransportSecurity>> security = ChooseTransportSecurity(choice);
  if (!security.ok()) {
    return absl::Status(security.status().code(),
                        absl::StrCat(security.status().message(),
                                     " (the config's tls { ca_file cert_file key_file } count as "
                                     "the --tls_* flags)"));
  }
  if (!(*security)->is_tls()) {
    if (absl::Status s = CheckLoopbackAddress(config.coordinator_address()); !s.ok()) {
      return absl::Status(s.code(), absl::StrCat("coordinator: ", s.message()));
    }
  }
  SetProcessTransportSecurity(*std::move(security));
  return absl::OkStatus();
}

// The config file with the command line's overrides, validated.
absl::StatusOr<AgentConfig> ConfigFromFlags() {
  const std::string config_path = absl::GetFlag(FLAGS_config);
  if (config_path.empty()) return absl::InvalidArgumentError("--config is required");
  absl::StatusOr<AgentConfig> loaded = LoadConfig(config_path);
  if (!loaded.ok()) return loaded.status();
  AgentConfig config = *std::move(loaded);
  if (!absl::GetFlag(FLAGS_coordinator).empty()) {
    config.set_coordinator_address(absl::GetFlag(FLAGS_coordinator));
  }
  if (!absl::GetFlag(FLAGS_peer_listen).empty()) {
    config.set_peer_listen_address(absl::GetFlag(FLAGS_peer_listen));
  }
  if (!absl::GetFlag(FLAGS_data_dir).empty()) config.set_data_dir(absl::GetFlag(FLAGS_data_dir));
  if (!absl::GetFlag(FLAGS_kmsg).empty()) {
    config.mutable_probes()->set_kmsg_path(absl::GetFlag(FLAGS_kmsg));
  }
  // Overrides are input too: check them the same way.
  if (absl::Status s = ValidateHostPort(config.coordinator_address()); !s.ok()) {
    return absl::InvalidArgumentError(absl::StrCat("coordinator: ", s.message()));
  }
  if (absl::Status s = ValidateHostPort(config.peer_listen_address(), true); !s.ok()) {
    return absl::InvalidArgumentError(absl::StrCat("peer listen address: ", s.message()));
  }
  if (absl::GetFlag(FLAGS_sync_bandwidth_bytes_per_second) < 0) {
    return absl::InvalidArgumentError("--sync_bandwidth_bytes_per_second must not be negative");
  }
  return config;
}

// The signals main() blocked, or 0 once `timeout` (when given) has passed.
int WaitForSignal(const sigset_t& signals, std::optional<absl::Duration> timeout) {
  if (!timeout) {
    int signal = 0;
    sigwait(&signals, &signal);
    return signal;
  }
  const timespec wait = absl::ToTimespec(*timeout);
  const int signal = sigtimedwait(&signals, nullptr, &wait);
  return signal < 0 ? 0 : signal;  // EAGAIN (timeout) or EINTR
}

// The metrics port (--http_address): the agent's figures, its RPC metrics
// (`registry`) and the process's. Prints "replicatord HOST http on ADDR".
absl::StatusOr<std::unique_ptr<HttpServer>> StartHttpPort(
    const std::string& address, Agent* agent, std::shared_ptr<prometheus::Registry> registry) {
  HttpServer::Options options;
  options.address = address;
  options.handlers["/metrics"] =
      MetricsHandler({std::make_shared<AgentCollector>(
                          &agent->config(), [agent] { return agent->MetricsSnapshot(); }),
                      std::move(registry), std::make_shared<ProcessCollector>()});
  auto started = HttpServer::Start(std::move(options));
  if (!started.ok()) {
    return absl::Status(started.status().code(),
                        absl::StrCat("--http_address: ", started.status().message()));
  }
  std::printf("replicatord %s http on %s\n", agent->config().host().c_str(),
              (*started)->address().c_str());
  return started;
}

int Run(const sigset_t& signals) {
  absl::StatusOr<AgentConfig> config = ConfigFromFlags();
  if (!config.ok()) {
    LogError("agent", absl::StrCat("refusing to start: ", config.status().message()));
    return 2;
  }
  if (absl::Status s = InstallTransport(*config); !s.ok()) {
    LogError("agent", absl::StrCat("refusing to start: ", s.message()));
    return 2;
  }
  AgentRunOptions options;
  options.agent_version = ProductVersion("replicatord", ThisBuild());
  options.sync_bandwidth_bytes_per_second =
      static_cast<uint64_t>(absl::GetFlag(FLAGS_sync_bandwidth_bytes_per_second));
  options.backoff_max = absl::Milliseconds(absl::GetFlag(FLAGS_backoff_max_ms));
  options.default_heartbeat = absl::Milliseconds(absl::GetFlag(FLAGS_heartbeat_ms));
  options.enable_reflection = absl::GetFlag(FLAGS_enable_reflection);
  if (absl::Status s = ApplyTestFlags(options); !s.ok()) {
    LogError("agent", absl::StrCat("refusing to start: ", s.message()));
    return 2;
  }
  // Metrics exist only to be served on the HTTP port; they outlive the agent.
  const std::string http_address = absl::GetFlag(FLAGS_http_address);
  auto registry = std::make_shared<prometheus::Registry>();
  RpcMetrics rpc_metrics(*registry);
  if (!http_address.empty()) {
    options.rpc_metrics = &rpc_metrics;
    options.metrics_registry = registry.get();
  }
  absl::StatusOr<std::unique_ptr<Agent>> agent =
      Agent::Start(*std::move(config), options, RealClock());
  if (!agent.ok()) {
    LogError("agent", absl::StrCat("refusing to start: ", agent.status().message()));
    return 1;
  }
  const AgentConfig& running = (*agent)->config();
  std::printf("replicatord %s peer listening on %s\n", running.host().c_str(),
              (*agent)->peer_address().c_str());
  std::unique_ptr<HttpServer> http;
  if (!http_address.empty()) {
    absl::StatusOr<std::unique_ptr<HttpServer>> started =
        StartHttpPort(http_address, agent->get(), registry);
    if (!started.ok()) {
      LogError("agent", started.status().ToString());
      (*agent)->Stop();
      return 1;
    }
    http = *std::move(started);
  }
  std::fflush(stdout);
  LogInfo("agent",
          absl::StrCat("host ", running.host(), ": coordinator ", running.coordinator_address(),
                       ", ", ProcessTransportSecurity()->Describe(), ", ", running.slots_size(),
                       " slots on ", running.filesystems_size(), " filesystems"));
  service::NotifyReady(absl::StrCat("host ", running.host(), ": peers served on ",
                                    (*agent)->peer_address(), ", coordinator ",
                                    running.coordinator_address()));
  const std::optional<absl::Duration> ping = service::WatchdogPingInterval();
  while (true) {
    const int signal = WaitForSignal(signals, ping);
    if (signal == 0) {
      service::NotifyWatchdog();
      continue;
    }
    if (signal == SIGHUP) {
      ReloadOnSighup("agent", "restart the agent to apply a new config");
      continue;
    }
    LogInfo("agent", absl::StrCat("signal ", signal, ": shutting down"));
    break;
  }
  service::NotifyStopping("shutting down");
  http.reset();
  (*agent)->Stop();
  LogInfo("agent", "stopped");
  return 0;
}

}  // namespace
}  // namespace slotkeeper::replicator

int main(int argc, char** argv) {
  // Signals are taken synchronously by Run(); blocked before anything else,
  // every thread inherits the mask, and one that arrives during start-up
  // waits for Run() instead of killing the agent.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGHUP);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  signal(SIGPIPE, SIG_IGN);
  slotkeeper::ParseCommandLineOrExit(
      argc, argv, "replicatord",
      "Usage: replicatord --config=FILE [OPTION]...\n"
      "The Slotkeeper host agent: watches drive units and filesystems, reports to the "
      "coordinator, holds leases and moves mail between hosts. Abseil's own flags: --helpfull.");
  if (absl::Status s = slotkeeper::InitLoggingFromFlags("replicatord"); !s.ok()) {
    slotkeeper::LogError("agent", s.ToString());
    return 2;
  }
  return slotkeeper::replicator::Run(signals);
}
