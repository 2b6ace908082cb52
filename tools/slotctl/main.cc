// slotctl: fills the Environment from the process (streams, clock, terminal,
// SLOTMGR_ADDR, NO_COLOR, the user name) and runs the library. See slotctl.h.
#include <pwd.h>
#include <unistd.h>

#include <cstdlib>
#include <iostream>
#include <string>
#include <vector>

#include "base/clock.h"
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
  env.connect = [](const std::string& server,
                   absl::Duration timeout) -> std::unique_ptr<ClusterClient> {
    return std::make_unique<GrpcClusterClient>(server, timeout);
  };
  const int code = slotkeeper::slotctl::RunSlotctl(args, env);
  std::cout.flush();
  return code;
}
