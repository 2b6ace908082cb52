#include "tests/harness/tcp_proxy.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

namespace slotkeeper::testing {
namespace {

// Closes with a reset (RST), as a dead route or a refusing host would.
void Reset(int fd) {
  if (fd < 0) return;
  linger l = {1, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof(l));
  ::close(fd);
}

int ConnectTo(const std::string& target) {
  std::vector<std::string> parts = absl::StrSplit(target, ':');
  int port = 0;
  if (parts.size() != 2 || !absl::SimpleAtoi(parts[1], &port)) return -1;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  if (::inet_pton(AF_INET, parts[0] == "localhost" ? "127.0.0.1" : parts[0].c_str(),
                  &addr.sin_addr) != 1) {
    return -1;
  }
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    ::close(fd);
    return -1;
  }
  int one = 1;
  ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  return fd;
}

}  // namespace

absl::StatusOr<std::unique_ptr<TcpProxy>> TcpProxy::Start(const std::string& target) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return absl::InternalError(absl::StrCat("socket: ", std::strerror(errno)));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  socklen_t len = sizeof(addr);
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0 || ::listen(fd, 64) != 0 ||
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    const int err = errno;
    ::close(fd);
    return absl::InternalError(absl::StrCat("proxy listen: ", std::strerror(err)));
  }
  const std::string address = absl::StrCat("127.0.0.1:", ntohs(addr.sin_port));
  std::unique_ptr<TcpProxy> proxy(new TcpProxy(fd, address, target));
  proxy->accept_thread_ = std::thread([p = proxy.get()] { p->AcceptLoop(); });
  return proxy;
}

TcpProxy::TcpProxy(int listen_fd, std::string address, std::string target)
    : listen_fd_(listen_fd), address_(std::move(address)), target_(std::move(target)) {}

TcpProxy::~TcpProxy() {
  stopping_ = true;
  accept_thread_.join();
  ::close(listen_fd_);
  std::vector<std::unique_ptr<Connection>> connections;
  {
    absl::MutexLock lock(&mu_);
    connections.swap(connections_);
  }
  for (auto& c : connections) {
    // The pump polls with a short timeout and sees `stopping_`.
    if (c->pump.joinable()) c->pump.join();
  }
}

void TcpProxy::SetTarget(const std::string& target) {
  absl::MutexLock lock(&mu_);
  target_ = target;
}

void TcpProxy::SetMode(Mode mode) {
  mode_ = mode;
  if (mode == Mode::kCut) ResetAll();
}

void TcpProxy::ResetAll() {
  absl::MutexLock lock(&mu_);
  for (auto& c : connections_) {
    // shutdown() wakes the pump, which resets both ends and exits.
    if (c->client >= 0) ::shutdown(c->client, SHUT_RDWR);
    if (c->upstream >= 0) ::shutdown(c->upstream, SHUT_RDWR);
  }
}

void TcpProxy::AcceptLoop() {
  while (!stopping_) {
    pollfd p = {listen_fd_, POLLIN, 0};
    if (::poll(&p, 1, 50) <= 0) continue;
    const int client = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
    if (client < 0) continue;
    accepted_++;
    if (mode_ == Mode::kCut) {
      Reset(client);
      continue;
    }
    int one = 1;
    ::setsockopt(client, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    auto c = std::make_unique<Connection>();
    c->client = client;
    Connection* raw = c.get();
    absl::MutexLock lock(&mu_);
    // Reap finished connections so a long test does not accumulate them.
    for (auto it = connections_.begin(); it != connections_.end();) {
      if ((*it)->client < 0 && (*it)->pump.joinable()) {
        (*it)->pump.join();
        it = connections_.erase(it);
      } else {
        ++it;
      }
    }
    connections_.push_back(std::move(c));
    raw->pump = std::thread([this, raw] { Pump(raw); });
  }
}

void TcpProxy::Pump(Connection* c) {
  // Connect upstream lazily: a stalled proxy holds the client without one.
  char buffer[64 * 1024];
  bool failed = false;
  while (!stopping_ && !failed) {
    const Mode mode = mode_;
    if (mode == Mode::kCut) break;
    if (mode == Mode::kStall) {
      ::usleep(20'000);
      continue;
    }
    if (c->upstream < 0) {
      std::string target;
      {
        absl::MutexLock lock(&mu_);
        target = target_;
      }
      const int up = ConnectTo(target);
      if (up < 0) break;  // target down: the client sees a reset
      absl::MutexLock lock(&mu_);
      c->upstream = up;
    }
    pollfd p[2] = {{c->client, POLLIN, 0}, {c->upstream, POLLIN, 0}};
    const int n = ::poll(p, 2, 50);
    if (n <= 0) continue;
    if (mode_ != Mode::kPass) continue;  // changed while waiting: forward nothing
    for (int i = 0; i < 2 && !failed; ++i) {
      if (!(p[i].revents & (POLLIN | POLLHUP | POLLERR))) continue;
      const int from = i == 0 ? c->client : c->upstream;
      const int to = i == 0 ? c->upstream : c->client;
      const ssize_t got = ::read(from, buffer, sizeof(buffer));
      if (got <= 0) {
        failed = true;
        break;
      }
      for (ssize_t sent = 0; sent < got;) {
        const ssize_t w = ::send(to, buffer + sent, got - sent, MSG_NOSIGNAL);
        if (w <= 0) {
          failed = true;
          break;
        }
        sent += w;
      }
    }
  }
  absl::MutexLock lock(&mu_);
  Reset(c->client);
  Reset(c->upstream);
  c->client = -1;
  c->upstream = -1;
}

}  // namespace slotkeeper::testing
