#include "replicator/hooks.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"

extern char** environ;

namespace slotkeeper::replicator {
namespace {

constexpr size_t kTailBytes = 4096;

int64_t MonotonicMs() {
  timespec ts;
  ::clock_gettime(CLOCK_MONOTONIC, &ts);
  return int64_t{ts.tv_sec} * 1000 + ts.tv_nsec / 1'000'000;
}

void AppendTail(std::string& tail, const char* data, size_t n) {
  tail.append(data, n);
  if (tail.size() > 2 * kTailBytes) tail.erase(0, tail.size() - kTailBytes);
}

}  // namespace

namespace {

// Whether `entry` ("NAME=value") is systemd's notification or watchdog
// setting for the agent itself: a mail server a hook starts must not speak
// for the agent's unit.
bool IsAgentsServiceVariable(const char* entry) {
  for (const char* name : {"NOTIFY_SOCKET=", "WATCHDOG_USEC=", "WATCHDOG_PID="}) {
    if (std::strncmp(entry, name, std::strlen(name)) == 0) return true;
  }
  return false;
}

// The hook's environment: the agent's, minus any SLOTKEEPER_* it had and its
// systemd service variables, plus the context's.
std::vector<std::string> HookEnvironment(const HookContext& context) {
  std::vector<std::string> env;
  for (char** e = environ; *e != nullptr; ++e) {
    if (std::strncmp(*e, "SLOTKEEPER_", 11) != 0 && !IsAgentsServiceVariable(*e)) {
      env.emplace_back(*e);
    }
  }
  env.push_back("SLOTKEEPER_ACTION=" + context.action);
  env.push_back("SLOTKEEPER_STORE=" + context.store);
  env.push_back("SLOTKEEPER_SLOT=" + context.slot);
  env.push_back("SLOTKEEPER_SLOT_PATH=" + context.slot_path);
  env.push_back(absl::StrCat("SLOTKEEPER_EPOCH=", context.epoch));
  if (!context.lease_file.empty()) env.push_back("SLOTKEEPER_LEASE_FILE=" + context.lease_file);
  if (!context.service_address.empty()) {
    env.push_back("SLOTKEEPER_SERVICE_ADDRESS=" + context.service_address);
  }
  return env;
}

// Starts `/bin/sh -c command` in a process group of its own, stdin from
// /dev/null, stdout and stderr into `*out_fd`, with default signal handling:
// replicatord ignores SIGPIPE and blocks SIGTERM, SIGINT and SIGHUP, and
// both pass through exec (dash clears the mask itself; not every /bin/sh
// does) to the hook and the mail servers it starts. Returns its pid.
absl::StatusOr<pid_t> Spawn(const std::string& command, std::vector<std::string> env_strings,
                            int* out_fd) {
  // Everything the child needs is prepared before fork (no allocation after).
  std::vector<char*> envp;
  for (std::string& s : env_strings) envp.push_back(s.data());
  envp.push_back(nullptr);
  std::string sh = "/bin/sh", dash_c = "-c", cmd = command;
  char* argv[] = {sh.data(), dash_c.data(), cmd.data(), nullptr};
  int out[2];
  if (::pipe2(out, O_CLOEXEC) != 0) {
    return absl::InternalError(absl::StrCat("pipe2: ", std::strerror(errno)));
  }
  const pid_t pid = ::fork();
  if (pid < 0) {
    ::close(out[0]);
    ::close(out[1]);
    return absl::InternalError(absl::StrCat("fork: ", std::strerror(errno)));
  }
  if (pid == 0) {
    sigset_t none;
    sigemptyset(&none);
    ::sigprocmask(SIG_SETMASK, &none, nullptr);
    ::signal(SIGPIPE, SIG_DFL);
    ::setpgid(0, 0);
    const int devnull = ::open("/dev/null", O_RDONLY);
    if (devnull >= 0) ::dup2(devnull, STDIN_FILENO);
    ::dup2(out[1], STDOUT_FILENO);
    ::dup2(out[1], STDERR_FILENO);
    ::execve(argv[0], argv, envp.data());
    _exit(127);
  }
  ::setpgid(pid, pid);  // also from the parent, so a kill of the group cannot miss
  ::close(out[1]);
  *out_fd = out[0];
  return pid;
}

struct Waited {
  bool timed_out = false;
  int status = 0;
};

// Collects the hook's output tail and reaps it. The deadline bounds the hook
// process itself, not only its output: a hook may close its output and go on
// running (or leave a daemon holding the pipe after it exited). The pipe is
// polled in short steps and the shell reaped without blocking, so both cases
// end at the deadline at the latest; past it the whole group is killed.
Waited Collect(pid_t pid, int out_fd, absl::Duration timeout, std::string* tail) {
  const int64_t deadline = MonotonicMs() + absl::ToInt64Milliseconds(timeout);
  Waited w;
  bool exited = false;
  bool eof = false;
  char buffer[4096];
  while (!exited) {
    const int64_t left = deadline - MonotonicMs();
    if (left <= 0) {
      w.timed_out = true;
      break;
    }
    if (!eof) {
      pollfd p = {out_fd, POLLIN, 0};
      if (::poll(&p, 1, static_cast<int>(std::min<int64_t>(left, 20))) > 0) {
        const ssize_t got = ::read(out_fd, buffer, sizeof(buffer));
        if (got > 0) AppendTail(*tail, buffer, got);
        if (got == 0) eof = true;
      }
    } else {
      ::usleep(static_cast<useconds_t>(std::min<int64_t>(left, 20)) * 1000);
    }
    if (::waitpid(pid, &w.status, WNOHANG) == pid) exited = true;
  }
  if (w.timed_out) {
    ::kill(-pid, SIGKILL);
    while (::waitpid(pid, &w.status, 0) < 0 && errno == EINTR) {
    }
  } else if (!eof) {
    // The shell exited; keep what it wrote last without waiting for
    // children it may have left holding the pipe.
    ::fcntl(out_fd, F_SETFL, O_NONBLOCK);
    ssize_t got;
    while ((got = ::read(out_fd, buffer, sizeof(buffer))) > 0) AppendTail(*tail, buffer, got);
  }
  ::close(out_fd);
  if (tail->size() > kTailBytes) tail->erase(0, tail->size() - kTailBytes);
  return w;
}

}  // namespace

HookResult RunHook(const std::string& command, const HookContext& context, absl::Duration timeout) {
  HookResult result;
  if (command.empty()) return result;
  result.ran = true;
  int out_fd = -1;
  absl::StatusOr<pid_t> pid = Spawn(command, HookEnvironment(context), &out_fd);
  if (!pid.ok()) {
    result.status = pid.status();
    return result;
  }
  const Waited w = Collect(*pid, out_fd, timeout, &result.output_tail);
  if (w.timed_out) {
    result.status = absl::DeadlineExceededError(absl::StrCat(
        context.action, " hook killed after ", absl::FormatDuration(timeout), ": ", command));
  } else if (WIFEXITED(w.status) && WEXITSTATUS(w.status) != 0) {
    result.status = absl::AbortedError(absl::StrCat(context.action, " hook exited with status ",
                                                    WEXITSTATUS(w.status), ": ", command));
  } else if (WIFSIGNALED(w.status)) {
    result.status = absl::AbortedError(
        absl::StrCat(context.action, " hook killed by signal ", WTERMSIG(w.status), ": ", command));
  }
  return result;
}

}  // namespace slotkeeper::replicator
