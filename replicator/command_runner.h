// CommandRunner: the agent's side of the session that acts on its slots.
// Commands from the coordinator are queued and carried out one at a time
// on a thread of their own (CommandHandler::Handle; a hook blocks), each
// ack going to the outbox (which makes a report due with it). A second thread fences expired leases
// whether or not a session is up, looking at the leases every 50 ms at most (sooner when one ends
// sooner), and makes a report due when it fenced one.
//
// Thread-safe: Enqueue may be called from any thread (the session's
// reader), Start and Stop from one thread. Stop waits for a command being
// carried out (bounded by the hook timeout); commands still queued are
// dropped (the coordinator re-sends what it has no ack for).
#ifndef SLOTKEEPER_REPLICATOR_COMMAND_RUNNER_H_
#define SLOTKEEPER_REPLICATOR_COMMAND_RUNNER_H_

#include <deque>
#include <functional>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "proto/agent.pb.h"
#include "replicator/outbox.h"

namespace slotkeeper::replicator {

// What the runner calls; CommandHandler and LeaseManager outside tests.
struct CommandRunnerDeps {
  // Carries out a command (CommandHandler::Handle).
  std::function<v1::CommandAck(const v1::Command&)> handle;
  // Fences every slot whose lease ended; whether it fenced any
  // (CommandHandler::FenceExpired).
  std::function<bool()> fence_expired;
  // How soon the next lease ends (LeaseManager::NextExpiry).
  std::function<absl::Duration()> next_expiry;
  Outbox* outbox = nullptr;  // not owned
};

class CommandRunner {
 public:
  explicit CommandRunner(CommandRunnerDeps deps) : deps_(std::move(deps)) {}
  ~CommandRunner();  // Stop()
  CommandRunner(const CommandRunner&) = delete;
  CommandRunner& operator=(const CommandRunner&) = delete;

  void Start();
  void Stop() ABSL_LOCKS_EXCLUDED(mu_);
  // Queues a command from the coordinator.
  void Enqueue(v1::Command command) ABSL_LOCKS_EXCLUDED(mu_);

 private:
  void CommandLoop() ABSL_LOCKS_EXCLUDED(mu_);
  void LeaseLoop() ABSL_LOCKS_EXCLUDED(mu_);

  const CommandRunnerDeps deps_;
  absl::Mutex mu_;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::deque<v1::Command> queue_ ABSL_GUARDED_BY(mu_);
  std::thread command_thread_;
  std::thread lease_thread_;
};

}  // namespace slotkeeper::replicator

#endif  // SLOTKEEPER_REPLICATOR_COMMAND_RUNNER_H_
