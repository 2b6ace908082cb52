// The dict server on a real UNIX socket, speaking to a client as Dovecot's
// auth worker does, over a Router with a scripted coordinator.
#include "tools/slotroute/dict_server.h"

#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace slotkeeper::slotroute {
namespace {

class OneUser : public UserLocator {
 public:
  absl::StatusOr<v1::UserLocation> Locate(const std::string& user) override {
    if (user != "alice") return absl::NotFoundError(user);
    v1::UserLocation l;
    l.set_user("alice");
    l.set_store("st1");
    l.set_master_epoch(1);
    l.mutable_master()->set_service_address("127.0.0.1:14300");
    l.mutable_master()->set_usable(true);
    return l;
  }
};

// A short directory for sockets (TEST_TMPDIR is longer than sun_path).
std::string SocketDir() {
  char dir[] = "/tmp/slotroute-test.XXXXXX";
  EXPECT_NE(::mkdtemp(dir), nullptr);
  return dir;
}

int Connect(const std::string& path) {
  int fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::strncpy(addr.sun_path, path.c_str(), sizeof(addr.sun_path) - 1);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    ::close(fd);
    return -1;
  }
  return fd;
}

// Sends `text`, reads until `lines` LFs arrived or the server closed.
std::string Exchange(int fd, const std::string& text, int lines) {
  EXPECT_EQ(::write(fd, text.data(), text.size()), static_cast<ssize_t>(text.size()));
  std::string got;
  char buf[512];
  while (std::count(got.begin(), got.end(), '\n') < lines) {
    ssize_t n = ::read(fd, buf, sizeof(buf));
    if (n <= 0) break;
    got.append(buf, static_cast<size_t>(n));
  }
  return got;
}

class DictServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = SocketDir();
    path_ = dir_ + "/d.sock";
    auto s = DictServer::Start({path_}, &router_);
    ASSERT_TRUE(s.ok()) << s.status();
    server_ = *std::move(s);
  }
  void TearDown() override {
    if (server_ != nullptr) server_->Stop();
    ::rmdir(dir_.c_str());
  }
  std::string dir_;
  std::string path_;
  RouteTable table_;
  OneUser locator_;
  FakeClock clock_;
  Router router_{&table_, &locator_, &clock_, {}};
  std::unique_ptr<DictServer> server_;
};

TEST_F(DictServerTest, AnswersLookupsInOrder) {
  int fd = Connect(path_);
  ASSERT_GE(fd, 0);
  EXPECT_EQ(Exchange(fd,
                     "H3\t2\t0\t\tslotroute\nLshared/passdb/imap/alice\talice\n"
                     "Lshared/passdb/lmtp/bob\tbob\n",
                     2),
            "O{\"host\":\"127.0.0.1\",\"nopassword\":\"y\",\"port\":\"14300\",\"proxy\":\"y\"}\n"
            "N\n");
  ::close(fd);
}

TEST_F(DictServerTest, ClosesConnectionsThatBreakTheProtocol) {
  for (const std::string& bad :
       {std::string("Lshared/passdb/imap/alice\talice\n"),  // no hello
        std::string("H2\t0\t0\t\td\n"), std::string("H3\t2\t0\t\td\nIshared/\t0\n")}) {
    int fd = Connect(path_);
    ASSERT_GE(fd, 0);
    EXPECT_EQ(Exchange(fd, bad, 1), "") << bad;  // closed without an answer
    ::close(fd);
  }
  // The server still serves.
  int fd = Connect(path_);
  EXPECT_EQ(Exchange(fd, "H3\t2\t0\t\td\nLshared/passdb/imap/zed\tzed\n", 1), "N\n");
  ::close(fd);
}

TEST_F(DictServerTest, StopRemovesTheSocketAndEndsConnections) {
  int fd = Connect(path_);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(Exchange(fd, "H3\t2\t0\t\td\nLshared/passdb/imap/zed\tzed\n", 1), "N\n");
  server_->Stop();
  EXPECT_LT(Connect(path_), 0);
  char c;
  EXPECT_EQ(::read(fd, &c, 1), 0);
  ::close(fd);
}

TEST(DictServerStartTest, RefusesToReplaceAFileThatIsNotASocket) {
  const std::string dir = SocketDir();
  const std::string path = dir + "/not-a-socket";
  FILE* f = std::fopen(path.c_str(), "w");
  std::fclose(f);
  RouteTable table;
  OneUser locator;
  FakeClock clock;
  Router router(&table, &locator, &clock, {});
  auto s = DictServer::Start({path}, &router);
  EXPECT_TRUE(absl::IsFailedPrecondition(s.status())) << s.status();
  EXPECT_FALSE(DictServer::Start({std::string(200, 'x')}, &router).ok());
  ::unlink(path.c_str());
  ::rmdir(dir.c_str());
}

}  // namespace
}  // namespace slotkeeper::slotroute
