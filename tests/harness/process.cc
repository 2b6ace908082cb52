#include "tests/harness/process.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"

namespace slotkeeper::testing {
namespace {

absl::Status Errno(absl::string_view what) {
  return absl::InternalError(absl::StrCat(what, ": ", std::strerror(errno)));
}

// fork + exec with stdout/stderr to `log_fd`, in a new process group.
absl::StatusOr<pid_t> Spawn(const std::vector<std::string>& argv, int log_fd,
                            const std::map<std::string, std::string>& env) {
  if (argv.empty()) return absl::InvalidArgumentError("empty argv");
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  pid_t pid = fork();
  if (pid < 0) return Errno("fork");
  if (pid == 0) {
    setpgid(0, 0);
    int devnull = open("/dev/null", O_RDONLY);
    if (devnull >= 0) dup2(devnull, 0);
    dup2(log_fd, 1);
    dup2(log_fd, 2);
    for (const auto& [k, v] : env) setenv(k.c_str(), v.c_str(), 1);
    execvp(args[0], args.data());
    dprintf(2, "exec %s: %s\n", args[0], std::strerror(errno));
    _exit(127);
  }
  setpgid(pid, pid);
  return pid;
}

int DecodeStatus(int status) {
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return -1;
}

}  // namespace

Process::~Process() { Kill(); }

absl::Status Process::Start(const std::vector<std::string>& argv, const std::string& log_path,
                            const std::map<std::string, std::string>& env) {
  if (running()) return absl::FailedPreconditionError("process already running");
  int fd = open(log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (fd < 0) return Errno(absl::StrCat("open ", log_path));
  auto pid = Spawn(argv, fd, env);
  close(fd);
  if (!pid.ok()) return pid.status();
  pid_ = *pid;
  log_path_ = log_path;
  name_ = argv[0];
  return absl::OkStatus();
}

absl::Status Process::Signal(int sig) {
  if (!running()) return absl::FailedPreconditionError("process not running");
  if (kill(-pid_, sig) != 0) return Errno("kill");
  return absl::OkStatus();
}

void Process::Kill() {
  if (!running()) return;
  kill(-pid_, SIGKILL);
  int status;
  waitpid(pid_, &status, 0);
  pid_ = -1;
}

int Process::Stop(absl::Duration grace) {
  if (!running()) return -1;
  kill(-pid_, SIGTERM);
  auto code = Wait(grace);
  if (code.ok()) return *code;
  Kill();
  return 128 + SIGKILL;
}

absl::StatusOr<int> Process::Wait(absl::Duration timeout) {
  if (!running()) return absl::FailedPreconditionError("process not running");
  const absl::Time deadline = absl::Now() + timeout;
  while (true) {
    int status;
    pid_t r = waitpid(pid_, &status, WNOHANG);
    if (r == pid_) {
      pid_ = -1;
      // Reap the rest of the group, if any stayed behind.
      return DecodeStatus(status);
    }
    if (absl::Now() > deadline) {
      return absl::DeadlineExceededError(
          absl::StrCat(name_, " still running after ", absl::FormatDuration(timeout)));
    }
    absl::SleepFor(absl::Milliseconds(20));
  }
}

std::string Process::ReadLog() const {
  std::ifstream in(log_path_);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

absl::StatusOr<std::string> Process::WaitForLogLine(const std::string& needle,
                                                    absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  while (true) {
    for (absl::string_view line : absl::StrSplit(ReadLog(), '\n')) {
      if (line.find(needle) != absl::string_view::npos) return std::string(line);
    }
    if (running()) {
      int status;
      if (waitpid(pid_, &status, WNOHANG) == pid_) {
        pid_ = -1;
        return absl::FailedPreconditionError(absl::StrCat(name_, " exited (", DecodeStatus(status),
                                                          ") before logging \"", needle,
                                                          "\"; log:\n", ReadLog()));
      }
    }
    if (absl::Now() > deadline) {
      return absl::DeadlineExceededError(absl::StrCat("no \"", needle, "\" in ", log_path_,
                                                      " after ", absl::FormatDuration(timeout),
                                                      "; log:\n", ReadLog()));
    }
    absl::SleepFor(absl::Milliseconds(20));
  }
}

absl::StatusOr<int> RunCommand(const std::vector<std::string>& argv, std::string* output,
                               absl::Duration timeout) {
  char path[] = "/tmp/slotkeeper-cmd.XXXXXX";
  int fd = mkstemp(path);
  if (fd < 0) return Errno("mkstemp");
  auto pid = Spawn(argv, fd, {});
  close(fd);
  if (!pid.ok()) {
    unlink(path);
    return pid.status();
  }
  const absl::Time deadline = absl::Now() + timeout;
  int status = 0;
  while (waitpid(*pid, &status, WNOHANG) != *pid) {
    if (absl::Now() > deadline) {
      kill(-*pid, SIGKILL);
      waitpid(*pid, &status, 0);
      unlink(path);
      return absl::DeadlineExceededError(absl::StrCat(absl::StrJoin(argv, " "), " timed out"));
    }
    absl::SleepFor(absl::Milliseconds(10));
  }
  if (output != nullptr) {
    std::ifstream in(path);
    std::stringstream ss;
    ss << in.rdbuf();
    *output = ss.str();
  }
  unlink(path);
  return DecodeStatus(status);
}

absl::StatusOr<std::string> AddressFromLogLine(const std::string& line) {
  const std::string marker = "listening on ";
  size_t at = line.find(marker);
  if (at == std::string::npos) {
    return absl::NotFoundError(absl::StrCat("no \"listening on\" in: ", line));
  }
  std::string rest = line.substr(at + marker.size());
  size_t end = rest.find_first_of(" \t\r\n");
  return rest.substr(0, end);
}

std::string Runfile(const std::string& workspace_relative) {
  // In `bazel test`, TEST_SRCDIR; in `bazel run`, RUNFILES_DIR or the
  // working directory, which is the runfiles tree of the workspace.
  for (const char* var : {"TEST_SRCDIR", "RUNFILES_DIR"}) {
    if (const char* dir = std::getenv(var); dir != nullptr && *dir != '\0') {
      return absl::StrCat(dir, "/slotkeeper/", workspace_relative);
    }
  }
  char cwd[4096];
  if (getcwd(cwd, sizeof(cwd)) != nullptr) return absl::StrCat(cwd, "/", workspace_relative);
  return workspace_relative;
}

}  // namespace slotkeeper::testing
