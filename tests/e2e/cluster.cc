#include "tests/e2e/cluster.h"

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "base/grpc_util.h"
#include "base/tls.h"

namespace slotkeeper::testing {
namespace {

namespace fs = std::filesystem;
using slotkeeper::v1::ClusterStatus;
using slotkeeper::v1::StoreInfo;

// A free loopback port: bind port 0, read it back, close. The coordinator
// keeps this port across restarts so agents find it again.
absl::StatusOr<int> FreePort() {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return absl::InternalError("socket failed");
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  socklen_t len = sizeof(addr);
  if (bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0 ||
      getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    close(fd);
    return absl::InternalError("bind failed");
  }
  int port = ntohs(addr.sin_port);
  close(fd);
  return port;
}

std::string UnitName(int u) { return absl::StrCat("du", u); }
std::string SlotName(int u, int s) { return absl::StrCat("du", u, "s", s); }

}  // namespace

absl::StatusOr<std::unique_ptr<Cluster>> Cluster::Create(ClusterOptions options) {
  std::unique_ptr<Cluster> cluster(new Cluster(std::move(options)));
  if (absl::Status st = cluster->Prepare(); !st.ok()) return st;
  return cluster;
}

Cluster::~Cluster() {
  for (auto& [host, agent] : agents_) agent->Kill();
  coordinator_.Kill();
  filesystems_.clear();  // unmounts and detaches
}

void Cluster::Log(const std::string& line) const {
  if (options_.verbose) std::fprintf(stderr, "[cluster] %s\n", line.c_str());
}

std::string Cluster::HostDir(const std::string& host) const {
  return (fs::path(options_.root) / host).string();
}

std::string Cluster::UnitMount(const std::string& host, const std::string& unit) const {
  return (fs::path(HostDir(host)) / unit).string();
}

std::string Cluster::SlotPath(const std::string& host, const std::string& slot) const {
  // "du2s1" lives on unit "du2".
  const std::string unit = slot.substr(0, slot.find('s'));
  return (fs::path(UnitMount(host, unit)) / slot).string();
}

LoopFilesystem* Cluster::UnitFilesystem(const std::string& host, const std::string& unit) {
  auto it = filesystems_.find(host + "/" + unit);
  return it == filesystems_.end() ? nullptr : it->second.get();
}

Process* Cluster::agent(const std::string& host) {
  auto it = agents_.find(host);
  return it == agents_.end() ? nullptr : it->second.get();
}

TcpProxy* Cluster::CoordinatorLink(const std::string& host) {
  auto it = coordinator_links_.find(host);
  return it == coordinator_links_.end() ? nullptr : it->second.get();
}

TcpProxy* Cluster::PeerLink(const std::string& host) {
  auto it = peer_links_.find(host);
  return it == peer_links_.end() ? nullptr : it->second.get();
}

absl::Status Cluster::Prepare() {
  std::error_code ec;
  fs::create_directories(options_.root, ec);
  if (ec) return absl::InternalError(absl::StrCat("mkdir ", options_.root, ": ", ec.message()));
  loop_mounted_ = options_.loop_mounts && CanLoopMount().ok();
  Log(loop_mounted_ ? "drive units are loop-mounted ext4 images"
                    : "drive units are plain directories (no loop mounts here)");
  for (const std::string& host : options_.hosts) {
    fs::create_directories(fs::path(HostDir(host)) / "data", ec);
    for (int u = 1; u <= options_.units_per_host; ++u) {
      const std::string mount = UnitMount(host, UnitName(u));
      if (loop_mounted_) {
        auto lfs = LoopFilesystem::Create(
            (fs::path(options_.root) / absl::StrCat(host, "-", UnitName(u), ".img")).string(),
            mount, options_.unit_bytes);
        if (!lfs.ok()) return lfs.status();
        filesystems_[host + "/" + UnitName(u)] = std::move(*lfs);
      } else {
        fs::create_directories(mount, ec);
      }
      for (int s = 1; s <= options_.slots_per_unit; ++s) {
        fs::create_directories(fs::path(mount) / SlotName(u, s), ec);
      }
    }
    if (ec) return absl::InternalError(absl::StrCat("preparing ", host, ": ", ec.message()));
  }
  if (absl::Status st = PrepareTransport(); !st.ok()) return st;
  auto port = FreePort();
  if (!port.ok()) return port.status();
  coordinator_address_ = absl::StrCat("127.0.0.1:", *port);
  for (const std::string& host : options_.hosts) {
    if (options_.proxy_links) {
      auto peer_port = FreePort();
      if (!peer_port.ok()) return peer_port.status();
      peer_ports_[host] = *peer_port;
      auto to_coordinator = TcpProxy::Start(coordinator_address_);
      if (!to_coordinator.ok()) return to_coordinator.status();
      coordinator_links_[host] = std::move(*to_coordinator);
      auto to_peer = TcpProxy::Start(absl::StrCat("127.0.0.1:", *peer_port));
      if (!to_peer.ok()) return to_peer.status();
      peer_links_[host] = std::move(*to_peer);
    }
    if (absl::Status st = WriteAgentConfig(host); !st.ok()) return st;
  }
  channel_ = MakeChannel(coordinator_address_, "slotmgr");
  api_ = slotkeeper::v1::Automation::NewStub(channel_);
  return absl::OkStatus();
}

std::string Cluster::CertsDir() const { return options_.tls ? options_.root + "/certs" : ""; }

std::vector<std::string> Cluster::TransportFlags(const std::string& identity) const {
  if (!options_.tls || identity.empty()) return {"--insecure_loopback_only"};
  return {absl::StrCat("--tls_ca=", CertsDir(), "/ca.pem"),
          absl::StrCat("--tls_cert=", CertsDir(), "/", identity, ".pem"),
          absl::StrCat("--tls_key=", CertsDir(), "/", identity, ".key")};
}

// The CA and every certificate (tools/certs.sh), and the test process's own
// transport: the admin's certificate, or plaintext.
absl::Status Cluster::PrepareTransport() {
  if (!options_.tls) {
    SetProcessTransportSecurity(TransportSecurity::InsecureLoopbackOnly());
    return absl::OkStatus();
  }
  std::vector<std::string> argv = {Runfile(options_.certs), CertsDir()};
  argv.insert(argv.end(), options_.hosts.begin(), options_.hosts.end());
  std::string out;
  absl::StatusOr<int> code = RunCommand(argv, &out, absl::Seconds(60));
  if (!code.ok()) return code.status();
  if (*code != 0) return absl::InternalError(absl::StrCat("tools/certs.sh failed: ", out));
  absl::StatusOr<std::shared_ptr<TransportSecurity>> admin = TransportSecurity::MutualTls(
      {CertsDir() + "/ca.pem", CertsDir() + "/admin.pem", CertsDir() + "/admin.key"});
  if (!admin.ok()) return admin.status();
  SetProcessTransportSecurity(*std::move(admin));
  Log(absl::StrCat("mutual TLS: certificates in ", CertsDir()));
  return absl::OkStatus();
}

absl::Status Cluster::WriteAgentConfig(const std::string& host) {
  const std::string dir = HostDir(host);
  std::string cfg;
  if (options_.proxy_links) {
    cfg = absl::StrCat("host: \"", host, "\"\n", "coordinator_address: \"",
                       coordinator_links_[host]->address(), "\"\n",
                       "peer_listen_address: \"127.0.0.1:", peer_ports_[host], "\"\n",
                       "peer_advertise_address: \"", peer_links_[host]->address(), "\"\n",
                       "data_dir: \"", dir, "/data\"\n");
  } else {
    cfg = absl::StrCat("host: \"", host, "\"\n", "coordinator_address: \"", coordinator_address_,
                       "\"\n", "peer_listen_address: \"127.0.0.1:0\"\n", "data_dir: \"", dir,
                       "/data\"\n");
  }
  // Each host its own range (hosts share 127.0.0.1), each slot two ports: a
  // slot's mail server takes IMAP on the first and LMTP on the next
  // (tools/hooks).
  const int host_index = static_cast<int>(
      std::find(options_.hosts.begin(), options_.hosts.end(), host) - options_.hosts.begin());
  int service_port = 14300 + 100 * host_index;
  for (int u = 1; u <= options_.units_per_host; ++u) {
    const std::string unit = UnitName(u);
    const std::string mount = UnitMount(host, unit);
    LoopFilesystem* lfs = UnitFilesystem(host, unit);
    absl::StrAppend(&cfg, "units { name: \"", unit, "\"",
                    lfs ? absl::StrCat(" devices: \"", lfs->device_name(), "\"") : "", " }\n");
    absl::StrAppend(
        &cfg, "filesystems { mount_point: \"", mount, "\" unit: \"", unit, "\"",
        lfs ? absl::StrCat(" device: \"", lfs->device_name(), "\"") : " directory_only: true",
        " }\n");
    for (int s = 1; s <= options_.slots_per_unit; ++s) {
      absl::StrAppend(&cfg, "slots { name: \"", SlotName(u, s), "\" path: \"",
                      SlotPath(host, SlotName(u, s)), "\" filesystem: \"", mount,
                      "\" capacity_bytes: ", options_.slot_capacity_bytes,
                      " service_address: \"127.0.0.1:", service_port, "\" }\n");
      service_port += 2;
    }
  }
  if (options_.tls) {
    absl::StrAppend(&cfg, "tls { ca_file: \"", CertsDir(), "/ca.pem\" cert_file: \"", CertsDir(),
                    "/", host, ".pem\" key_file: \"", CertsDir(), "/", host, ".key\" }\n");
  }
  // Fast probes: tests and the demo want detection in well under a second.
  absl::StrAppend(&cfg,
                  "probes { mount_reread_ms: 200 write_interval_ms: 200 write_deadline_ms: 2000 "
                  "capacity_interval_ms: 1000 slot_usage_interval_ms: 2000 }\n");
  absl::StrAppend(&cfg, options_.agent_config_extra, "\n");
  if (auto it = options_.host_config_extra.find(host); it != options_.host_config_extra.end()) {
    absl::StrAppend(&cfg, it->second, "\n");
  }
  std::ofstream out(fs::path(dir) / "agent.textproto");
  out << cfg;
  if (!out) return absl::InternalError(absl::StrCat("cannot write config of ", host));
  return absl::OkStatus();
}

absl::Status Cluster::StartCoordinator() {
  std::vector<std::string> argv = {
      Runfile(options_.slotmgrd), absl::StrCat("--listen=", coordinator_address_),
      absl::StrCat("--data_dir=", options_.root, "/slotmgr"), "--http_address=127.0.0.1:0"};
  for (std::string& flag : TransportFlags("slotmgr")) argv.push_back(std::move(flag));
  if (options_.tls) {
    // The operators' certificates hold the roles they are named after.
    const std::string policy = options_.root + "/policy";
    std::ofstream(policy) << "viewer viewer\noperator operator\nadmin admin\n";
    argv.push_back("--policy=" + policy);
  }
  argv.insert(argv.end(), options_.coordinator_flags.begin(), options_.coordinator_flags.end());
  if (absl::Status st = coordinator_.Start(argv, options_.root + "/slotmgrd.log"); !st.ok()) {
    return st;
  }
  auto http = coordinator_.WaitForLogLine("slotmgrd http on 127.0.0.1:", absl::Seconds(30));
  if (!http.ok()) return http.status();
  if (!absl::SimpleAtoi(http->substr(http->rfind(':') + 1), &coordinator_http_port_)) {
    return absl::InternalError(absl::StrCat("slotmgrd printed no HTTP port: ", *http));
  }
  auto line = coordinator_.WaitForLogLine("slotmgrd listening on", absl::Seconds(30));
  if (!line.ok()) return line.status();
  // After a restart the client's channel may still hold the dead
  // connection: the first call can fail (broken pipe) until it reconnects.
  if (absl::Status st = WaitForStatus([](const slotkeeper::v1::ClusterStatus&) { return true; },
                                      absl::Seconds(30), "slotmgrd answering");
      !st.ok()) {
    return st;
  }
  Log(absl::StrCat("slotmgrd up at ", coordinator_address_));
  return absl::OkStatus();
}

void Cluster::KillCoordinator() {
  coordinator_.Kill();
  // A restarted coordinator appends to the same log; mark the boundary so
  // WaitForLogLine finds the new "listening" line, not the old one.
  std::ofstream(options_.root + "/slotmgrd.log", std::ios::app) << "=== killed by test ===\n";
  std::error_code ec;
  fs::rename(options_.root + "/slotmgrd.log",
             absl::StrCat(options_.root, "/slotmgrd.", absl::ToUnixMillis(absl::Now()), ".log"),
             ec);
}

absl::Status Cluster::StartAgent(const std::string& host,
                                 const std::vector<std::string>& extra_flags) {
  auto& agent = agents_[host];
  if (agent == nullptr) agent = std::make_unique<Process>();
  if (agent->running()) return absl::FailedPreconditionError(host + " agent already running");
  std::vector<std::string> argv;
  if (auto w = options_.agent_wrapper.find(host); w != options_.agent_wrapper.end()) {
    argv = w->second;
  }
  argv.push_back(Runfile(options_.replicatord));
  argv.push_back(absl::StrCat("--config=", HostDir(host), "/agent.textproto"));
  argv.push_back("--http_address=127.0.0.1:0");
  // With TLS the config names the host's certificate.
  if (!options_.tls) argv.push_back("--insecure_loopback_only");
  argv.insert(argv.end(), options_.agent_flags.begin(), options_.agent_flags.end());
  argv.insert(argv.end(), extra_flags.begin(), extra_flags.end());
  const std::string log =
      absl::StrCat(HostDir(host), "/replicatord.", absl::ToUnixMillis(absl::Now()), ".log");
  if (absl::Status st = agent->Start(argv, log); !st.ok()) return st;
  auto line = agent->WaitForLogLine("peer listening on", absl::Seconds(30));
  if (!line.ok()) return line.status();
  auto http = agent->WaitForLogLine(" http on 127.0.0.1:", absl::Seconds(30));
  if (!http.ok()) return http.status();
  if (!absl::SimpleAtoi(http->substr(http->rfind(':') + 1), &agent_http_ports_[host])) {
    return absl::InternalError(absl::StrCat(host, "'s replicatord printed no HTTP port: ", *http));
  }
  Log(absl::StrCat(host, " agent started"));
  return absl::OkStatus();
}

absl::Status Cluster::StartAllAgents() {
  for (const std::string& host : options_.hosts) {
    if (absl::Status st = StartAgent(host); !st.ok()) return st;
  }
  return WaitForStatus(
      [&](const ClusterStatus& s) {
        for (const auto& c : s.hosts_by_state()) {
          if (c.state() == slotkeeper::v1::HOST_UP &&
              c.count() == static_cast<uint32_t>(options_.hosts.size())) {
            return true;
          }
        }
        return false;
      },
      absl::Seconds(30), "every host UP");
}

void Cluster::KillAgent(const std::string& host) {
  if (Process* p = agent(host)) p->Kill();
}

absl::Status Cluster::SignalAgent(const std::string& host, int sig) {
  Process* p = agent(host);
  if (p == nullptr) return absl::NotFoundError(host);
  return p->Signal(sig);
}

absl::StatusOr<ClusterStatus> Cluster::Status() {
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
  ClusterStatus status;
  grpc::Status st = api_->GetClusterStatus(&ctx, {}, &status);
  if (!st.ok()) return FromGrpcStatus(st);
  return status;
}

absl::StatusOr<StoreInfo> Cluster::Store(const std::string& store) {
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
  slotkeeper::v1::GetStoreRequest req;
  req.set_store(store);
  StoreInfo info;
  grpc::Status st = api_->GetStore(&ctx, req, &info);
  if (!st.ok()) return FromGrpcStatus(st);
  return info;
}

absl::StatusOr<std::vector<StoreInfo>> Cluster::Stores() {
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
  slotkeeper::v1::ListStoresResponse resp;
  grpc::Status st = api_->ListStores(&ctx, {}, &resp);
  if (!st.ok()) return FromGrpcStatus(st);
  return std::vector<StoreInfo>(resp.stores().begin(), resp.stores().end());
}

absl::Status Cluster::WaitForStatus(const std::function<bool(const ClusterStatus&)>& done,
                                    absl::Duration timeout, const std::string& what) {
  const absl::Time deadline = absl::Now() + timeout;
  absl::Status last = absl::OkStatus();
  while (absl::Now() < deadline) {
    if (options_.cancelled()) return absl::CancelledError("interrupted");
    auto s = Status();
    if (s.ok() && done(*s)) return absl::OkStatus();
    if (!s.ok()) last = s.status();
    absl::SleepFor(absl::Milliseconds(100));
  }
  return absl::DeadlineExceededError(absl::StrCat("waited ", absl::FormatDuration(timeout), " for ",
                                                  what, "; last error: ", last.ToString()));
}

absl::Status Cluster::WaitForStore(const std::string& store,
                                   const std::function<bool(const StoreInfo&)>& done,
                                   absl::Duration timeout, const std::string& what) {
  const absl::Time deadline = absl::Now() + timeout;
  std::string last;
  while (absl::Now() < deadline) {
    if (options_.cancelled()) return absl::CancelledError("interrupted");
    auto s = Store(store);
    if (s.ok() && done(*s)) return absl::OkStatus();
    last = s.ok() ? s->ShortDebugString() : s.status().ToString();
    absl::SleepFor(absl::Milliseconds(100));
  }
  return absl::DeadlineExceededError(absl::StrCat("waited ", absl::FormatDuration(timeout), " for ",
                                                  store, ": ", what, "; last: ", last));
}

absl::Status Cluster::WaitForEvent(const std::string& kind, absl::Duration timeout,
                                   slotkeeper::v1::Event* found) {
  const absl::Time deadline = absl::Now() + timeout;
  while (absl::Now() < deadline) {
    if (options_.cancelled()) return absl::CancelledError("interrupted");
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
    slotkeeper::v1::ListEventsRequest req;
    req.set_limit(100000);
    slotkeeper::v1::ListEventsResponse resp;
    if (api_->ListEvents(&ctx, req, &resp).ok()) {
      for (const auto& e : resp.events()) {
        if (e.kind() == kind) {
          if (found != nullptr) *found = e;
          return absl::OkStatus();
        }
      }
    }
    absl::SleepFor(absl::Milliseconds(100));
  }
  return absl::DeadlineExceededError(
      absl::StrCat("no event ", kind, " after ", absl::FormatDuration(timeout)));
}

absl::Status Cluster::WaitForSlotsHolding(const std::map<std::string, std::string>& holding,
                                          absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  std::string missing;
  while (absl::Now() < deadline) {
    if (options_.cancelled()) return absl::CancelledError("interrupted");
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
    slotkeeper::v1::ListHostsResponse resp;
    if (api_->ListHosts(&ctx, {}, &resp).ok()) {
      std::map<std::string, std::string> seen;
      for (const auto& h : resp.hosts()) {
        for (const auto& s : h.slots()) seen[h.name() + "/" + s.ref().slot()] = s.store();
      }
      missing.clear();
      for (const auto& [slot, store] : holding) {
        if (seen[slot] != store) absl::StrAppend(&missing, " ", slot, "=", store);
      }
      if (missing.empty()) return absl::OkStatus();
    }
    absl::SleepFor(absl::Milliseconds(200));
  }
  return absl::DeadlineExceededError(
      absl::StrCat("the coordinator does not see these slots holding their stores:", missing));
}

absl::Status Cluster::GenerateMail(const std::string& host, const std::string& slot,
                                   const std::string& store, int users, int messages,
                                   uint64_t seed) {
  std::string out;
  auto code = RunCommand(
      {Runfile(options_.mailgen), "--slot=" + SlotPath(host, slot), absl::StrCat("--users=", users),
       absl::StrCat("--messages=", messages), absl::StrCat("--seed=", seed), "--store=" + store,
       // A user belongs to one store: each store's users have its name.
       "--user_prefix=" + store + "-user"},
      &out);
  if (!code.ok()) return code.status();
  if (*code != 0) return absl::InternalError(absl::StrCat("mailgen failed: ", out));
  if (options_.mail_uid >= 0) {
    code = RunCommand({"chown", "-R", absl::StrCat(options_.mail_uid, ":", options_.mail_gid),
                       SlotPath(host, slot) + "/users"},
                      &out);
    if (!code.ok()) return code.status();
    if (*code != 0) return absl::InternalError(absl::StrCat("chown of the mail failed: ", out));
  }
  return absl::OkStatus();
}

absl::Status Cluster::MutateMail(const std::string& host, const std::string& slot, uint64_t seed,
                                 const std::vector<std::string>& mailgen_flags) {
  std::vector<std::string> argv = {Runfile(options_.mailgen), "--slot=" + SlotPath(host, slot),
                                   "--mutate", absl::StrCat("--seed=", seed)};
  argv.insert(argv.end(), mailgen_flags.begin(), mailgen_flags.end());
  std::string out;
  auto code = RunCommand(argv, &out);
  if (!code.ok()) return code.status();
  if (*code != 0) return absl::InternalError(absl::StrCat("mailgen --mutate failed: ", out));
  return absl::OkStatus();
}

absl::StatusOr<std::map<std::string, SlotContent>> Cluster::CreateStores(
    const std::vector<StoreLayout>& stores, int users, int messages, int copies,
    absl::Duration timeout) {
  std::map<std::string, SlotContent> snapshot;
  std::map<std::string, std::string> holding;
  uint64_t seed = 1;
  for (const StoreLayout& s : stores) {
    if (absl::Status st = GenerateMail(s.host, s.slot, s.name, users, messages, seed++); !st.ok()) {
      return st;
    }
    auto content = ReadSlotContent(SlotPath(s.host, s.slot));
    if (!content.ok()) return content.status();
    snapshot[s.name] = *std::move(content);
    holding[s.host + "/" + s.slot] = s.name;
  }
  // The agents' slot scans tell the coordinator which slots now hold a
  // store, so that placement does not take them for spare.
  if (absl::Status st = WaitForSlotsHolding(holding, absl::Seconds(30)); !st.ok()) return st;
  for (const StoreLayout& s : stores) {
    std::string out;
    auto code = Slotctl({"store", "create", s.name, "--master", s.host + "/" + s.slot, "--copies",
                         absl::StrCat(copies)},
                        &out);
    if (!code.ok()) return code.status();
    if (*code != 0) {
      return absl::InternalError(
          absl::StrCat("slotctl store create ", s.name, ": ", out, CoordinatorDiagnosis()));
    }
  }
  const uint32_t n = static_cast<uint32_t>(stores.size());
  if (absl::Status st = WaitForStatus(
          [n](const slotkeeper::v1::ClusterStatus& s) {
            return s.stores_total() == n && s.stores_healthy() == n;
          },
          timeout, absl::StrCat("all ", n, " stores healthy (every copy seeded)"));
      !st.ok()) {
    return st;
  }
  return snapshot;
}

std::string Cluster::CoordinatorDiagnosis() {
  if (!coordinator_.running()) return " (slotmgrd is not running)";
  auto code = coordinator_.Wait(absl::ZeroDuration());
  if (!code.ok()) return "";  // still running
  std::string log = coordinator_.ReadLog();
  if (log.size() > 2000) log = log.substr(log.size() - 2000);
  return absl::StrCat(" (slotmgrd exited with status ", *code, "; end of its log:\n", log, ")");
}

absl::StatusOr<int> Cluster::Slotctl(const std::vector<std::string>& args, std::string* out,
                                     absl::Duration timeout) {
  return SlotctlAs(options_.slotctl_identity, args, out, timeout);
}

absl::StatusOr<int> Cluster::SlotctlAs(const std::string& identity,
                                       const std::vector<std::string>& args, std::string* out,
                                       absl::Duration timeout) {
  std::vector<std::string> argv = {Runfile(options_.slotctl), "--server=" + coordinator_address_};
  for (std::string& flag : TransportFlags(identity)) argv.push_back(std::move(flag));
  argv.insert(argv.end(), args.begin(), args.end());
  return RunCommand(argv, out, timeout);
}

absl::StatusOr<std::vector<std::string>> Cluster::CheckStoreHas(const std::string& store,
                                                                const SlotContent& expected) {
  auto info = Store(store);
  if (!info.ok()) return info.status();
  std::vector<std::string> problems;
  for (const auto& copy : info->copies()) {
    if (copy.role() == slotkeeper::v1::SLOT_LOST) continue;
    const std::string where = absl::StrCat(copy.slot().host(), "/", copy.slot().slot());
    auto content = ReadSlotContent(SlotPath(copy.slot().host(), copy.slot().slot()));
    if (!content.ok()) {
      problems.push_back(absl::StrCat(where, ": ", content.status().ToString()));
      continue;
    }
    for (const std::string& p : MissingFrom(expected, *content)) {
      problems.push_back(absl::StrCat(store, " on ", where, ": ", p));
    }
  }
  return problems;
}

}  // namespace slotkeeper::testing

// ---- Helpers of the fault-injection tests ---------------------------------

namespace slotkeeper::testing {

absl::StatusOr<std::vector<slotkeeper::v1::Event>> ListAllEvents(Cluster& cluster) {
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
  slotkeeper::v1::ListEventsRequest req;
  req.set_limit(1000000);
  slotkeeper::v1::ListEventsResponse resp;
  grpc::Status st = cluster.api().ListEvents(&ctx, req, &resp);
  if (!st.ok()) return FromGrpcStatus(st);
  return std::vector<slotkeeper::v1::Event>(resp.events().begin(), resp.events().end());
}

absl::StatusOr<std::vector<slotkeeper::v1::TaskInfo>> ListAllTasks(Cluster& cluster) {
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
  slotkeeper::v1::ListTasksRequest req;
  req.set_include_finished(true);
  slotkeeper::v1::ListTasksResponse resp;
  grpc::Status st = cluster.api().ListTasks(&ctx, req, &resp);
  if (!st.ok()) return FromGrpcStatus(st);
  return std::vector<slotkeeper::v1::TaskInfo>(resp.tasks().begin(), resp.tasks().end());
}

std::string MasterOf(const slotkeeper::v1::StoreInfo& store) {
  for (const auto& c : store.copies()) {
    if (c.role() == slotkeeper::v1::SLOT_MASTER) {
      return absl::StrCat(c.slot().host(), "/", c.slot().slot());
    }
  }
  return "";
}

absl::Status WaitForFullRecovery(
    Cluster& cluster, const std::function<bool(const slotkeeper::v1::StoreInfo&)>& refers,
    absl::Duration timeout, const std::string& what) {
  return cluster.WaitForStatus(
      [&](const slotkeeper::v1::ClusterStatus& s) {
        if (s.stores_healthy() != s.stores_total() || s.recovery().tasks_running() != 0 ||
            s.recovery().tasks_queued() != 0) {
          return false;
        }
        auto all = cluster.Stores();
        if (!all.ok()) return false;
        for (const auto& st : *all) {
          if (refers(st)) return false;
        }
        return true;
      },
      timeout, what);
}

bool HasCopyOn(const slotkeeper::v1::StoreInfo& store, const std::string& host) {
  for (const auto& c : store.copies()) {
    if (c.slot().host() == host) return true;
  }
  return false;
}

std::vector<std::string> CheckNoMessageLost(Cluster& cluster,
                                            const std::map<std::string, SlotContent>& reference) {
  std::vector<std::string> problems;
  for (const auto& [store, content] : reference) {
    auto found = cluster.CheckStoreHas(store, content);
    if (!found.ok()) {
      problems.push_back(absl::StrCat(store, ": ", found.status().ToString()));
      continue;
    }
    problems.insert(problems.end(), found->begin(), found->end());
  }
  return problems;
}

absl::Status RemountReadOnlyRetrying(LoopFilesystem& fs) {
  absl::Status last;
  const absl::Time deadline = absl::Now() + absl::Seconds(20);
  while (absl::Now() < deadline) {
    last = fs.RemountReadOnly();
    if (last.ok()) return last;
    absl::SleepFor(absl::Milliseconds(5));
  }
  return last;
}

absl::StatusOr<std::string> AgentRecordedRole(const std::string& root, const std::string& host,
                                              const std::string& slot) {
  const std::string path = (fs::path(root) / host / "data" / "agent-state.textproto").string();
  std::ifstream in(path);
  if (!in) return absl::NotFoundError(absl::StrCat("cannot read ", path));
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  // Text format of AgentStateFile: `roles { slot: "du1s1" store: "st1"
  // role: "master" epoch: 2 }`, one block per slot.
  auto field = [](absl::string_view block, absl::string_view name) -> std::string {
    const std::string key = absl::StrCat(name, ": \"");
    size_t at = block.find(key);
    if (at == absl::string_view::npos) return "";
    at += key.size();
    size_t end = block.find('"', at);
    return std::string(block.substr(at, end == absl::string_view::npos ? 0 : end - at));
  };
  absl::string_view rest(text);
  for (size_t at = rest.find("roles {"); at != absl::string_view::npos; at = rest.find("roles {")) {
    rest.remove_prefix(at + 7);
    absl::string_view block = rest.substr(0, rest.find('}'));
    if (field(block, "slot") == slot) return field(block, "role");
  }
  return std::string();
}

void RecordIncidentInputs(Cluster& c, const std::string& dir, const std::string& since) {
  const std::vector<std::pair<std::string, std::vector<std::string>>> files = {
      {"incident-journal.json", {"--json", "events", "--since", since, "--limit", "100000"}},
      {"incident-status.json", {"--json", "status"}},
      {"incident-stores.json", {"--json", "stores"}},
  };
  for (const auto& [name, args] : files) {
    std::string out;
    auto code = c.Slotctl(args, &out);
    const std::string path = absl::StrCat(dir, "/", name);
    std::ofstream f(path);
    f << out;
    f.close();
    std::printf("  slotctl %s -> %s%s\n", absl::StrJoin(args, " ").c_str(), path.c_str(),
                code.ok() && *code == 0 && f ? "" : " (FAILED)");
  }
  std::fflush(stdout);
}

}  // namespace slotkeeper::testing
