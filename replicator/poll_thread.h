// A thread that waits on one file descriptor with poll() until it is told to
// stop: the loop under the mount-table watcher and the kernel-log reader.
//
// Start() takes ownership of the descriptor. Stop() wakes the thread through
// a pipe, joins it and closes both; it is idempotent, and the destructor
// calls it. Start and Stop belong to one owner thread.
#ifndef SLOTKEEPER_REPLICATOR_POLL_THREAD_H_
#define SLOTKEEPER_REPLICATOR_POLL_THREAD_H_

#include <functional>
#include <string>
#include <thread>

#include "absl/status/status.h"
#include "absl/time/time.h"

namespace slotkeeper::replicator {

class PollThread {
 public:
  // Called on the thread each time poll() reports `revents` on the fd.
  // Returns false to end the thread (after logging why).
  using OnReady = std::function<bool(int fd, short revents)>;

  PollThread() = default;
  ~PollThread();
  PollThread(const PollThread&) = delete;
  PollThread& operator=(const PollThread&) = delete;

  // `name` prefixes log lines. On error the fd is closed.
  absl::Status Start(std::string name, int fd, short events, OnReady on_ready);
  void Stop();

  // For OnReady: waits up to `d` for a stop request; true when stopping.
  bool WaitForStop(absl::Duration d);

 private:
  void Run(short events, const OnReady& on_ready);

  std::string name_;
  int fd_ = -1;
  int stop_pipe_[2] = {-1, -1};
  std::thread thread_;
};

}  // namespace slotkeeper::replicator

#endif  // SLOTKEEPER_REPLICATOR_POLL_THREAD_H_
