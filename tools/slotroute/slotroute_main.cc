// slotroute: tells a front Dovecot proxy where each user's mail is served.
//
//   slotroute --coordinator=127.0.0.1:7300 --socket=/run/slotroute/dict.sock
//             --socket_user=dovecot --tls_ca=... --tls_cert=... --tls_key=...
//
// Follows the coordinator's WatchRouting (and LookupUser on a miss) and
// answers the front proxy's passdb lookups over Dovecot's dict protocol on a
// UNIX socket (tools/slotroute/README.md has the proxy's config). Prints
// "slotroute serving on PATH" once the socket listens; stops on SIGTERM or
// SIGINT.
#include <grp.h>
#include <pwd.h>
#include <signal.h>

#include <cstdio>
#include <string>

#include "absl/flags/flag.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "base/clock.h"
#include "base/command_line.h"
#include "base/duration.h"
#include "base/grpc_util.h"
#include "base/log.h"
#include "base/log_flags.h"
#include "base/tls_flags.h"
#include "proto/automation.grpc.pb.h"
#include "tools/slotroute/coordinator_link.h"
#include "tools/slotroute/dict_server.h"
#include "tools/slotroute/route_table.h"
#include "tools/slotroute/router.h"

ABSL_FLAG(std::string, coordinator, "", "the coordinator's address, HOST:PORT (required)");
ABSL_FLAG(std::string, coordinator_identity, "slotmgr",
          "the name the coordinator's certificate must carry");
ABSL_FLAG(std::string, socket, "", "the dict socket the front proxy's passdb uses (required)");
ABSL_FLAG(std::string, socket_user, "",
          "give the socket to this user and its group (the proxy's auth processes' user)");
ABSL_FLAG(int, lmtp_port_offset, 1, "a master's LMTP port after its IMAP port (service address)");
ABSL_FLAG(slotkeeper::FlagDuration, refresh_after, absl::Seconds(10),
          "ask the coordinator again about a route older than this");
ABSL_FLAG(slotkeeper::FlagDuration, lookup_deadline, absl::Seconds(2),
          "deadline of one LookupUser call");

namespace {

volatile sig_atomic_t g_stop = 0;
void OnSignal(int) { g_stop = 1; }

int Fail(const std::string& what) {
  std::fprintf(stderr, "slotroute: %s\n", what.c_str());
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  using namespace slotkeeper;
  ParseCommandLineOrExit(argc, argv, "slotroute",
                         "Usage: slotroute --coordinator=HOST:PORT --socket=PATH [TLS flags]\n"
                         "Routes a front Dovecot proxy's users to their store's master.");
  if (absl::Status st = InitLoggingFromFlags("slotroute"); !st.ok()) return Fail(st.ToString());
  const std::string coordinator = absl::GetFlag(FLAGS_coordinator);
  if (absl::Status st = ValidateHostPort(coordinator); !st.ok()) {
    return Fail(absl::StrCat("--coordinator: ", st.message()));
  }
  slotroute::DictServerOptions dict;
  dict.path = absl::GetFlag(FLAGS_socket);
  if (const std::string user = absl::GetFlag(FLAGS_socket_user); !user.empty()) {
    const passwd* pw = ::getpwnam(user.c_str());
    if (pw == nullptr) return Fail(absl::StrCat("--socket_user: no user '", user, "'"));
    dict.owner_uid = static_cast<int>(pw->pw_uid);
    dict.owner_gid = static_cast<int>(pw->pw_gid);
  }
  const int offset = absl::GetFlag(FLAGS_lmtp_port_offset);
  if (offset < 1 || offset > 1000) return Fail("--lmtp_port_offset must be within 1..1000");
  if (absl::Status st = InstallTransportSecurityFromFlags(); !st.ok()) return Fail(st.ToString());

  std::shared_ptr<grpc::Channel> channel =
      MakeChannel(coordinator, absl::GetFlag(FLAGS_coordinator_identity));
  std::unique_ptr<v1::Automation::Stub> stub = v1::Automation::NewStub(channel);
  slotroute::RouteTable table;
  slotroute::GrpcUserLocator locator(stub.get(), absl::GetFlag(FLAGS_lookup_deadline));
  slotroute::Router router(&table, &locator, RealClock(),
                           {offset, absl::GetFlag(FLAGS_refresh_after)});
  slotroute::RoutingFollower follower(stub.get(), &table, RealClock());
  follower.Start();
  absl::StatusOr<std::unique_ptr<slotroute::DictServer>> server =
      slotroute::DictServer::Start(dict, &router);
  if (!server.ok()) {
    follower.Stop();
    return Fail(absl::StrCat("--socket: ", server.status().message()));
  }
  signal(SIGTERM, OnSignal);
  signal(SIGINT, OnSignal);
  signal(SIGPIPE, SIG_IGN);
  std::printf("slotroute serving on %s\n", dict.path.c_str());
  std::fflush(stdout);
  while (!g_stop) absl::SleepFor(absl::Milliseconds(100));
  LogInfo("slotroute", "stopping");
  (*server)->Stop();
  follower.Stop();
  return 0;
}
