#include "tests/e2e/mail_front.h"

#include <netinet/in.h>
#include <pwd.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"

namespace slotkeeper::testing {
namespace {

namespace fs = std::filesystem;

constexpr char kMailUser[] = "mail";

absl::StatusOr<passwd> MailUser() {
  const passwd* pw = ::getpwnam(kMailUser);
  if (pw == nullptr) return absl::NotFoundError("no user 'mail' on this machine");
  return *pw;
}

absl::StatusOr<int> FreeLoopbackPort() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof(addr);
  if (fd < 0 || ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0 ||
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    if (fd >= 0) ::close(fd);
    return absl::InternalError(absl::StrCat("no free port: ", std::strerror(errno)));
  }
  ::close(fd);
  return ntohs(addr.sin_port);
}

bool Accepts(int port) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(static_cast<uint16_t>(port));
  const bool ok = ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0;
  ::close(fd);
  return ok;
}

absl::Status ChownTree(const fs::path& top, uid_t uid, gid_t gid) {
  std::error_code ec;
  if (::chown(top.c_str(), uid, gid) != 0) {
    return absl::InternalError(absl::StrCat("chown ", top.string(), ": ", std::strerror(errno)));
  }
  for (auto it = fs::recursive_directory_iterator(top, ec); !ec && it != fs::end(it);
       it.increment(ec)) {
    if (::lchown(it->path().c_str(), uid, gid) != 0) {
      return absl::InternalError(
          absl::StrCat("chown ", it->path().string(), ": ", std::strerror(errno)));
    }
  }
  return ec ? absl::InternalError(absl::StrCat("walking ", top.string(), ": ", ec.message()))
            : absl::OkStatus();
}

std::string ReadText(const fs::path& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

// The PID in `pid_file` when that process is alive, not a zombie, and its
// command line holds every one of `words` (not a recycled PID).
pid_t LivePid(const fs::path& pid_file, const std::vector<std::string>& words) {
  int pid = 0;
  if (!absl::SimpleAtoi(absl::StripAsciiWhitespace(ReadText(pid_file)), &pid) || pid <= 1) {
    return 0;
  }
  std::string cmdline = ReadText(absl::StrCat("/proc/", pid, "/cmdline"));
  for (char& c : cmdline) {
    if (c == '\0') c = ' ';
  }
  for (const std::string& w : words) {
    if (!absl::StrContains(cmdline, w)) return 0;
  }
  if (absl::StrContains(ReadText(absl::StrCat("/proc/", pid, "/status")), "State:\tZ")) return 0;
  return pid;
}

void StopPid(pid_t pid, const fs::path& pid_file, const std::vector<std::string>& words) {
  ::kill(pid, SIGTERM);
  for (int i = 0; i < 100 && LivePid(pid_file, words) == pid; ++i) {
    absl::SleepFor(absl::Milliseconds(50));
  }
  if (LivePid(pid_file, words) == pid) ::kill(pid, SIGKILL);
}

}  // namespace

absl::Status CanRunDovecot() {
  if (::geteuid() != 0) return absl::FailedPreconditionError("not root");
  if (!fs::exists("/usr/sbin/dovecot")) {
    return absl::FailedPreconditionError("Dovecot is not installed (tools/dev deps)");
  }
  return MailUser().status();
}

absl::StatusOr<std::string> MakeMailRoot(const std::string& name) {
  std::string dir = absl::StrCat("/tmp/slotkeeper-", name, ".XXXXXX");
  if (::mkdtemp(dir.data()) == nullptr) {
    return absl::InternalError(absl::StrCat("mkdtemp ", dir, ": ", std::strerror(errno)));
  }
  ::chmod(dir.c_str(), 0755);
  return dir;
}

absl::Status MailFront::Configure(ClusterOptions& options, const std::vector<std::string>& users) {
  absl::StatusOr<passwd> mail = MailUser();
  if (!mail.ok()) return mail.status();
  const fs::path dir = fs::path(options.root) / "mail";
  std::error_code ec;
  fs::create_directories(dir, ec);
  std::ofstream passdb(dir / "users.passwd");
  for (const std::string& u : users) passdb << u << ":{PLAIN}" << kMailPassword << "\n";
  passdb.close();
  if (!passdb) return absl::InternalError("cannot write the users' passwd-file");
  ::chmod((dir / "users.passwd").c_str(), 0644);
  options.mail_uid = static_cast<int>(mail->pw_uid);
  options.mail_gid = static_cast<int>(mail->pw_gid);
  absl::StrAppend(&options.agent_config_extra, "\ndata_path { mail_uid: ", mail->pw_uid,
                  " mail_gid: ", mail->pw_gid, " }\n");
  for (const std::string& host : options.hosts) {
    const std::string env =
        absl::StrCat("SLOTKEEPER_DOVECOT_DIR=", options.root, "/", host,
                     "/dovecot SLOTKEEPER_DOVECOT_PASSDB=", (dir / "users.passwd").string(),
                     " SLOTKEEPER_SLOTFENCE=", Runfile("tools/slotfence/slotfence"), " ",
                     Runfile("tools/hooks/dovecot_slot.sh"));
    absl::StrAppend(&options.host_config_extra[host], "\nhooks { pre_promote: \"", env,
                    " pre_promote\" promote: \"", env, " promote\" demote: \"", env,
                    " demote\" timeout_ms: 20000 }\n");
  }
  return absl::OkStatus();
}

absl::Status MailFront::MakeUsers(Cluster& cluster, const std::string& host,
                                  const std::string& slot, const std::string& store,
                                  const std::vector<std::string>& users) {
  absl::StatusOr<passwd> mail = MailUser();
  if (!mail.ok()) return mail.status();
  const fs::path slot_dir = cluster.SlotPath(host, slot);
  std::error_code ec;
  for (const std::string& u : users) {
    for (const char* sub : {"cur", "new", "tmp"}) {
      fs::create_directories(slot_dir / "users" / u / sub, ec);
      if (ec) return absl::InternalError(absl::StrCat("mkdir for ", u, ": ", ec.message()));
    }
  }
  std::ofstream(slot_dir / ".slotkeeper-store") << store << "\n";
  return ChownTree(slot_dir / "users", mail->pw_uid, mail->pw_gid);
}

absl::StatusOr<std::unique_ptr<MailFront>> MailFront::Start(Cluster& cluster,
                                                            const std::string& root) {
  std::unique_ptr<MailFront> front(new MailFront(root));
  const fs::path dir = fs::path(root) / "mail";
  std::vector<std::string> argv = {Runfile("tools/slotroute/slotroute"),
                                   "--coordinator=" + cluster.coordinator_address(),
                                   "--socket=" + (dir / "slotroute.sock").string(),
                                   "--socket_user=mail",
                                   "--lmtp_port_offset=1",
                                   "--refresh_after=5s"};
  for (std::string& f : cluster.TransportFlags("viewer")) argv.push_back(std::move(f));
  if (absl::Status st = front->slotroute_.Start(argv, (dir / "slotroute.log").string()); !st.ok()) {
    return st;
  }
  if (auto line = front->slotroute_.WaitForLogLine("slotroute serving on", absl::Seconds(20));
      !line.ok()) {
    return absl::InternalError(absl::StrCat("slotroute did not start: ", line.status().message(),
                                            "\n", front->slotroute_.ReadLog()));
  }
  if (absl::Status st = front->StartFront(); !st.ok()) return st;
  return front;
}

// The front proxy: IMAP and LMTP, every login and recipient looked up in
// slotroute's dict, as the mail user.
absl::Status MailFront::StartFront() {
  absl::StatusOr<passwd> mail = MailUser();
  if (!mail.ok()) return mail.status();
  const fs::path dir = fs::path(root_) / "mail" / "front";
  std::error_code ec;
  fs::create_directories(dir / "run", ec);
  fs::create_directories(dir / "state", ec);
  auto imap = FreeLoopbackPort();
  auto lmtp = FreeLoopbackPort();
  if (!imap.ok() || !lmtp.ok() || *imap == *lmtp) return absl::InternalError("no free ports");
  imap_port_ = *imap;
  lmtp_port_ = *lmtp;
  std::ofstream(dir / "passdb-dict.conf")
      << "uri = proxy:" << (fs::path(root_) / "mail" / "slotroute.sock").string()
      << ":slotroute\npassword_key = passdb/%s/%u\n";
  const std::string d = dir.string();
  std::ofstream conf(dir / "dovecot.conf");
  conf << "instance_name = slotkeeper-front\nbase_dir = " << d << "/run\nstate_dir = " << d
       << "/state\nlog_path = " << d << "/dovecot.log\nprotocols = imap lmtp\n"
       << "listen = 127.0.0.1\nssl = no\ndisable_plaintext_auth = no\n"
       << "auth_mechanisms = plain login\nlmtp_proxy = yes\n"
       << "default_internal_user = mail\ndefault_internal_group = mail\n"
       << "default_login_user = mail\n"
       << "passdb {\n  driver = dict\n  args = " << d << "/passdb-dict.conf\n}\n"
       << "service imap-login {\n  chroot =\n  inet_listener imap {\n    address = 127.0.0.1\n"
       << "    port = " << imap_port_ << "\n  }\n  inet_listener imaps {\n    port = 0\n  }\n}\n"
       << "service lmtp {\n  inet_listener lmtp {\n    address = 127.0.0.1\n    port = "
       << lmtp_port_ << "\n  }\n}\n";
  for (const char* s : {"anvil", "stats", "imap-hibernate", "ipc"}) {
    conf << "service " << s << " {\n  chroot =\n}\n";
  }
  conf << "service auth {\n  user = $default_internal_user\n}\n"
       << "service auth-worker {\n  user = $default_internal_user\n}\n";
  conf.close();
  if (absl::Status st = ChownTree(dir, mail->pw_uid, mail->pw_gid); !st.ok()) return st;
  if (absl::Status st =
          front_.Start({"setpriv", "--reuid=mail", "--regid=mail", "--clear-groups", "--",
                        "/usr/sbin/dovecot", "-F", "-c", (dir / "dovecot.conf").string()},
                       d + "/stdout.log");
      !st.ok()) {
    return st;
  }
  const absl::Time deadline = absl::Now() + absl::Seconds(20);
  while (!(Accepts(imap_port_) && Accepts(lmtp_port_))) {
    if (absl::Now() > deadline) {
      return absl::InternalError(absl::StrCat(
          "the front proxy did not start: ", ReadText(dir / "dovecot.log"), front_.ReadLog()));
    }
    absl::SleepFor(absl::Milliseconds(100));
  }
  return absl::OkStatus();
}

MailFront::~MailFront() {
  front_.Stop(absl::Seconds(5));
  slotroute_.Stop(absl::Seconds(5));
  StopInstances();
}

// Every slot instance under ROOT/HOST/dovecot: its fence, then its Dovecot.
void MailFront::StopInstances() {
  std::error_code ec;
  for (const auto& host : fs::directory_iterator(root_, ec)) {
    for (const auto& inst : fs::directory_iterator(host.path() / "dovecot", ec)) {
      const std::string conf = (inst.path() / "dovecot.conf").string();
      const fs::path fence = inst.path() / "fence.pid";
      if (pid_t pid = LivePid(fence, {"slotfence", conf}); pid > 0) {
        StopPid(pid, fence, {"slotfence", conf});
      }
      const fs::path master = inst.path() / "run" / "master.pid";
      if (pid_t pid = LivePid(master, {"dovecot", conf}); pid > 0) {
        StopPid(pid, master, {"dovecot", conf});
      }
    }
    ec.clear();
  }
}

std::vector<std::string> MailFront::ClientArgv(const std::string& command,
                                               const std::vector<std::string>& args) const {
  std::vector<std::string> argv = {"python3",
                                   Runfile("tests/e2e/mail_client.py"),
                                   command,
                                   absl::StrCat("--imap=", imap_port_),
                                   absl::StrCat("--lmtp=", lmtp_port_),
                                   absl::StrCat("--password=", kMailPassword)};
  argv.insert(argv.end(), args.begin(), args.end());
  return argv;
}

absl::StatusOr<int> MailFront::RunClient(const std::string& command,
                                         const std::vector<std::string>& args, std::string* out,
                                         absl::Duration timeout) {
  return RunCommand(ClientArgv(command, args), out, timeout);
}

bool MailFront::InstanceRunning(const std::string& host, const std::string& slot) const {
  const fs::path inst = fs::path(root_) / host / "dovecot" / slot;
  return LivePid(inst / "run" / "master.pid", {"dovecot", (inst / "dovecot.conf").string()}) > 0;
}

std::string MailFront::InstanceLog(const std::string& host, const std::string& slot) const {
  const fs::path inst = fs::path(root_) / host / "dovecot" / slot;
  std::string log = ReadText(inst / "fence.log") + ReadText(inst / "dovecot.log");
  return log.size() > 3000 ? log.substr(log.size() - 3000) : log;
}

}  // namespace slotkeeper::testing
