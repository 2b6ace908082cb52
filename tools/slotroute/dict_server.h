// The UNIX socket the front proxy's passdb (driver = dict, uri = proxy:PATH:
// NAME) connects to: each connection says hello, then sends lookups, each
// answered by the Router in order (dict_protocol.h). A connection that breaks
// the protocol (no hello first, another protocol version, a command this
// server does not serve, a line over the limit) is closed, with the reason
// logged. One thread per connection, at most `max_connections` at once
// (Dovecot's auth workers are few), joined by the accepting thread once it
// ends; Stop() closes the socket, ends every connection and joins them all.
#ifndef SLOTKEEPER_TOOLS_SLOTROUTE_DICT_SERVER_H_
#define SLOTKEEPER_TOOLS_SLOTROUTE_DICT_SERVER_H_

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "tools/slotroute/router.h"

namespace slotkeeper::slotroute {

struct DictServerOptions {
  std::string path;    // the socket; a stale socket there is replaced
  int mode = 0660;     // the socket's permissions
  int owner_uid = -1;  // chown to these when >= 0 (the proxy's auth user)
  int owner_gid = -1;
  int max_connections = 64;
};

class DictServer {
 public:
  // Binds and listens; the router is not owned and must outlive the server.
  static absl::StatusOr<std::unique_ptr<DictServer>> Start(const DictServerOptions& options,
                                                           Router* router);
  ~DictServer();  // Stop()
  void Stop();

 private:
  DictServer(int fd, DictServerOptions options, Router* router)
      : listen_fd_(fd), options_(std::move(options)), router_(router) {}
  void AcceptLoop();
  void Serve(uint64_t id, int fd);
  // Joins the threads of connections that have ended.
  void ReapFinished();

  const int listen_fd_;
  const DictServerOptions options_;
  Router* const router_;
  std::atomic<bool> stopping_{false};
  std::thread acceptor_;
  absl::Mutex mu_;
  std::set<int> open_ ABSL_GUARDED_BY(mu_);  // connections being served
  std::map<uint64_t, std::thread> workers_ ABSL_GUARDED_BY(mu_);
  std::vector<uint64_t> finished_ ABSL_GUARDED_BY(mu_);  // workers to join
  uint64_t next_id_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace slotkeeper::slotroute

#endif  // SLOTKEEPER_TOOLS_SLOTROUTE_DICT_SERVER_H_
