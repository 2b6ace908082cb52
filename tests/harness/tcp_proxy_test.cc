#include "tests/harness/tcp_proxy.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <thread>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"

namespace slotkeeper::testing {
namespace {

// A one-connection-at-a-time echo server on loopback.
class EchoServer {
 public:
  EchoServer() {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof(addr);
    ::bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
    ::listen(fd_, 8);
    ::getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len);
    address_ = absl::StrCat("127.0.0.1:", ntohs(addr.sin_port));
    thread_ = std::thread([this] {
      while (!stop_) {
        pollfd p = {fd_, POLLIN, 0};
        if (::poll(&p, 1, 50) <= 0) continue;
        const int c = ::accept(fd_, nullptr, nullptr);
        if (c < 0) continue;
        char b[256];
        ssize_t n;
        while ((n = ::read(c, b, sizeof(b))) > 0) ::send(c, b, n, MSG_NOSIGNAL);
        ::close(c);
      }
    });
  }
  ~EchoServer() {
    stop_ = true;
    thread_.join();
    ::close(fd_);
  }
  const std::string& address() const { return address_; }

 private:
  int fd_;
  std::string address_;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

int Connect(const std::string& address) {
  int port = 0;
  EXPECT_TRUE(absl::SimpleAtoi(address.substr(address.find(':') + 1), &port));
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  EXPECT_EQ(::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
  return fd;
}

// What comes back within `wait_ms` after sending `text` ("" on silence,
// "<closed>" when the connection ends).
std::string RoundTrip(int fd, const std::string& text, int wait_ms = 2000) {
  if (::send(fd, text.data(), text.size(), MSG_NOSIGNAL) < 0) return "<closed>";
  pollfd p = {fd, POLLIN, 0};
  if (::poll(&p, 1, wait_ms) <= 0) return "";
  char b[256];
  const ssize_t n = ::read(fd, b, sizeof(b));
  if (n <= 0) return "<closed>";
  return std::string(b, n);
}

TEST(TcpProxyTest, PassesCutsStallsAndRestores) {
  EchoServer echo;
  absl::StatusOr<std::unique_ptr<TcpProxy>> proxy = TcpProxy::Start(echo.address());
  ASSERT_TRUE(proxy.ok()) << proxy.status();
  TcpProxy& p = **proxy;

  int fd = Connect(p.address());
  EXPECT_EQ(RoundTrip(fd, "hello"), "hello");

  // Stall: the connection stays open, nothing comes back.
  p.SetMode(TcpProxy::Mode::kStall);
  EXPECT_EQ(RoundTrip(fd, "lost?", 300), "");
  // Restored: what was sent meanwhile is delivered, the echo returns.
  p.SetMode(TcpProxy::Mode::kPass);
  EXPECT_EQ(RoundTrip(fd, ""), "lost?");

  // Cut: the open connection is reset; new ones are closed at once.
  p.SetMode(TcpProxy::Mode::kCut);
  EXPECT_EQ(RoundTrip(fd, "x"), "<closed>");
  ::close(fd);
  fd = Connect(p.address());
  EXPECT_EQ(RoundTrip(fd, "y"), "<closed>");
  ::close(fd);

  p.SetMode(TcpProxy::Mode::kPass);
  fd = Connect(p.address());
  EXPECT_EQ(RoundTrip(fd, "back"), "back");
  ::close(fd);
  EXPECT_EQ(p.accepted(), 3);
}

}  // namespace
}  // namespace slotkeeper::testing
