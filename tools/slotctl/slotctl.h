// slotctl: the operator's command line for Slotkeeper, as a library.
//
// RunSlotctl() takes the arguments after the program name and everything it
// may touch from the outside world (streams, clock, environment, a way to
// connect) in an Environment, so that tests drive it with a fake cluster and
// string streams. main() only fills the Environment.
//
// Exit codes: kExitOk, kExitFailed, kExitUsage below; `status` also says
// whether mail is safe with kExitDegraded or kExitMailAtRisk.
#ifndef SLOTKEEPER_TOOLS_SLOTCTL_SLOTCTL_H_
#define SLOTKEEPER_TOOLS_SLOTCTL_SLOTCTL_H_

#include <functional>
#include <iosfwd>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "base/clock.h"
#include "base/tls_flags.h"
#include "tools/slotctl/cluster_client.h"

namespace slotkeeper::slotctl {

inline constexpr char kDefaultServer[] = "127.0.0.1:7300";

// Every verb: 0 ok; 1 the operation failed (server error, refusal, not
// confirmed, unreachable server) or ksck found problems; 2 usage error.
inline constexpr int kExitOk = 0;
inline constexpr int kExitFailed = 1;
inline constexpr int kExitUsage = 2;
// `status` only, for scripts and monitoring: every store has a usable
// master but some have fewer copies than required ...
inline constexpr int kExitDegraded = 3;
// ... or some store has no usable master: mail for its users is not being
// delivered (or only on a master whose own slot reports hard evidence).
inline constexpr int kExitMailAtRisk = 4;

// Makes a client for `server` (HOST:PORT, already validated) whose unary
// calls time out after `timeout`.
using ClientFactory = std::function<std::unique_ptr<ClusterClient>(const std::string& server,
                                                                   absl::Duration timeout)>;

// Installs the transport security chosen (--tls_* / --insecure_loopback_only
// over the environment's SLOTKEEPER_TLS_* defaults) and the name the
// coordinator's certificate must carry; an error is a usage error.
using TransportInstaller =
    std::function<absl::Status(const TransportChoice& choice, const std::string& server_name)>;

// What slotctl uses from its surroundings. Pointers are not owned and must
// outlive the call.
struct Environment {
  std::ostream* out = nullptr;  // results (tables, JSON)
  std::ostream* err = nullptr;  // errors, prompts
  std::istream* in = nullptr;   // answers to confirmation prompts
  Clock* clock = nullptr;       // "now" for relative times and --since
  bool stdout_is_terminal = false;
  bool no_color = false;        // NO_COLOR is set
  std::string server_from_env;  // SLOTMGR_ADDR, "" when unset
  std::string user;             // who runs it (recorded with automation pause)
  // SLOTKEEPER_TLS_CA, _CERT, _KEY and SLOTKEEPER_INSECURE_LOOPBACK_ONLY=1:
  // defaults of the flags; SLOTKEEPER_TLS_SERVER_NAME of --tls_server_name.
  TransportChoice transport_from_env;
  std::string server_name_from_env;
  ClientFactory connect;
  // Waits between reconnection attempts (events --follow); none: real time.
  std::function<void(absl::Duration)> sleep;
  // Called before connecting; none (tests with a fake cluster): nothing to
  // choose.
  TransportInstaller install_transport;
};

// Runs one command line (without the program name). Not thread-safe with
// respect to the streams it writes.
int RunSlotctl(const std::vector<std::string>& args, const Environment& env);

}  // namespace slotkeeper::slotctl

#endif  // SLOTKEEPER_TOOLS_SLOTCTL_SLOTCTL_H_
