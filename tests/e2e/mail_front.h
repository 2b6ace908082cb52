// Real mail on a test cluster: each master slot served by its own Dovecot
// instance through the agents' hooks (tools/hooks/dovecot_slot.sh, under
// slotfence), a front Dovecot proxy for IMAP and LMTP, and slotroute telling
// the proxy where each user's master is. Clients (tests/e2e/mail_client.py)
// speak only to the front.
//
// Dovecot's processes run as the mail user, which cannot enter /root (where
// Bazel's TEST_TMPDIR lives): a cluster with mail needs a root that user can
// reach (MakeMailRoot).
//
// Use: MakeMailRoot, then Configure(options) before Cluster::Create, then
// MakeUsers and the stores, then Start. The destructor stops the front, slotroute
// and every slot instance the hooks left running (by the PIDs in their
// instance directories, checked against their command lines). Not
// thread-safe.
#ifndef SLOTKEEPER_TESTS_E2E_MAIL_FRONT_H_
#define SLOTKEEPER_TESTS_E2E_MAIL_FRONT_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "tests/e2e/cluster.h"
#include "tests/harness/process.h"

namespace slotkeeper::testing {

// OK when Dovecot is installed and this process is root (the hooks drop to
// the mail user); else why not.
absl::Status CanRunDovecot();

// A fresh directory under /tmp, open to the mail user (0755).
absl::StatusOr<std::string> MakeMailRoot(const std::string& name);

// The password every test user has.
inline constexpr char kMailPassword[] = "secret";

class MailFront {
 public:
  // Sets every host's hooks to the Dovecot hooks (instances in
  // ROOT/HOST/dovecot), replicas and generated mail owned by the mail user,
  // and writes the users' passwd-file (ROOT/mail/users.passwd).
  static absl::Status Configure(ClusterOptions& options, const std::vector<std::string>& users);

  // Creates `users` of `store` as empty Maildirs in host/slot, owned by the
  // mail user, and the slot's store marker: what the agent's slot scan
  // indexes before `slotctl store create`.
  static absl::Status MakeUsers(Cluster& cluster, const std::string& host, const std::string& slot,
                                const std::string& store, const std::vector<std::string>& users);

  // Starts slotroute (viewer's certificate) and the front proxy on free
  // loopback ports; waits until both ports accept connections.
  static absl::StatusOr<std::unique_ptr<MailFront>> Start(Cluster& cluster,
                                                          const std::string& root);
  ~MailFront();

  int imap_port() const { return imap_port_; }
  int lmtp_port() const { return lmtp_port_; }
  Process& slotroute() { return slotroute_; }

  // mail_client.py COMMAND with the front's ports and `args`.
  std::vector<std::string> ClientArgv(const std::string& command,
                                      const std::vector<std::string>& args) const;
  // Runs it to completion; its output in *out.
  absl::StatusOr<int> RunClient(const std::string& command, const std::vector<std::string>& args,
                                std::string* out, absl::Duration timeout = absl::Minutes(3));

  // Whether host/slot's Dovecot instance runs (its master's PID is alive).
  bool InstanceRunning(const std::string& host, const std::string& slot) const;
  // Its log (what the hooks and Dovecot wrote), for diagnosis.
  std::string InstanceLog(const std::string& host, const std::string& slot) const;

 private:
  explicit MailFront(std::string root) : root_(std::move(root)) {}
  absl::Status StartFront();
  void StopInstances();

  const std::string root_;
  std::vector<std::string> hosts_;
  int imap_port_ = 0;
  int lmtp_port_ = 0;
  Process slotroute_;
  Process front_;
};

}  // namespace slotkeeper::testing

#endif  // SLOTKEEPER_TESTS_E2E_MAIL_FRONT_H_
