#include "tools/slotroute/dict_server.h"

#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "base/log.h"
#include "tools/slotroute/dict_protocol.h"

namespace slotkeeper::slotroute {
namespace {

absl::Status Errno(const std::string& what) {
  return absl::InternalError(absl::StrCat(what, ": ", std::strerror(errno)));
}

bool WriteAll(int fd, const std::string& data) {
  size_t done = 0;
  while (done < data.size()) {
    ssize_t n = ::send(fd, data.data() + done, data.size() - done, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    done += static_cast<size_t>(n);
  }
  return true;
}

}  // namespace

absl::StatusOr<std::unique_ptr<DictServer>> DictServer::Start(const DictServerOptions& options,
                                                              Router* router) {
  sockaddr_un addr{};
  if (options.path.empty() || options.path.size() >= sizeof(addr.sun_path)) {
    return absl::InvalidArgumentError(absl::StrCat("socket path '", options.path,
                                                   "' is empty or longer than ",
                                                   sizeof(addr.sun_path) - 1, " bytes"));
  }
  struct stat st;
  if (::lstat(options.path.c_str(), &st) == 0) {
    if (!S_ISSOCK(st.st_mode)) {
      return absl::FailedPreconditionError(
          absl::StrCat(options.path, " exists and is not a socket: not replacing it"));
    }
    ::unlink(options.path.c_str());
  }
  int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return Errno("socket");
  addr.sun_family = AF_UNIX;
  std::memcpy(addr.sun_path, options.path.data(), options.path.size());
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0 ||
      ::chmod(options.path.c_str(), options.mode) != 0 ||
      (options.owner_uid >= 0 &&
       ::chown(options.path.c_str(), options.owner_uid, options.owner_gid) != 0) ||
      ::listen(fd, 64) != 0) {
    absl::Status failed = Errno(absl::StrCat("listening on ", options.path));
    ::close(fd);
    return failed;
  }
  std::unique_ptr<DictServer> server(new DictServer(fd, options, router));
  server->acceptor_ = std::thread([s = server.get()] { s->AcceptLoop(); });
  return server;
}

DictServer::~DictServer() { Stop(); }

void DictServer::Stop() {
  if (stopping_.exchange(true)) return;
  ::shutdown(listen_fd_, SHUT_RDWR);
  if (acceptor_.joinable()) acceptor_.join();
  std::map<uint64_t, std::thread> workers;
  {
    absl::MutexLock lock(&mu_);
    for (int fd : open_) ::shutdown(fd, SHUT_RDWR);
    workers.swap(workers_);
    finished_.clear();
  }
  for (auto& [id, t] : workers) t.join();
  ::close(listen_fd_);
  ::unlink(options_.path.c_str());
}

void DictServer::ReapFinished() {
  std::vector<std::thread> done;
  {
    absl::MutexLock lock(&mu_);
    for (uint64_t id : finished_) {
      auto it = workers_.find(id);
      if (it == workers_.end()) continue;
      done.push_back(std::move(it->second));
      workers_.erase(it);
    }
    finished_.clear();
  }
  for (std::thread& t : done) t.join();
}

void DictServer::AcceptLoop() {
  while (!stopping_) {
    ReapFinished();
    pollfd p{listen_fd_, POLLIN, 0};
    if (::poll(&p, 1, 200) <= 0) continue;
    int fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
    if (fd < 0) continue;
    absl::MutexLock lock(&mu_);
    if (stopping_ || static_cast<int>(open_.size()) >= options_.max_connections) {
      LogWarning("slotroute", "dict connection refused: too many open");
      ::close(fd);
      continue;
    }
    open_.insert(fd);
    const uint64_t id = next_id_++;
    workers_.emplace(id, std::thread([this, id, fd] { Serve(id, fd); }));
  }
}

void DictServer::Serve(uint64_t id, int fd) {
  std::string buffer;
  bool hello = false;
  std::string why;
  char chunk[4096];
  while (why.empty() && !stopping_) {
    size_t eol = buffer.find('\n');
    if (eol == std::string::npos) {
      if (buffer.size() > kMaxDictLine) {
        why = "line too long";
        break;
      }
      ssize_t n = ::recv(fd, chunk, sizeof(chunk), 0);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) break;
      buffer.append(chunk, static_cast<size_t>(n));
      continue;
    }
    const std::string line = buffer.substr(0, eol);
    buffer.erase(0, eol + 1);
    absl::StatusOr<DictCommand> command = ParseDictCommand(line);
    if (!command.ok()) {
      why = std::string(command.status().message());
    } else if (command->kind == DictCommand::Kind::kHello) {
      hello = true;
    } else if (!hello) {
      why = "lookup before hello";
    } else if (!WriteAll(fd, router_->Answer(command->key))) {
      break;
    }
  }
  if (!why.empty()) LogWarning("slotroute", absl::StrCat("dict connection closed: ", why));
  absl::MutexLock lock(&mu_);
  open_.erase(fd);
  ::close(fd);
  finished_.push_back(id);
}

}  // namespace slotkeeper::slotroute
