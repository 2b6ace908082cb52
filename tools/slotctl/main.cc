// slotctl: fills the Environment from the process (streams, clock, terminal,
// SLOTMGR_ADDR, NO_COLOR, SLOTKEEPER_TLS_*, the user name) and runs the
// library. See slotctl.h. `slotctl --version` alone prints the build's
// version line.
#include <pwd.h>
#include <unistd.h>

#include <cstdlib>
#include <iostream>
#include <string>
#include <vector>

#include "base/build_info.h"
#include "base/clock.h"
#include "base/tls.h"
#include "base/tls_flags.h"
#include "tools/slotctl/grpc_cluster_client.h"
#include "tools/slotctl/slotctl.h"

namespace {

std::string EnvOrEmpty(const char* name) {
  const char* value = std::getenv(name);
  return value == nullptr ? "" : value;
}

}  // namespace

int main(int argc, char** argv) {
  using slotkeeper::slotctl::ClusterClient;
  using slotkeeper::slotctl::GrpcClusterClient;
  std::vector<std::string> args(argv + 1, argv + argc);
  // The one line every Slotkeeper binary prints (base/build_info.h).
  if (args.size() == 1 && args[0] == "--version") {
    std::cout << slotkeeper::VersionLine("slotctl", slotkeeper::ThisBuild()) << "\n";
    return 0;
  }
  slotkeeper::slotctl::Environment env;
  env.out = &std::cout;
  env.err = &std::cerr;
  env.in = &std::cin;
  env.clock = slotkeeper::RealClock();
  env.stdout_is_terminal = isatty(STDOUT_FILENO) == 1;
  env.no_color = std::getenv("NO_COLOR") != nullptr;
  env.server_from_env = EnvOrEmpty("SLOTMGR_ADDR");
  env.user = EnvOrEmpty("USER");
  if (env.user.empty()) env.user = EnvOrEmpty("LOGNAME");
  if (env.user.empty()) {
    if (const passwd* pw = getpwuid(getuid()); pw != nullptr) env.user = pw->pw_name;
  }
  env.transport_from_env.files = {EnvOrEmpty("SLOTKEEPER_TLS_CA"),
                                  EnvOrEmpty("SLOTKEEPER_TLS_CERT"),
                                  EnvOrEmpty("SLOTKEEPER_TLS_KEY")};
  env.transport_from_env.insecure_loopback_only =
      EnvOrEmpty("SLOTKEEPER_INSECURE_LOOPBACK_ONLY") == "1";
  env.server_name_from_env = EnvOrEmpty("SLOTKEEPER_TLS_SERVER_NAME");
  // The coordinator's expected name, set by install_transport before any
  // connection is made.
  auto server_name = std::make_shared<std::string>();
  env.install_transport = [server_name](const slotkeeper::TransportChoice& choice,
                                        const std::string& name) -> absl::Status {
    absl::StatusOr<std::shared_ptr<slotkeeper::TransportSecurity>> security =
        slotkeeper::ChooseTransportSecurity(choice);
    if (!security.ok()) return security.status();
    slotkeeper::SetProcessTransportSecurity(*std::move(security));
    *server_name = name;
    return absl::OkStatus();
  };
  env.connect = [server_name](const std::string& server,
                              absl::Duration timeout) -> std::unique_ptr<ClusterClient> {
    return std::make_unique<GrpcClusterClient>(server, timeout, *server_name);
  };
  const int code = slotkeeper::slotctl::RunSlotctl(args, env);
  std::cout.flush();
  return code;
}
