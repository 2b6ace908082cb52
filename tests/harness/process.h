// Child processes for multi-process tests: the coordinator, agents, tools.
//
// A Process runs one program in its own process group, with stdout and
// stderr appended to a log file, and is killed (SIGKILL to the group) when
// the object is destroyed, so that a failing test never leaves daemons
// behind. Not thread-safe: one test thread owns each Process.
#ifndef SLOTKEEPER_TESTS_HARNESS_PROCESS_H_
#define SLOTKEEPER_TESTS_HARNESS_PROCESS_H_

#include <sys/types.h>

#include <map>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace slotkeeper::testing {

class Process {
 public:
  Process() = default;
  ~Process();
  Process(const Process&) = delete;
  Process& operator=(const Process&) = delete;

  // Starts `argv` (argv[0] a path, or a name looked up on PATH, so a
  // wrapper such as {"faketime", "-6h", binary, ...} works) with extra
  // environment `env` and output appended to `log_path`.
  absl::Status Start(const std::vector<std::string>& argv, const std::string& log_path,
                     const std::map<std::string, std::string>& env = {});

  bool running() const { return pid_ > 0; }
  pid_t pid() const { return pid_; }
  const std::string& log_path() const { return log_path_; }

  // Sends `sig` to the whole process group.
  absl::Status Signal(int sig);
  // SIGKILL and reap.
  void Kill();
  // SIGTERM, wait up to `grace`, then SIGKILL. Returns the exit status.
  int Stop(absl::Duration grace = absl::Seconds(5));
  // Waits for the process to exit by itself; returns its exit code, or an
  // error on timeout (the process is left running).
  absl::StatusOr<int> Wait(absl::Duration timeout);

  // Waits until a line of the log contains `needle`; returns that line.
  absl::StatusOr<std::string> WaitForLogLine(const std::string& needle, absl::Duration timeout);
  std::string ReadLog() const;

 private:
  pid_t pid_ = -1;
  std::string log_path_;
  std::string name_;
};

// Runs a command to completion; returns its exit code. Output goes to
// `output` when not null (stdout and stderr merged).
absl::StatusOr<int> RunCommand(const std::vector<std::string>& argv, std::string* output = nullptr,
                               absl::Duration timeout = absl::Minutes(5));

// Extracts "HOST:PORT" that follows "listening on " in a log line.
absl::StatusOr<std::string> AddressFromLogLine(const std::string& line);

// Path of a runfile (e.g. "slotkeeper/slotmgr/slotmgrd") in a Bazel test.
std::string Runfile(const std::string& workspace_relative);

}  // namespace slotkeeper::testing

#endif  // SLOTKEEPER_TESTS_HARNESS_PROCESS_H_
