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

HookResult RunHook(const std::string& command, const HookContext& context, absl::Duration timeout) {
  HookResult result;
  if (command.empty()) return result;
  result.ran = true;

  // Everything the child needs is prepared before fork (no allocation after).
  std::vector<std::string> env_strings;
  for (char** e = environ; *e != nullptr; ++e) {
    if (std::strncmp(*e, "SLOTKEEPER_", 11) != 0) env_strings.emplace_back(*e);
  }
  env_strings.push_back("SLOTKEEPER_ACTION=" + context.action);
  env_strings.push_back("SLOTKEEPER_STORE=" + context.store);
  env_strings.push_back("SLOTKEEPER_SLOT=" + context.slot);
  env_strings.push_back("SLOTKEEPER_SLOT_PATH=" + context.slot_path);
  env_strings.push_back(absl::StrCat("SLOTKEEPER_EPOCH=", context.epoch));
  if (!context.lease_file.empty()) {
    env_strings.push_back("SLOTKEEPER_LEASE_FILE=" + context.lease_file);
  }
  if (!context.service_address.empty()) {
    env_strings.push_back("SLOTKEEPER_SERVICE_ADDRESS=" + context.service_address);
  }
  std::vector<char*> envp;
  for (std::string& s : env_strings) envp.push_back(s.data());
  envp.push_back(nullptr);
  std::string sh = "/bin/sh", dash_c = "-c", cmd = command;
  char* argv[] = {sh.data(), dash_c.data(), cmd.data(), nullptr};

  int out[2];
  if (::pipe2(out, O_CLOEXEC) != 0) {
    result.status = absl::InternalError(absl::StrCat("pipe2: ", std::strerror(errno)));
    return result;
  }
  const pid_t pid = ::fork();
  if (pid < 0) {
    result.status = absl::InternalError(absl::StrCat("fork: ", std::strerror(errno)));
    ::close(out[0]);
    ::close(out[1]);
    return result;
  }
  if (pid == 0) {
    ::setpgid(0, 0);
    const int devnull = ::open("/dev/null", O_RDONLY);
    if (devnull >= 0) ::dup2(devnull, STDIN_FILENO);
    ::dup2(out[1], STDOUT_FILENO);
    ::dup2(out[1], STDERR_FILENO);
    ::execve(argv[0], argv, envp.data());
    _exit(127);
  }
  ::setpgid(pid, pid);  // also from the parent, so the kill below cannot miss
  ::close(out[1]);

  // The deadline bounds the hook process itself, not only its output: a hook
  // may close its output and go on running (or leave a daemon holding the
  // pipe after it exited). Poll the pipe in short steps and reap the shell
  // without blocking, so both cases end at the deadline at the latest.
  const int64_t deadline = MonotonicMs() + absl::ToInt64Milliseconds(timeout);
  bool timed_out = false;
  bool exited = false;
  bool eof = false;
  int status = 0;
  char buffer[4096];
  while (!exited) {
    const int64_t left = deadline - MonotonicMs();
    if (left <= 0) {
      timed_out = true;
      break;
    }
    if (!eof) {
      pollfd p = {out[0], POLLIN, 0};
      const int n = ::poll(&p, 1, static_cast<int>(std::min<int64_t>(left, 20)));
      if (n > 0) {
        const ssize_t got = ::read(out[0], buffer, sizeof(buffer));
        if (got > 0) AppendTail(result.output_tail, buffer, got);
        if (got == 0) eof = true;
      }
    } else {
      ::usleep(static_cast<useconds_t>(std::min<int64_t>(left, 20)) * 1000);
    }
    const pid_t done = ::waitpid(pid, &status, WNOHANG);
    if (done == pid) exited = true;
  }
  if (timed_out) {
    ::kill(-pid, SIGKILL);
    while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
  } else if (!eof) {
    // The shell exited; keep what it wrote last without waiting for
    // children it may have left holding the pipe.
    ::fcntl(out[0], F_SETFL, O_NONBLOCK);
    ssize_t got;
    while ((got = ::read(out[0], buffer, sizeof(buffer))) > 0) {
      AppendTail(result.output_tail, buffer, got);
    }
  }
  ::close(out[0]);
  if (result.output_tail.size() > kTailBytes) {
    result.output_tail.erase(0, result.output_tail.size() - kTailBytes);
  }
  if (timed_out) {
    result.status = absl::DeadlineExceededError(absl::StrCat(
        context.action, " hook killed after ", absl::FormatDuration(timeout), ": ", command));
  } else if (WIFEXITED(status) && WEXITSTATUS(status) != 0) {
    result.status = absl::AbortedError(absl::StrCat(context.action, " hook exited with status ",
                                                    WEXITSTATUS(status), ": ", command));
  } else if (WIFSIGNALED(status)) {
    result.status = absl::AbortedError(
        absl::StrCat(context.action, " hook killed by signal ", WTERMSIG(status), ": ", command));
  }
  return result;
}

}  // namespace slotkeeper::replicator
