#include "replicator/poll_thread.h"

#include <fcntl.h>
#include <poll.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "base/log.h"

namespace slotkeeper::replicator {

PollThread::~PollThread() { Stop(); }

absl::Status PollThread::Start(std::string name, int fd, short events, OnReady on_ready) {
  name_ = std::move(name);
  fd_ = fd;
  if (::pipe2(stop_pipe_, O_CLOEXEC) != 0) {
    const int err = errno;
    ::close(fd_);
    fd_ = -1;
    return absl::InternalError(absl::StrCat(name_, ": pipe2: ", std::strerror(err)));
  }
  thread_ = std::thread([this, events, on_ready = std::move(on_ready)] { Run(events, on_ready); });
  return absl::OkStatus();
}

void PollThread::Stop() {
  if (thread_.joinable()) {
    char c = 'x';
    ssize_t ignored = ::write(stop_pipe_[1], &c, 1);
    (void)ignored;
    thread_.join();
  }
  for (int* fd : {&fd_, &stop_pipe_[0], &stop_pipe_[1]}) {
    if (*fd >= 0) ::close(*fd);
    *fd = -1;
  }
}

bool PollThread::WaitForStop(absl::Duration d) {
  pollfd stop = {stop_pipe_[0], POLLIN, 0};
  return ::poll(&stop, 1, static_cast<int>(absl::ToInt64Milliseconds(d))) > 0;
}

void PollThread::Run(short events, const OnReady& on_ready) {
  while (true) {
    pollfd fds[2] = {{fd_, events, 0}, {stop_pipe_[0], POLLIN, 0}};
    if (::poll(fds, 2, -1) < 0) {
      if (errno == EINTR) continue;
      LogError("agent", absl::StrCat(name_, ": poll: ", std::strerror(errno)));
      return;
    }
    if (fds[1].revents != 0) return;
    if (fds[0].revents != 0 && !on_ready(fd_, fds[0].revents)) return;
  }
}

}  // namespace slotkeeper::replicator
