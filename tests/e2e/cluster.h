// A whole Slotkeeper cluster on one machine, for the demo and the
// fault-injection tests: one slotmgrd and N replicatord processes on
// loopback, each host with drive units that are loop-mounted ext4 images
// (when the machine allows it) or plain directories.
//
// Mutual TLS is on, as in production: the cluster makes a throwaway CA and
// certificates with tools/certs.sh (ROOT/certs: one per host, "slotmgr" for
// the coordinator, viewer/operator/admin for operators), gives every process
// its own, and installs the admin certificate as the test process's
// transport security (base/tls.h) for api() and every channel it opens. The
// coordinator's policy file (ROOT/policy) gives the viewer, operator and
// admin certificates the roles they are named after.
//
// Owns every process, mount and directory it creates and removes them in
// its destructor (also after a failed assertion). Not thread-safe.
#ifndef SLOTKEEPER_TESTS_E2E_CLUSTER_H_
#define SLOTKEEPER_TESTS_E2E_CLUSTER_H_

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "proto/automation.grpc.pb.h"
#include "tests/harness/loop_fs.h"
#include "tests/harness/mail_check.h"
#include "tests/harness/process.h"
#include "tests/harness/tcp_proxy.h"

namespace slotkeeper::testing {

struct ClusterOptions {
  std::string root;  // working directory (created)
  std::vector<std::string> hosts = {"imap1", "imap2", "imap3", "imap4"};
  int units_per_host = 2;
  int slots_per_unit = 3;
  bool loop_mounts = true;  // falls back to directories when not allowed
  uint64_t unit_bytes = 256ull << 20;
  uint64_t slot_capacity_bytes = 64ull << 20;
  // Extra slotmgrd flags (timings for tests), e.g. "--failover_grace_hard=2s".
  std::vector<std::string> coordinator_flags;
  std::vector<std::string> agent_flags;
  // Prefix for one host's agent command line, e.g. {"faketime", "-6h"}.
  std::map<std::string, std::vector<std::string>> agent_wrapper;
  // Text-format lines appended to every agent's config (hooks, failsafe...),
  // and to one host's.
  std::string agent_config_extra;
  std::map<std::string, std::string> host_config_extra;
  // Route every agent's link to the coordinator, and every link into an
  // agent's peer port, through a TcpProxy the test can cut or stall
  // (CoordinatorLink, PeerLink): partitions without touching the network.
  bool proxy_links = false;
  // Runfiles paths of the binaries (workspace-relative).
  std::string slotmgrd = "slotmgr/slotmgrd";
  std::string replicatord = "replicator/replicatord";
  std::string slotctl = "tools/slotctl/slotctl";
  std::string mailgen = "tools/mailgen/mailgen";
  std::string certs = "tools/certs.sh";
  // The owner GenerateMail gives a slot's users/ (the mail server's own
  // user, tests/e2e/mail_front.h); -1: as mailgen leaves it (root, 0700).
  int mail_uid = -1;
  int mail_gid = -1;
  // Mutual TLS everywhere (off: every process with --insecure_loopback_only).
  bool tls = true;
  // The certificate slotctl runs with (Slotctl); SlotctlAs picks another.
  std::string slotctl_identity = "admin";
  bool verbose = false;  // echo progress lines to stderr
  // Polled by every wait; when it returns true the wait ends with CANCELLED
  // (the demo sets it on SIGINT so that it can clean up and exit).
  std::function<bool()> cancelled = [] { return false; };
};

class Cluster {
 public:
  static absl::StatusOr<std::unique_ptr<Cluster>> Create(ClusterOptions options);
  ~Cluster();

  bool loop_mounted() const { return loop_mounted_; }
  const std::string& coordinator_address() const { return coordinator_address_; }
  // slotmgrd's HTTP port (metrics, status page) on 127.0.0.1, chosen by the
  // coordinator at each start; 0 before the first start.
  int coordinator_http_port() const { return coordinator_http_port_; }
  // `host`'s replicatord HTTP port (metrics) on 127.0.0.1, chosen at each
  // start of its agent; 0 before the first.
  int agent_http_port(const std::string& host) const {
    auto it = agent_http_ports_.find(host);
    return it == agent_http_ports_.end() ? 0 : it->second;
  }
  slotkeeper::v1::Automation::Stub& api() { return *api_; }

  // Slot names are "du<U>s<S>", unit names "du<U>", both 1-based.
  std::string SlotPath(const std::string& host, const std::string& slot) const;
  std::string UnitMount(const std::string& host, const std::string& unit) const;
  LoopFilesystem* UnitFilesystem(const std::string& host, const std::string& unit);

  absl::Status StartCoordinator();
  void KillCoordinator();  // SIGKILL
  // `extra_flags` after the options' agent_flags, for this start only (a
  // different build, a test flag).
  absl::Status StartAgent(const std::string& host,
                          const std::vector<std::string>& extra_flags = {});
  absl::Status StartAllAgents();
  void KillAgent(const std::string& host);  // SIGKILL
  absl::Status SignalAgent(const std::string& host, int sig);
  Process* agent(const std::string& host);
  Process& coordinator() { return coordinator_; }

  // With `proxy_links`: the link from `host`'s agent to the coordinator, and
  // the link into `host`'s peer port (what every other agent uses to reach
  // it). Null without proxies or for an unknown host.
  TcpProxy* CoordinatorLink(const std::string& host);
  TcpProxy* PeerLink(const std::string& host);
  // The host's agent directory (config, data, logs).
  std::string HostDir(const std::string& host) const;

  // Polls `done` on GetClusterStatus until true or `timeout`.
  absl::Status WaitForStatus(const std::function<bool(const slotkeeper::v1::ClusterStatus&)>& done,
                             absl::Duration timeout, const std::string& what);
  absl::Status WaitForStore(const std::string& store,
                            const std::function<bool(const slotkeeper::v1::StoreInfo&)>& done,
                            absl::Duration timeout, const std::string& what);
  absl::Status WaitForEvent(const std::string& kind, absl::Duration timeout,
                            slotkeeper::v1::Event* found = nullptr);

  // Waits until the coordinator knows that each "host/slot" of `holding`
  // holds the store named (from the agents' slot scans).
  absl::Status WaitForSlotsHolding(const std::map<std::string, std::string>& holding,
                                   absl::Duration timeout);

  absl::StatusOr<slotkeeper::v1::ClusterStatus> Status();
  absl::StatusOr<slotkeeper::v1::StoreInfo> Store(const std::string& store);
  absl::StatusOr<std::vector<slotkeeper::v1::StoreInfo>> Stores();

  // Generates mail into a slot (mailgen) and marks it as holding `store`.
  absl::Status GenerateMail(const std::string& host, const std::string& slot,
                            const std::string& store, int users, int messages, uint64_t seed);
  absl::Status MutateMail(const std::string& host, const std::string& slot, uint64_t seed,
                          const std::vector<std::string>& mailgen_flags);

  // Fills each store's master slot with generated mail (seeds 1, 2, ...),
  // declares the stores with `copies` copies each (placed by the
  // coordinator), and waits until every store is healthy. Returns each
  // store's content as generated (the "no message lost" reference).
  struct StoreLayout {
    std::string name;
    std::string host;
    std::string slot;
  };
  absl::StatusOr<std::map<std::string, SlotContent>> CreateStores(
      const std::vector<StoreLayout>& stores, int users, int messages, int copies = 3,
      absl::Duration timeout = absl::Seconds(120));

  // Runs slotctl against this cluster; returns exit code, output in *out.
  absl::StatusOr<int> Slotctl(const std::vector<std::string>& args, std::string* out,
                              absl::Duration timeout = absl::Seconds(60));
  // The same with the certificate of `identity` (a role, a host, or ""
  // for a client without a certificate: plaintext, which a TLS cluster
  // refuses).
  absl::StatusOr<int> SlotctlAs(const std::string& identity, const std::vector<std::string>& args,
                                std::string* out, absl::Duration timeout = absl::Seconds(60));

  // The flags that give a process `identity`'s certificate (--tls_ca,
  // --tls_cert, --tls_key), or --insecure_loopback_only without TLS.
  std::vector<std::string> TransportFlags(const std::string& identity) const;
  // ROOT/certs/NAME.pem and .key, and the CA ca.pem ("" without TLS).
  std::string CertsDir() const;

  // Every message of `expected` present with equal content on every copy of
  // `store` (read from disk). Returns the problems, empty when none.
  absl::StatusOr<std::vector<std::string>> CheckStoreHas(const std::string& store,
                                                         const SlotContent& expected);

  void Log(const std::string& line) const;
  // When slotmgrd has exited: how, and the end of its log (else empty).
  std::string CoordinatorDiagnosis();

 private:
  explicit Cluster(ClusterOptions options) : options_(std::move(options)) {}
  absl::Status Prepare();
  absl::Status PrepareTransport();
  absl::Status WriteAgentConfig(const std::string& host);

  ClusterOptions options_;
  bool loop_mounted_ = false;
  Process coordinator_;
  std::string coordinator_address_;
  int coordinator_http_port_ = 0;
  std::map<std::string, int> agent_http_ports_;  // by host
  std::map<std::string, std::unique_ptr<Process>> agents_;
  std::map<std::string, std::unique_ptr<LoopFilesystem>> filesystems_;  // "host/unit"
  std::map<std::string, std::unique_ptr<TcpProxy>> coordinator_links_;  // by host
  std::map<std::string, std::unique_ptr<TcpProxy>> peer_links_;         // by host
  std::map<std::string, int> peer_ports_;                               // by host
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<slotkeeper::v1::Automation::Stub> api_;
};

// ---- Helpers of the fault-injection tests ---------------------------------

// The whole event journal, oldest first.
absl::StatusOr<std::vector<slotkeeper::v1::Event>> ListAllEvents(Cluster& cluster);
// Every task (finished ones too).
absl::StatusOr<std::vector<slotkeeper::v1::TaskInfo>> ListAllTasks(Cluster& cluster);
// "HOST/SLOT" of the store's master copy, "" when it has none.
std::string MasterOf(const slotkeeper::v1::StoreInfo& store);
// True when the store has a copy on `host` (whatever its role).
bool HasCopyOn(const slotkeeper::v1::StoreInfo& store, const std::string& host);
// Writes what `slotctl incident` reads (the journal since `since`, e.g.
// "40s", the status, the stores) as JSON into `dir`: incident-journal.json,
// incident-status.json, incident-stores.json (inputs of tools/slotctl's
// golden tests); prints the paths.
void RecordIncidentInputs(Cluster& c, const std::string& dir, const std::string& since);
// Waits until recovery is over: every store healthy, no task running or
// queued, and no store for which `refers` (e.g. "has a copy on imap4") holds.
absl::Status WaitForFullRecovery(
    Cluster& cluster, const std::function<bool(const slotkeeper::v1::StoreInfo&)>& refers,
    absl::Duration timeout, const std::string& what);
// CheckStoreHas for every store of `reference`: the problems, empty if none.
std::vector<std::string> CheckNoMessageLost(Cluster& cluster,
                                            const std::map<std::string, SlotContent>& reference);
// `mount -o remount,ro` fails with EBUSY while a file is open for writing
// (the agent's write probe runs every 200 ms): retried for up to 20 s, as an
// operator would.
absl::Status RemountReadOnlyRetrying(LoopFilesystem& fs);
// The role the agent of `host` recorded for `slot` in its state file
// (<host>/data/agent-state.textproto): "master", "replica", ... or "" when
// the slot is not recorded.
absl::StatusOr<std::string> AgentRecordedRole(const std::string& root, const std::string& host,
                                              const std::string& slot);

}  // namespace slotkeeper::testing

#endif  // SLOTKEEPER_TESTS_E2E_CLUSTER_H_
