// A TCP proxy on loopback that a test can cut, stall and restore: how the
// multi-process tests simulate a network partition without touching the
// machine's network. One proxy forwards every connection made to its own
// address to one target (e.g. the coordinator, or one agent's peer port);
// a component is partitioned by giving it the proxy's address instead of the
// target's.
//
//   kPass   forward both ways.
//   kCut    refuse: open connections are reset, new ones are closed at once
//           (what a peer sees when a host's network is down and it answers
//           with resets; gRPC notices at once).
//   kStall  accept and hold, forward nothing: open connections stay
//           established but silent, as behind a dropped route or a hung
//           peer; only deadlines and keepalives notice.
//
// Threads: one accepting, one per connection; all end in the destructor.
// SetMode is thread-safe and takes effect at once.
#ifndef SLOTKEEPER_TESTS_HARNESS_TCP_PROXY_H_
#define SLOTKEEPER_TESTS_HARNESS_TCP_PROXY_H_

#include <atomic>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"

namespace slotkeeper::testing {

class TcpProxy {
 public:
  enum class Mode { kPass, kCut, kStall };

  // Listens on 127.0.0.1 (a free port) and forwards to `target` (HOST:PORT
  // on loopback). The target need not be up yet.
  static absl::StatusOr<std::unique_ptr<TcpProxy>> Start(const std::string& target);
  ~TcpProxy();
  TcpProxy(const TcpProxy&) = delete;
  TcpProxy& operator=(const TcpProxy&) = delete;

  // "127.0.0.1:PORT": give this to the component instead of the target.
  const std::string& address() const { return address_; }
  const std::string& target() const { return target_; }
  // Changes where new connections go (a restarted target on another port).
  void SetTarget(const std::string& target);

  void SetMode(Mode mode);
  Mode mode() const { return mode_.load(); }
  // Connections accepted so far (for tests of the proxy itself).
  int accepted() const { return accepted_.load(); }

 private:
  struct Connection {
    int client = -1;
    int upstream = -1;
    std::thread pump;
  };

  TcpProxy(int listen_fd, std::string address, std::string target);
  void AcceptLoop();
  void Pump(Connection* c);
  // Resets every open connection (kCut).
  void ResetAll();

  const int listen_fd_;
  const std::string address_;
  std::atomic<Mode> mode_{Mode::kPass};
  std::atomic<bool> stopping_{false};
  std::atomic<int> accepted_{0};
  absl::Mutex mu_;
  std::string target_ ABSL_GUARDED_BY(mu_);
  std::vector<std::unique_ptr<Connection>> connections_ ABSL_GUARDED_BY(mu_);
  std::thread accept_thread_;
};

}  // namespace slotkeeper::testing

#endif  // SLOTKEEPER_TESTS_HARNESS_TCP_PROXY_H_
