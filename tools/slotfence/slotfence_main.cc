// slotfence: runs a slot's mail server only while the slot holds its master
// lease, whatever happens to the agent.
//
//   slotfence --lease_file=/var/lib/slotkeeper/leases/s01.lease \
//       [--store=st1 --epoch=4] -- /usr/sbin/dovecot -F -c /run/slot-s01/dovecot.conf
//
// A promote hook starts it (in a session of its own). It refuses to start
// the server unless the lease file shows a valid lease; then it polls the
// file and stops the server (SIGTERM to its process group, SIGKILL after
// --stop_grace) as soon as the lease runs out, the file is removed (the
// agent demoted the slot) or it names another store or epoch. Because the
// agent's lease ends before the coordinator may promote another copy, the
// server is stopped before any promotion: also when the agent crashed
// (nobody renews the file) or hangs (SIGSTOP, a stuck disk). The server gets
// PR_SET_PDEATHSIG, so killing slotfence kills it too.
//
// Why a fence process rather than the Linux watchdog or systemd BindsTo=:
// the watchdog reboots the whole host, taking every healthy slot's master and
// replica down for one slot's stale lease; BindsTo= ties the server to the
// agent's unit, so every agent restart or upgrade would stop all mail on the
// host even while its leases are valid. A per-slot fence stops exactly the
// slot whose lease ended, and only then.
//
// Exit status: the server's own when it exits by itself; 0 after stopping it
// for the fence; 3 when it refused to start (no valid lease); 2 for usage.
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "base/command_line.h"
#include "base/duration.h"
#include "tools/slotfence/fence_policy.h"

ABSL_FLAG(std::string, lease_file, "", "the slot's lease file, written by replicatord (required)");
ABSL_FLAG(std::string, store, "", "stop unless the lease is for this store");
ABSL_FLAG(uint64_t, epoch, 0, "stop unless the lease is for this master epoch");
ABSL_FLAG(slotkeeper::FlagDuration, poll, absl::Milliseconds(100),
          "how often the lease file is read");
ABSL_FLAG(slotkeeper::FlagDuration, stop_grace, absl::Seconds(3),
          "time between SIGTERM and SIGKILL when stopping the server");

namespace {

volatile sig_atomic_t g_signal = 0;
void OnSignal(int sig) { g_signal = sig; }

absl::Duration Monotonic() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return absl::DurationFromTimespec(ts);
}

absl::StatusOr<std::string> ReadFile(const std::string& path) {
  std::ifstream in(path);
  if (!in) {
    if (errno == ENOENT) return absl::NotFoundError(path);
    return absl::UnavailableError(absl::StrCat(path, ": ", std::strerror(errno)));
  }
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

void Say(const std::string& line) { std::fprintf(stderr, "slotfence: %s\n", line.c_str()); }

// SIGTERM to the server's group, SIGKILL after the grace; reaps it.
void StopServer(pid_t pid, absl::Duration grace) {
  ::kill(-pid, SIGTERM);
  const absl::Duration deadline = Monotonic() + grace;
  int status;
  while (Monotonic() < deadline) {
    if (::waitpid(pid, &status, WNOHANG) == pid) {
      ::kill(-pid, SIGKILL);  // whatever of its group is left
      return;
    }
    ::usleep(20'000);
  }
  ::kill(-pid, SIGKILL);
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<char*> rest = slotkeeper::ParseCommandLineOrExit(
      argc, argv, "slotfence",
      "Usage: slotfence --lease_file=FILE [--store=S --epoch=N] -- COMMAND [ARGS...]\n"
      "Runs a slot's mail server only while the slot holds its master lease.");
  const std::string lease_file = absl::GetFlag(FLAGS_lease_file);
  if (lease_file.empty() || rest.size() < 2) {
    Say("usage: slotfence --lease_file=FILE [--store=S --epoch=N] -- COMMAND [ARGS...]");
    return 2;
  }
  const slotkeeper::fence::Expectation expect{absl::GetFlag(FLAGS_store),
                                              absl::GetFlag(FLAGS_epoch)};
  slotkeeper::fence::Verdict v =
      slotkeeper::fence::Judge(ReadFile(lease_file), Monotonic(), expect);
  if (!v.serve) {
    Say(absl::StrCat("refusing to start ", rest[1], ": ", v.reason));
    return 3;
  }

  signal(SIGTERM, OnSignal);
  signal(SIGINT, OnSignal);
  signal(SIGHUP, OnSignal);
  std::vector<char*> child_argv(rest.begin() + 1, rest.end());
  child_argv.push_back(nullptr);
  const pid_t parent = ::getpid();
  const pid_t pid = ::fork();
  if (pid < 0) {
    Say(absl::StrCat("fork: ", std::strerror(errno)));
    return 1;
  }
  if (pid == 0) {
    ::setpgid(0, 0);
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (::getppid() != parent) _exit(1);  // slotfence died before prctl
    signal(SIGTERM, SIG_DFL);
    signal(SIGINT, SIG_DFL);
    signal(SIGHUP, SIG_DFL);
    ::execvp(child_argv[0], child_argv.data());
    std::fprintf(stderr, "slotfence: cannot run %s: %s\n", rest[1], std::strerror(errno));
    _exit(127);
  }
  ::setpgid(pid, pid);
  Say(absl::StrCat("started ", rest[1], " (pid ", pid, "); ", v.reason));

  const absl::Duration poll = absl::GetFlag(FLAGS_poll);
  while (true) {
    int status = 0;
    if (::waitpid(pid, &status, WNOHANG) == pid) {
      Say(absl::StrCat(rest[1], " exited by itself"));
      return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    }
    if (g_signal != 0) {
      Say(absl::StrCat("signal ", static_cast<int>(g_signal), ": stopping ", rest[1]));
      StopServer(pid, absl::GetFlag(FLAGS_stop_grace));
      return 0;
    }
    v = slotkeeper::fence::Judge(ReadFile(lease_file), Monotonic(), expect);
    if (!v.serve) {
      Say(absl::StrCat("fencing ", rest[1], " (pid ", pid, "): ", v.reason));
      StopServer(pid, absl::GetFlag(FLAGS_stop_grace));
      Say(absl::StrCat("stopped ", rest[1]));
      return 0;
    }
    absl::SleepFor(poll);
  }
}
